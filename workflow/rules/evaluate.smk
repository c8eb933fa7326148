# Generate on every test set of a model (one job per model), then score the generations.


localrules:
    plan_evaluation,


rule plan_evaluation:
    output:
        "results/plans/{model}.json",
    log:
        "results/logs/plan_evaluation/{model}.log",
    benchmark:
        "results/benchmarks/plan_evaluation/{model}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=100,
        runtime=lambda wc, attempt: 1 * attempt,
    params:
        plan=lambda wc: json.dumps(GRID.eval_plan(wc.model), indent=1),
    shell:
        "printf '%s\\n' {params.plan:q} > {output:q} 2> {log:q}"


rule generate_model:
    input:
        unpack(generate_inputs),
    output:
        directory("results/generations/{model}"),
    log:
        "results/logs/generate_model/{model}.log",
    benchmark:
        "results/benchmarks/generate_model/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: GEN["threads"]
    resources:
        mem_mb=GEN["mem_mb"],
        runtime=lambda wc, attempt: GEN["runtime_min"] * attempt,
        gpu=GEN["gpus"],
    params:
        staging="results/staging/generations/{model}",
        settings=job_settings("generate_model", "model"),
    shell:
        "xllm generate --model {input.model:q} --plan {input.plan:q} --out-dir {output:q} "
        "--staging {params.staging:q} --settings {params.settings:q} > {log:q} 2>&1"


rule score_model:
    input:
        unpack(score_inputs),
    output:
        scores="results/scores/{model}.csv",
        segments="results/scores/{model}.segments.npz",
    log:
        "results/logs/score_model/{model}.log",
    benchmark:
        "results/benchmarks/score_model/{model}.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=EVAL["mem_mb"],
        runtime=lambda wc, attempt: EVAL["runtime_min"] * attempt,
        gpu=EVAL["gpus"],
    params:
        settings=job_settings("score_model", "model"),
    shell:
        "xllm score-generations --generations-dir {input.generations:q} --plan {input.plan:q} "
        "--model {wildcards.model} --settings {params.settings:q} --out {output.scores:q} > {log:q} 2>&1"


# results/scores/judge/{model}.csv would also match score_model's results/scores/{model}.csv
ruleorder: judge_model > score_model


rule judge_model:
    input:
        generations="results/generations/{model}",
        plan="results/plans/{model}.json",
        testsets=lambda wc: GRID.judge_files(wc.model),
    output:
        scores="results/scores/judge/{model}.csv",
        segments="results/scores/judge/{model}.segments.npz",
    log:
        "results/logs/judge_model/{model}.log",
    benchmark:
        "results/benchmarks/judge_model/{model}.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: EVAL["runtime_min"] * attempt,
    params:
        settings=job_settings("judge_model", "model"),
        judge=judge_args(),
        cache="results/judge-cache/{model}.jsonl",
    shell:
        "xllm judge-qa --generations-dir {input.generations:q} --plan {input.plan:q} "
        "--model {wildcards.model} {params.judge} --cache {params.cache:q} --bootstrap 0 "
        "--out {output.scores:q} > {log:q} 2>&1"


rule gather_scores:
    input:
        scores=score_files(GRID.all_models()) + judge_score_files(),
        segments=segment_files(GRID.all_models()) + judge_segment_files(),
    output:
        "results/scores.csv",
    log:
        "results/logs/gather_scores.log",
    benchmark:
        "results/benchmarks/gather_scores.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        bootstrap=EVAL["bootstrap"],
        seed=config["seed"],
    shell:
        "xllm gather-scores --inputs {input.scores:q} --bootstrap {params.bootstrap} --seed {params.seed} "
        "--out {output:q} > {log:q} 2>&1"


rule judge_mieval:
    input:
        unpack(mieval_inputs),
    output:
        "results/mieval/{lang}.json",
    log:
        "results/logs/judge_mieval/{lang}.log",
    benchmark:
        "results/benchmarks/judge_mieval/{lang}.tsv"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: EVAL["runtime_min"] * attempt,
    params:
        settings=job_settings("judge_mieval", "lang"),
        judge=judge_args(limit=0),
        cache="results/judge-cache/mieval/{lang}.jsonl",
    shell:
        "xllm judge-pairwise --a {input.x:q} --b {input.m:q} --task mieval --direction {wildcards.lang} "
        "--questions {input.questions:q} {params.judge} --cache {params.cache:q} --out {output:q} > {log:q} 2>&1"
