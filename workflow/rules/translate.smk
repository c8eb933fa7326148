# Alpaca-X: Alpaca translated into each language, in shards (one job each) merged in order.


rule translate_alpaca:
    input:
        unpack(translate_inputs),
    output:
        "results/alpaca/shards/{lang}/{shard}.json",
    log:
        "results/logs/translate_alpaca/{lang}-{shard}.log",
    benchmark:
        "results/benchmarks/translate_alpaca/{lang}-{shard}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=TRANSLATE["mem_mb"],
        runtime=lambda wc, attempt: TRANSLATE["runtime_min"] * attempt,
        gpu=TRANSLATE["gpus"],
    params:
        backend=TRANSLATE["backend"],
        shards=TRANSLATE["shards"],
        options=translate_options,
        settings=job_settings("translate_alpaca", "lang"),
    shell:
        "xllm translate-alpaca --input {input.alpaca:q} --lang {wildcards.lang} "
        "--shard {wildcards.shard} --num-shards {params.shards} --backend {params.backend} "
        "{params.options} --out {output:q} > {log:q} 2>&1"


rule merge_alpaca:
    input:
        source="results/alpaca/en.json",
        shards=lambda wc: expand(
            "results/alpaca/shards/{lang}/{shard}.json",
            lang=wc.lang,
            shard=range(TRANSLATE["shards"]),
        ),
    output:
        data="results/alpaca/translated/{lang}.json",
        qc="results/alpaca/translated/{lang}.qc.json",
    log:
        "results/logs/merge_alpaca/{lang}.log",
    benchmark:
        "results/benchmarks/merge_alpaca/{lang}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 10 * attempt,
    shell:
        "xllm merge-alpaca --shards {input.shards:q} --source {input.source:q} --lang {wildcards.lang} "
        "--out {output.data:q} "
        "--qc {output.qc:q} > {log:q} 2>&1"
