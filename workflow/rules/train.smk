# Full-parameter instruction tuning of the base model on one mixture (accelerate + FSDP on GPUs,
# one plain process on CPU). The mixture is tokenized once by a CPU job, and every training
# process maps the tokens. Checkpoints live outside the output, so a killed job resumes.


rule tokenize_mixture:
    input:
        data="results/mixtures/{model}/train.jsonl",
        base=train_base,
    output:
        directory("results/tokens/{model}"),
    log:
        "results/logs/tokenize_mixture/{model}.log",
    benchmark:
        "results/benchmarks/tokenize_mixture/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    resources:
        mem_mb=4000,
        runtime=lambda wc, attempt: 120 * attempt,
    params:
        settings=job_settings("tokenize_mixture", "model"),
    shell:
        "xllm tokenize --base {input.base:q} --data {input.data:q} --out {output:q} "
        "--settings {params.settings:q} > {log:q} 2>&1"


rule train_model:
    input:
        data="results/tokens/{model}",
        base=train_base,
    output:
        directory("results/models/{model}"),
    log:
        "results/logs/train_model/{model}.log",
    benchmark:
        "results/benchmarks/train_model/{model}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: TRAIN["cpus_per_task"]
    resources:
        **train_gpu_resources(),
        mem_mb=TRAIN["mem_mb"],
        runtime=lambda wc, attempt: TRAIN["runtime_min"] * attempt,
        nodes=TRAIN["nodes"],
        cpus_per_task=TRAIN["cpus_per_task"],
    params:
        settings=job_settings("train_model", "model"),
        checkpoints="results/checkpoints/{model}",
        metrics="results/logs/train_model/{model}.metrics.jsonl",
    shell:
        # nodes, GPUs, the accelerate config and checkpointing: $XLLM_TRAIN_LAUNCH (common.smk)
        "xllm launch-train -- --base {input.base:q} --data {input.data:q} --out {output:q} "
        "--settings {params.settings:q} --checkpoint-dir {params.checkpoints:q} "
        "--metrics-file {params.metrics:q} > {log:q} 2>&1"
