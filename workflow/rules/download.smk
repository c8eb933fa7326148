# Downloads run on the submit host (cluster compute nodes often have no internet): localrules.


localrules:
    download_file,
    download_hf_model,


rule download_file:
    input:
        download_input,
    output:
        "results/downloads/{file}",
    log:
        "results/logs/download_file/{file}.log",
    benchmark:
        "results/benchmarks/download_file/{file}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=lambda wc, attempt: 120 * attempt,
    params:
        settings=job_settings("download_file", "file"),
        sources=config["data"]["sources"],
        lock=config["data"]["lock"],
        mirror=f"--mirror {MIRROR}" if MIRROR else "",
    shell:
        "xllm download --file {wildcards.file:q} --sources {params.sources:q} --lock {params.lock:q} "
        "--out {output:q} {params.mirror} > {log:q} 2>&1"


rule download_hf_model:
    output:
        directory("results/hub/{repo}"),
    log:
        "results/logs/download_hf_model/{repo}.log",
    benchmark:
        "results/benchmarks/download_hf_model/{repo}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=lambda wc, attempt: 240 * attempt,
    shell:
        "xllm fetch-model --repo {wildcards.repo:q} --out {output:q} > {log:q} 2>&1"
