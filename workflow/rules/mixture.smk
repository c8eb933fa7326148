# One training mixture per model id (recipe x language x scale | budget), recipes as data.


rule build_mixture:
    input:
        mixture_inputs,
    output:
        data="results/mixtures/{model}/train.jsonl",
        manifest="results/mixtures/{model}/manifest.json",
    log:
        "results/logs/build_mixture/{model}.log",
    benchmark:
        "results/benchmarks/build_mixture/{model}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        args=mixture_args,
        settings=job_settings("build_mixture", "model"),
        recipes=MIX["recipes"],
        seed=config["seed"],
    shell:
        "xllm build-mixture --model {wildcards.model} --recipes {params.recipes:q} {params.args} "
        "--seed {params.seed} --out {output.data:q} "
        "--manifest {output.manifest:q} > {log:q} 2>&1"


use rule subset_corpus as subset_monolingual with:
    input:
        monolingual_source,
    output:
        "results/monolingual/{lang}/scale-{scale}.jsonl",
    log:
        "results/logs/subset_monolingual/{lang}-{scale}.log",
    benchmark:
        "results/benchmarks/subset_monolingual/{lang}-{scale}.tsv"
    params:
        command="subset-text",
        verify=monolingual_verify,
