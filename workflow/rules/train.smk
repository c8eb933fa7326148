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
    threads: TRAIN.get("cpus_per_task", 1)
    resources:
        **train_gpu_resources(),
        mem_mb=TRAIN["mem_mb"],
        runtime=lambda wc, attempt: TRAIN["runtime_min"] * attempt,
        nodes=TRAIN["nodes"],
        cpus_per_task=TRAIN.get("cpus_per_task", 1),
    params:
        launcher=train_launcher(),
        checkpoints="results/checkpoints/{model}",
        metrics="results/logs/train_model/{model}.metrics.jsonl",
        hp=train_hyperparameters(),
        seed=config["seed"],
    shell:
        "{params.launcher} --base {input.base:q} --data {input.data:q} --out {output:q} "
        "--checkpoint-dir {params.checkpoints:q} --metrics-file {params.metrics:q} "
        "--seed {params.seed} --threads {threads} {params.hp} > {log:q} 2>&1"
