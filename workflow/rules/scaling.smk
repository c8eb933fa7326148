# Language similarity, scaling-law fits per language, budget allocation and the alignment analysis.


rule measure_similarity:
    input:
        base=BASE_MODEL,
        en="results/testsets/flores/dev/en.txt",
        x="results/testsets/flores/dev/{lang}.txt",
    output:
        "results/similarity/{lang}.json",
    log:
        "results/logs/measure_similarity/{lang}.log",
    benchmark:
        "results/benchmarks/measure_similarity/{lang}.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=GEN["mem_mb"],
        runtime=lambda wc, attempt: 60 * attempt,
        gpu=GEN["gpus"],
    params:
        gamma=lambda wc: (
            f"--gamma {SCALING['gamma'][wc.lang]}"
            if wc.lang in SCALING["gamma"]
            else ""
        ),
    shell:
        "xllm similarity --base {input.base:q} --en {input.en:q} --x {input.x:q} "
        "--lang {wildcards.lang} {params.gamma} --out {output:q} > {log:q} 2>&1"


rule fit_scaling_law:
    input:
        scores=scaling_points,
        segments=scaling_segments,
        similarity="results/similarity/{lang}.json",
    output:
        "results/scaling/{lang}.json",
    log:
        "results/logs/fit_scaling_law/{lang}.log",
    benchmark:
        "results/benchmarks/fit_scaling_law/{lang}.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        task=SCALING["task"],
        metric=SCALING["metric"],
        direction=SCALING["direction"],
        bootstrap=SCALING["bootstrap"],
        seed=config["seed"],
    shell:
        "xllm fit-scores --scores {input.scores:q} --segments {input.segments:q} --lang {wildcards.lang} --task {params.task} "
        "--metric {params.metric} --direction {params.direction} --similarity {input.similarity:q} "
        "--bootstrap {params.bootstrap} --seed {params.seed} --out {output:q} > {log:q} 2>&1"


rule allocate_budget:
    input:
        fits=expand("results/scaling/{lang}.json", lang=LANGS),
        # caps: min(max_pairs, pairs left after cleaning)
        manifests=CORPUS_MANIFESTS,
    output:
        "results/allocation/{budget}.json",
    log:
        "results/logs/allocate_budget/{budget}.log",
    benchmark:
        "results/benchmarks/allocate_budget/{budget}.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=500,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        budget=lambda wc: BUDGETS[wc.budget],
        max_pairs=max_pairs_arg(),
        objective=SCALING["allocation_objective"],
    shell:
        "xllm allocate-fits --fits {input.fits:q} --max-pairs {params.max_pairs} "
        "--corpus-manifests {input.manifests:q} --budget {params.budget} "
        "--objective {params.objective} --out {output:q} > {log:q} 2>&1"


rule split_budget_uniform:
    input:
        manifests=CORPUS_MANIFESTS,
    output:
        "results/allocation/{budget}/uniform.json",
    log:
        "results/logs/split_budget_uniform/{budget}.log",
    benchmark:
        "results/benchmarks/split_budget_uniform/{budget}.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=500,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        budget=lambda wc: BUDGETS[wc.budget],
        max_pairs=max_pairs_arg(),
    shell:
        "xllm split-uniform --max-pairs {params.max_pairs} --corpus-manifests {input.manifests:q} "
        "--budget {params.budget} "
        "--out {output:q} > {log:q} 2>&1"


rule tabulate_allocation:
    input:
        allocations=expand("results/allocation/{budget}.json", budget=BUDGETS),
        scores="results/scores.csv",
        generations=[f"results/generations/{m}" for m in GRID.budget_models()],
    output:
        report(
            "results/tables/allocation.md",
            caption="../report/allocation_table.rst",
            category="Allocation",
        ),
    log:
        "results/logs/tabulate_allocation.log",
    benchmark:
        "results/benchmarks/tabulate_allocation.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        metrics=",".join(SCALING["table_metrics"]),
        paper=PAPER_TABLES,
    shell:
        "xllm allocation-table --allocations {input.allocations:q} --scores {input.scores:q} "
        "--generations-root results/generations --metrics {params.metrics} "
        "--paper-tables {params.paper:q} --out {output:q} > {log:q} 2>&1"


rule analyze_alignment:
    input:
        unpack(alignment_inputs),
    output:
        "results/analysis/alignment.json",
    log:
        "results/logs/analyze_alignment.log",
    benchmark:
        "results/benchmarks/analyze_alignment.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=GEN["mem_mb"],
        runtime=lambda wc, attempt: 60 * attempt,
        gpu=GEN["gpus"],
    params:
        models=alignment_args,
    shell:
        "xllm alignment {params.models} --out {output:q} > {log:q} 2>&1"
