# The embedded demo: synthetic corpora in the real formats (served as a mirror to the download
# rules) and a tiny byte-level Llama pre-trained briefly on the English side.

if DEMO:
    DEMO_PRETRAIN_THREADS = 2
    # The downloaded corpora the demo tokenizer and the English pre-training text come from.
    DEMO_CORPORA = [
        f"results/downloads/{f}"
        for f, s in SOURCES.items()
        if s.corpus in ("wikimatrix", "alpaca")
    ]

    rule make_demo_data:
        output:
            files=[os.path.join(MIRROR, f) for f in SOURCES],
            specs=expand(
                "results/demo/languages/{lang}.json", lang=list(DEMO["languages"])
            ),
        log:
            "results/logs/make_demo_data.log",
        benchmark:
            "results/benchmarks/make_demo_data.tsv"
        conda:
            "../../envs/data.yaml"
        resources:
            mem_mb=1000,
            runtime=lambda wc, attempt: 10 * attempt,
        params:
            spec=settings_json(DEMO),  # sorted keys: reordering the YAML reruns nothing
            seed=config["seed"],
            mirror=lambda wc, output: os.path.dirname(output.files[0]),
        shell:
            "xllm demo-data --spec {params.spec:q} --seed {params.seed} "
            "--out-dir {params.mirror:q} --spec-dir results/demo/languages > {log:q} 2>&1"

    rule make_demo_base:
        input:
            DEMO_CORPORA,
        output:
            directory("results/demo/base-init"),
        log:
            "results/logs/make_demo_base.log",
        benchmark:
            "results/benchmarks/make_demo_base.tsv"
        conda:
            "../../envs/train.yaml"
        resources:
            mem_mb=2000,
            runtime=lambda wc, attempt: 10 * attempt,
        params:
            model=dict(sorted(DEMO["model"].items())),
            seed=config["seed"],
            prompts=demo_prompt_args(),
        shell:
            "xllm demo-base --out {output:q} --hidden-size {params.model[hidden_size]} "
            "--layers {params.model[layers]} --heads {params.model[heads]} "
            "--max-length {params.model[max_length]} --seed {params.seed} "
            "--vocab-size {params.model[vocab_size]} {params.prompts} --texts {input:q} > {log:q} 2>&1"

    rule make_demo_english:
        input:
            DEMO_CORPORA,
        output:
            "results/demo/english.jsonl",
        log:
            "results/logs/make_demo_english.log",
        benchmark:
            "results/benchmarks/make_demo_english.tsv"
        conda:
            "../../envs/data.yaml"
        resources:
            mem_mb=1000,
            runtime=lambda wc, attempt: 10 * attempt,
        shell:
            "xllm demo-english --inputs {input:q} --out {output:q} > {log:q} 2>&1"

    rule pretrain_demo_base:
        input:
            base="results/demo/base-init",
            data="results/demo/english.jsonl",
            # held-out English (the demo's dev set as generated, so no later stage is an input)
            probe=os.path.join(MIRROR, "flores101.dev.en.txt"),
        output:
            directory("results/demo/base-model"),
        log:
            "results/logs/pretrain_demo_base.log",
        benchmark:
            "results/benchmarks/pretrain_demo_base.tsv"
        conda:
            "../../envs/train.yaml"
        threads: DEMO_PRETRAIN_THREADS  # the only job running then: both cores
        resources:
            mem_mb=3000,
            runtime=lambda wc, attempt: 30 * attempt,
        params:
            train=dict(sorted(DEMO["pretrain"].items())),
            seed=config["seed"],
            max_len=config["train"]["max_seq_length"],
            # fixed, not {threads}: Snakemake lowers that to --cores, and CPU results depend on it
            threads=DEMO_PRETRAIN_THREADS,
        shell:
            "xllm demo-pretrain --base {input.base:q} --data {input.data:q} --probe {input.probe:q} "
            "--out {output:q} --work-dir results/checkpoints/demo-base --epochs {params.train[epochs]} "
            "--round-epochs {params.train[round_epochs]} --max-rounds {params.train[max_rounds]} "
            "--threshold {params.train[copy_nll]} --learning-rate {params.train[learning_rate]} "
            "--batch-size {params.train[batch_size]} --max-seq-length {params.max_len} "
            "--seed {params.seed} --threads {params.threads} > {log:q} 2>&1"
