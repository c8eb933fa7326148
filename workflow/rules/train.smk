# Full-parameter instruction tuning of the base model on one mixture (accelerate + FSDP on GPUs,
# one plain process on CPU). Checkpoints live outside the output, so a killed job resumes.


rule train_model:
    input:
        data="results/mixtures/{model}/train.jsonl",
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
