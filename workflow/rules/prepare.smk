# Clean and subsample parallel corpora, normalize Alpaca and the test sets.


rule prepare_corpus:
    input:
        corpus=corpus_inputs,
        flores=contamination_files,
    output:
        corpus="results/corpora/{lang}/clean.parquet",
        manifest="results/corpora/{lang}/manifest.json",
    log:
        "results/logs/prepare_corpus/{lang}.log",
    benchmark:
        "results/benchmarks/prepare_corpus/{lang}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=lambda wc, attempt: 120 * attempt,
    params:
        settings=job_settings("prepare_corpus", "lang"),
        sources=config["data"]["sources"],
        lock=config["data"]["lock"],
        margin=config["data"]["wikimatrix_min_margin"],
        max_chars=config["data"]["max_chars"],
        max_ratio=config["data"]["max_length_ratio"],
        corpus=corpus_args,
    shell:
        "xllm prepare-corpus --lang {wildcards.lang} {params.corpus} "
        "--sources {params.sources:q} --lock {params.lock:q} --flores-exclude {input.flores:q} "
        "--min-margin {params.margin} --max-chars {params.max_chars} --max-ratio {params.max_ratio} "
        "--out {output.corpus:q} --manifest {output.manifest:q} > {log:q} 2>&1"


rule subset_corpus:
    input:
        "results/corpora/{lang}/clean.parquet",
    output:
        "results/corpora/{lang}/scale-{scale}.jsonl",
    log:
        "results/logs/subset_corpus/{lang}-{scale}.log",
    benchmark:
        "results/benchmarks/subset_corpus/{lang}-{scale}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=lambda wc, attempt: 30 * attempt,
    params:
        command="subset-corpus",  # subset_monolingual: subset-text
        seed=config["seed"],
        verify="",  # subset_monolingual: the downloaded text's checksum check
    shell:
        "xllm {params.command} --input {input:q} --scale {wildcards.scale} "
        "--seed {params.seed} {params.verify} --out {output:q} > {log:q} 2>&1"


rule corpus_stats:
    input:
        expand("results/corpora/{lang}/manifest.json", lang=LANGS),
    output:
        report(
            "results/tables/corpus_stats.md",
            caption="../report/corpus_stats.rst",
            category="Data",
        ),
    log:
        "results/logs/corpus_stats.log",
    benchmark:
        "results/benchmarks/corpus_stats.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=lambda wc, attempt: 5 * attempt,
    params:
        paper=PAPER_TABLES,
        names=LANG_NAME_ARGS,
    shell:
        "xllm corpus-stats --manifests {input:q} --paper-tables {params.paper:q} {params.names} "
        "--out {output:q} > {log:q} 2>&1"


rule prepare_alpaca:
    input:
        source_files("alpaca"),
    output:
        "results/alpaca/en.json",
    log:
        "results/logs/prepare_alpaca.log",
    benchmark:
        "results/benchmarks/prepare_alpaca.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        sources=config["data"]["sources"],
        lock=config["data"]["lock"],
    shell:
        "xllm prepare-alpaca --input {input:q} --sources {params.sources:q} --lock {params.lock:q} "
        "--out {output:q} > {log:q} 2>&1"


rule prepare_flores:
    input:
        lambda wc: source_files("flores", wc.lang, wc.split),
    output:
        "results/testsets/flores/{split}/{lang}.txt",
    log:
        "results/logs/prepare_flores/{split}-{lang}.log",
    benchmark:
        "results/benchmarks/prepare_flores/{split}-{lang}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        task=lambda wc: f"--task flores --lang {wc.lang} --split {wc.split}",
        sources=config["data"]["sources"],
        lock=config["data"]["lock"],
    shell:
        "xllm prepare-testset {params.task} --input {input:q} --sources {params.sources:q} "
        "--lock {params.lock:q} --out {output:q} > {log:q} 2>&1"


use rule prepare_flores as prepare_xquad with:
    input:
        lambda wc: source_files("xquad", wc.lang),
    output:
        "results/testsets/xquad/{lang}.json",
    log:
        "results/logs/prepare_xquad/{lang}.log",
    benchmark:
        "results/benchmarks/prepare_xquad/{lang}.tsv"
    params:
        task=lambda wc: f"--task xquad --lang {wc.lang}",


use rule prepare_flores as prepare_mlqa with:
    input:
        source_files("mlqa", required=False),
    output:
        "results/testsets/mlqa/{setting}.json",
    log:
        "results/logs/prepare_mlqa/{setting}.log",
    benchmark:
        "results/benchmarks/prepare_mlqa/{setting}.tsv"
    resources:
        mem_mb=1000,
        runtime=lambda wc, attempt: 10 * attempt,
    params:
        task=lambda wc: f"--task mlqa --setting {wc.setting} --split {EVAL['mlqa_split']}",


rule prepare_mieval:
    input:
        mieval_source,
    output:
        "results/testsets/mieval/{lang}.jsonl",
    log:
        "results/logs/prepare_mieval/{lang}.log",
    benchmark:
        "results/benchmarks/prepare_mieval/{lang}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=500,
        runtime=lambda wc, attempt: 5 * attempt,
    shell:
        "xllm prepare-mieval --input {input:q} --out {output:q} > {log:q} 2>&1"
