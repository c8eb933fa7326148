# Tables and plots of results/report.html (snakemake --report; captions in workflow/report/).


rule plot_scaling_laws:
    input:
        expand("results/scaling/{lang}.json", lang=LANGS),
    output:
        report(
            "results/plots/scaling_laws.png",
            caption="../report/scaling_laws.rst",
            category="Scaling laws",
        ),
    log:
        "results/logs/plot_scaling_laws.log",
    benchmark:
        "results/benchmarks/plot_scaling_laws.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        **LANGUAGE_PARAMS,
    shell:
        "xllm plot-scaling --fits {input:q} --langs {params.langs} {params.names} --out {output:q} > {log:q} 2>&1"


rule plot_x_vs_m:
    input:
        "results/scores.csv",
    output:
        report(
            "results/plots/x_vs_m.png",
            caption="../report/x_vs_m.rst",
            category="x- vs m-models",
        ),
    log:
        "results/logs/plot_x_vs_m.log",
    benchmark:
        "results/benchmarks/plot_x_vs_m.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        **LANGUAGE_PARAMS,
        task=",".join(["flores"] + (["xquad"] if "xquad" in TASKS else [])),
        metric=",".join([SCALING["metric"]] + (["f1"] if "xquad" in TASKS else [])),
    shell:
        "xllm plot-x-vs-m --scores {input:q} --task {params.task} --metric {params.metric} "
        "--langs {params.langs} {params.names} --out {output:q} > {log:q} 2>&1"


rule plot_allocation:
    input:
        allocations=expand("results/allocation/{budget}.json", budget=BUDGETS),
        scores="results/scores.csv",
    output:
        report(
            "results/plots/allocation.png",
            caption="../report/allocation.rst",
            category="Allocation",
        ),
    log:
        "results/logs/plot_allocation.log",
    benchmark:
        "results/benchmarks/plot_allocation.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        **LANGUAGE_PARAMS,
    shell:
        "xllm plot-allocation --allocations {input.allocations:q} --scores {input.scores:q} "
        "--langs {params.langs} {params.names} --out {output:q} > {log:q} 2>&1"


rule plot_alignment:
    input:
        "results/analysis/alignment.json",
    output:
        report(
            "results/plots/alignment.png",
            caption="../report/alignment.rst",
            category="Alignment",
        ),
    log:
        "results/logs/plot_alignment.log",
    benchmark:
        "results/benchmarks/plot_alignment.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        **LANGUAGE_PARAMS,
    shell:
        "xllm plot-alignment --alignment {input:q} --langs {params.langs} {params.names} --out {output:q} > {log:q} 2>&1"


rule summarize_scores:
    input:
        scores="results/scores.csv",
        fits=expand("results/scaling/{lang}.json", lang=LANGS),
    output:
        report(
            "results/tables/scores_summary.md",
            caption="../report/scores_summary.rst",
            category="Scores",
        ),
    log:
        "results/logs/summarize_scores.log",
    benchmark:
        "results/benchmarks/summarize_scores.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        **LANGUAGE_PARAMS,
        paper=PAPER_TABLES,
        judge="on" if JUDGE else "off",
    shell:
        "xllm scores-summary --scores {input.scores:q} --fits {input.fits:q} --paper-tables {params.paper:q} "
        "--judge {params.judge} --langs {params.langs} {params.names} --out {output:q} > {log:q} 2>&1"


rule plot_ablation:
    input:
        "results/scores.csv",
    output:
        report(
            "results/plots/ablation.png",
            caption="../report/ablation.rst",
            category="Ablation",
        ),
    log:
        "results/logs/plot_ablation.log",
    benchmark:
        "results/benchmarks/plot_ablation.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        names=LANG_NAME_ARGS,
        lang=MIX["ablation_lang"],
        models=" ".join(ablation_figure_models()),
        paper=PAPER_TABLES,
    shell:
        "xllm plot-ablation --scores {input:q} --lang {params.lang} --models {params.models} --task xquad "
        "--metric judge --paper-tables {params.paper:q} {params.names} --out {output:q} > {log:q} 2>&1"


rule plot_cpt:
    input:
        "results/scores.csv",
    output:
        report(
            "results/plots/cpt_vs_coit.png",
            caption="../report/cpt_vs_coit.rst",
            category="Scaling laws",
        ),
    log:
        "results/logs/plot_cpt.log",
    benchmark:
        "results/benchmarks/plot_cpt.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        names=LANG_NAME_ARGS,
        langs=",".join(LANGS),
        metric=SCALING["metric"],
        direction=SCALING["direction"],
    shell:
        "xllm plot-cpt --scores {input:q} --metric {params.metric} --direction {params.direction} "
        "--langs {params.langs} {params.names} --out {output:q} > {log:q} 2>&1"


rule plot_mieval:
    input:
        expand("results/mieval/{lang}.json", lang=MIEVAL_LANGS),
    output:
        report(
            "results/plots/mieval.png",
            caption="../report/mieval.rst",
            category="x- vs m-models",
        ),
    log:
        "results/logs/plot_mieval.log",
    benchmark:
        "results/benchmarks/plot_mieval.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        names=LANG_NAME_ARGS,
    shell:
        "xllm plot-mieval --results {input:q} {params.names} --out {output:q} > {log:q} 2>&1"


rule estimate_cost:
    input:
        # every job has run (their benchmark files are read beside their estimates)
        "results/scores.csv",
    output:
        table=report(
            "results/tables/cost.md",
            caption="../report/cost.rst",
            category="Cost",
        ),
        json="results/cost.json",
    log:
        "results/logs/estimate_cost.log",
    benchmark:
        "results/benchmarks/estimate_cost.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        config=CONFIG_FILE,
    shell:
        "xllm estimate --config {params.config:q} --summary --benchmarks results/benchmarks "
        "--table {output.table:q} --out {output.json:q} > {log:q} 2>&1"
