"""Config check, wildcard constraints, model ids and the input functions every rule uses."""

import json
import os
import re
import shlex
import subprocess
import sys

from snakemake.utils import validate

from xllm import config as xllm_config
from xllm import languages as xllm_languages
from xllm.data.sources import load_sources
from xllm.errors import UserError
from xllm.prompts import TRANSLATION_INSTRUCTION, translation_instruction
from xllm.mixture.recipes import load_recipes, parse_model_id
from xllm.provenance import config_hash

# Rules call the `xllm` of the Python that runs Snakemake (e.g. .venv/bin), activated or not.
os.environ["PATH"] = os.pathsep.join(
    [os.path.dirname(sys.executable), os.environ.get("PATH", "")]
)

SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
try:
    xllm_config.check(config, SCHEMA)
    SOURCES = load_sources(config["data"]["sources"])
except UserError as err:
    sys.exit(f"error: {err}")
validate(config, SCHEMA)

CONFIG_HASH = config_hash(config)
PRELOAD = "export XLLM_PRELOAD=1; " if config.get("preload_imports") else ""
shell.prefix(
    f"set -euo pipefail; export XLLM_CONFIG_HASH={CONFIG_HASH}; {PRELOAD}"
)  # the hash is stamped into provenance; XLLM_PRELOAD: see xllm.preload
LANGS = list(config["languages"])
LANG_TABLE = xllm_languages.registry(config.get("custom_languages"))
LANG_NAMES = {code: LANG_TABLE[code].name for code in ["en"] + LANGS}
LANG_NAME_ARGS = " ".join(f"--lang-name '{k}={v}'" for k, v in LANG_NAMES.items())
SCALES = [str(s) for s in config["scales"]]
BUDGETS = dict(config["budgets"])
ALLOCS = list(config.get("allocations", ["uniform", "optimized"]))
MIX = config["mixture"]
RECIPES = load_recipes(MIX["recipes"])
DEMO = config.get("demo") or None
EVAL = config["eval"]
TRANSLATE = config["translate"]
TRAIN = config["train"]
GEN = config["generate"]
SCALING = config["scaling"]
TASKS = list(EVAL["tasks"])
MIRROR = config["data"].get("mirror")
HUB_DIR = "results/hub"
PAPER_TABLES = "workflow/paper_tables.yaml"
REPORT = "results/report.html"


wildcard_constraints:
    lang="[a-z]{2,8}",
    scale="[0-9]+|full",
    budget="[A-Za-z0-9.]+",
    alloc="uniform|optimized",
    split="dev|devtest",
    shard="[0-9]+",
    file="|".join(re.escape(f) for f in SOURCES),
    model="[a-z0-9-]+(/[A-Za-z0-9.-]+)*",
    repo="[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+",


# ---------------------------------------------------------------- models


def x_models():
    return [
        f"{recipe}/{lang}/{scale}"
        for recipe in MIX.get("x_recipes", [])
        for lang in LANGS
        for scale in SCALES
    ]


def m_models():
    return [
        f"{recipe}/{config.get('muit_scale', 'full')}"
        for recipe in MIX.get("m_recipes", [])
    ]


def budget_models():
    return [f"muit-budget/{budget}/{alloc}" for budget in BUDGETS for alloc in ALLOCS]


def ablation_models():
    return [
        f"ablation/{MIX['ablation_lang']}/{recipe}"
        for recipe in MIX.get("ablations", [])
    ]


def all_models():
    return (
        list(MIX.get("baselines", []))
        + x_models()
        + m_models()
        + budget_models()
        + ablation_models()
    )


def model_langs(model):
    """The target languages a model is trained on and evaluated in."""
    meta = parse_model_id(model)
    return [meta.lang] if meta.lang else list(LANGS)


# ---------------------------------------------------------------- external models (hub ids)


def local_or_hub(name):
    """A config path that exists or is produced by a rule stays; a hub id maps to results/hub/."""
    if (
        name is None
        or os.path.exists(name)
        or name.startswith("results/")
        or "/" not in name
    ):
        return name
    return f"{HUB_DIR}/{name}"


BASE_MODEL = local_or_hub(config["base_model"])


# ---------------------------------------------------------------- data


def source_files(corpus, lang=None, split=None):
    files = [
        f
        for f, src in SOURCES.items()
        if src.corpus == corpus
        and (lang is None or lang in src.langs)
        and (split is None or src.extra.get("split") in (None, split))
    ]
    if not files:
        sys.exit(
            f"error: {config['data']['sources']}: no {corpus} file for language {lang!r}"
        )
    return [f"results/downloads/{f}" for f in files]


def corpus_inputs(wildcards):
    files = []
    for corpus in config["data"]["corpora"]:
        files += [f for f in source_files_or_none(corpus, wildcards.lang)]
    if not files:
        sys.exit(
            f"error: no parallel corpus for {wildcards.lang!r} in {config['data']['sources']}"
        )
    return files


def source_files_or_none(corpus, lang=None):
    return [
        f"results/downloads/{f}"
        for f, src in SOURCES.items()
        if src.corpus == corpus and (lang is None or lang in src.langs)
    ]


def contamination_files(wildcards):
    return [
        f"results/testsets/flores/{split}/{lang}.txt"
        for split in config["data"].get("contamination_splits", [])
        for lang in ("en", wildcards.lang)
    ]


def download_input(wildcards):
    return [os.path.join(MIRROR, wildcards.file)] if MIRROR else []


def alpaca_file(lang):
    return (
        "results/alpaca/en.json"
        if lang == "en"
        else f"results/alpaca/translated/{lang}.json"
    )


# ---------------------------------------------------------------- translation


def translate_inputs(wildcards):
    inputs = {"alpaca": "results/alpaca/en.json"}
    backend = TRANSLATE["backend"]
    if backend == "demo":
        inputs["spec"] = f"results/demo/languages/{wildcards.lang}.json"
    elif backend == "hf-seq2seq":
        inputs["model"] = local_or_hub(TRANSLATE["model"])
    elif backend == "import":
        inputs["imported"] = TRANSLATE["import_files"][wildcards.lang]
    return inputs


def translate_options(wildcards, input):
    opts = [
        f"--batch-size {TRANSLATE['batch_size']}",
        f"--beam-size {TRANSLATE['beam_size']}",
        f"--max-length {TRANSLATE['max_length']}",
    ]
    if "spec" in input.keys():
        opts.append(f"--spec {input.spec}")
    if "model" in input.keys():
        opts.append(f"--model {input.model}")
    if "imported" in input.keys():
        opts.append(f"--import-file {input.imported}")
    return " ".join(opts)


# ---------------------------------------------------------------- mixtures


def mixture_plan(model):
    """What build_mixture needs for a model: languages, Alpaca files, pair files, allocation."""
    meta = parse_model_id(model)
    recipe = RECIPES[meta.recipe]
    langs = model_langs(model)
    alpaca, pairs, mono, allocation = {}, {}, {}, None
    for part in recipe.parts:
        if part.kind == "monolingual":
            scale = meta.scale or "full"
            mono.update(
                {
                    lang: f"results/monolingual/{lang}/scale-{scale}.jsonl"
                    for lang in langs
                }
            )
        if part.kind == "alpaca":
            for lang in ["en"] if part.lang == "en" else langs:
                alpaca[lang] = alpaca_file(lang)
        elif part.kind == "translation":
            if meta.budget:
                allocation = f"results/allocation/{meta.budget}.json"
                pairs.update(
                    {lang: f"results/corpora/{lang}/scale-full.jsonl" for lang in langs}
                )
            else:
                scale = meta.scale or "full"
                pairs.update(
                    {
                        lang: f"results/corpora/{lang}/scale-{scale}.jsonl"
                        for lang in langs
                    }
                )
    return {
        "langs": langs,
        "alpaca": alpaca,
        "pairs": pairs,
        "monolingual": mono,
        "allocation": allocation,
        "alloc": meta.alloc,
    }


def mixture_inputs(wildcards):
    plan = mixture_plan(wildcards.model)
    files = [
        *plan["alpaca"].values(),
        *plan["pairs"].values(),
        *plan["monolingual"].values(),
    ]
    if plan["allocation"]:
        files.append(plan["allocation"])
    return files


def mixture_args(wildcards):
    plan = mixture_plan(wildcards.model)
    args = [f"--langs {','.join(plan['langs'])}"]
    args += [f"--alpaca {k}={v}" for k, v in plan["alpaca"].items()]
    args += [f"--pairs {k}={v}" for k, v in plan["pairs"].items()]
    args += [f"--monolingual {k}={v}" for k, v in plan["monolingual"].items()]
    args += [f"--lang-name '{k}={v}'" for k, v in LANG_NAMES.items()]
    args += [f"--template '{t}'" for t in MIX.get("translation_templates", [])]
    if plan["allocation"]:
        args.append(f"--allocation {plan['allocation']} --alloc {plan['alloc']}")
    return " ".join(args)


def demo_prompt_args():
    """Every translation instruction the mixtures will hold, for the demo tokenizer to learn."""
    templates = MIX.get("translation_templates") or [TRANSLATION_INSTRUCTION]
    texts = [
        translation_instruction(LANG_NAMES[src], LANG_NAMES[tgt], t)
        for t in templates
        for lang in LANGS
        for src, tgt in (("en", lang), (lang, "en"))
    ]
    return " ".join(f"--prompt-text {shlex.quote(t)}" for t in texts)


# ---------------------------------------------------------------- training


def train_base(wildcards):
    """The base model, or for a staged recipe (cpt) the model of its base recipe."""
    meta = parse_model_id(wildcards.model)
    base = RECIPES[meta.recipe].base
    if base:
        return f"results/models/{base}/{meta.lang}/{meta.scale}"
    return BASE_MODEL


def monolingual_source(wildcards):
    texts = MIX.get("monolingual", {})
    if wildcards.lang not in texts:
        sys.exit(
            f"error: mixture.monolingual: no text file for {wildcards.lang!r} (needed by cpt)"
        )
    return texts[wildcards.lang]


def train_gpu_resources():
    """GPUs per node as GRES (the Slurm plugin's gpu= counts GPUs per job); across nodes the batch
    step runs the launcher itself (mpi), whose srun starts one task per node."""
    gpus, nodes = TRAIN["gpus_per_node"], TRAIN["nodes"]
    resources = {"gres": f"gpu:{gpus}"} if gpus else {}
    if nodes > 1:
        resources.update(mpi="srun", tasks=nodes)
    return resources


def train_launcher():
    """Plain `xllm train` without GPUs (one process); accelerate (and srun across nodes) with."""
    if not TRAIN["gpus_per_node"]:
        return "xllm train"
    return (
        f"xllm launch-train --nodes {TRAIN['nodes']} --gpus-per-node {TRAIN['gpus_per_node']} "
        f"--accelerate-config {TRAIN['accelerate_config']} --"
    )


def train_hyperparameters():
    opts = [
        f"--epochs {TRAIN['epochs']}",
        f"--learning-rate {TRAIN['learning_rate']}",
        f"--global-batch-size {TRAIN['global_batch_size']}",
        f"--per-device-batch-size {TRAIN['per_device_batch_size']}",
        f"--lr-scheduler {TRAIN['lr_scheduler']}",
        f"--warmup-ratio {TRAIN['warmup_ratio']}",
        f"--weight-decay {TRAIN['weight_decay']}",
        f"--max-seq-length {TRAIN['max_seq_length']}",
        f"--precision {TRAIN['precision']}",
        f"--checkpoint-every {TRAIN['checkpoint_every']}",
    ]
    if TRAIN.get("packing"):
        opts.append("--packing")
    if TRAIN.get("gradient_checkpointing"):
        opts.append("--gradient-checkpointing")
    return " ".join(opts)


# ---------------------------------------------------------------- evaluation


def eval_plan(model):
    """Every (task, direction) a model is evaluated on, with its test files."""
    meta = parse_model_id(model)
    langs = model_langs(model)
    tasks = ["flores"] if meta.budget else TASKS
    split = EVAL.get("flores_split", "devtest")
    plan = []
    for lang in langs:
        if "flores" in tasks:
            for src, tgt in (("en", lang), (lang, "en")):
                plan.append(
                    {
                        "task": "flores",
                        "direction": f"{src}-{tgt}",
                        "src_lang": src,
                        "tgt_lang": tgt,
                        "lang": lang,
                        "source": f"results/testsets/flores/{split}/{src}.txt",
                        "reference": f"results/testsets/flores/{split}/{tgt}.txt",
                    }
                )
        if "xquad" in tasks:
            plan.append(
                {
                    "task": "xquad",
                    "direction": lang,
                    "lang": lang,
                    "testset": f"results/testsets/xquad/{lang}.json",
                }
            )
        if "mlqa" in tasks:
            for setting in EVAL.get("mlqa_settings", []):
                if setting.split("-")[1] == lang:
                    plan.append(
                        {
                            "task": "mlqa",
                            "direction": setting,
                            "lang": lang,
                            "testset": f"results/testsets/mlqa/{setting}.json",
                        }
                    )
    return plan


def eval_inputs(wildcards):
    files = set()
    for item in eval_plan(wildcards.model):
        files.update(item[k] for k in ("source", "reference", "testset") if k in item)
    return sorted(files)


def generate_inputs(wildcards):
    return {
        "model": f"results/models/{wildcards.model}",
        "plan": f"results/plans/{wildcards.model}.json",
        "data": eval_inputs(wildcards),
    }


def generate_options():
    opts = [
        f"--batch-size {GEN['batch_size']}",
        f"--max-new-tokens {GEN['max_new_tokens']}",
        f"--num-beams {GEN['num_beams']}",
    ]
    if GEN.get("do_sample"):
        opts.append("--do-sample")
    if GEN.get("limit"):
        opts.append(f"--limit {GEN['limit']}")
    opts += [f"--lang-name '{k}={v}'" for k, v in LANG_NAMES.items()]
    return " ".join(opts)


def score_inputs(wildcards):
    return {
        "generations": f"results/generations/{wildcards.model}",
        "plan": f"results/plans/{wildcards.model}.json",
        "metric_models": metric_model_inputs(),
    }


def score_options():
    opts = [
        f"--mt-metrics {','.join(EVAL['mt_metrics'])}",
        f"--qa-metrics {','.join(EVAL['qa_metrics'])}",
        f"--bootstrap {EVAL['bootstrap']}",
    ]
    for key, flag in (
        ("comet_model", "--comet-model"),
        ("comet_encoder", "--comet-encoder"),
        ("bleurt_model", "--bleurt-model"),
    ):
        metric = key.split("_")[0]
        if metric in EVAL["mt_metrics"] and EVAL.get(key):
            opts.append(f"{flag} {local_or_hub(EVAL[key])}")
    if "spbleu" in EVAL["mt_metrics"] and EVAL.get("spm_model"):
        opts.append(f"--spm-model {EVAL['spm_model']}")
    return " ".join(opts)


def metric_model_inputs():
    files = []
    for key, metric in (
        ("comet_model", "comet"),
        ("comet_encoder", "comet"),
        ("bleurt_model", "bleurt"),
    ):
        if metric in EVAL.get("mt_metrics", []) and EVAL.get(key):
            files.append(local_or_hub(EVAL[key]))
    if "spbleu" in EVAL.get("mt_metrics", []) and EVAL.get("spm_model"):
        files.append(EVAL["spm_model"])
    return files


def score_files(models):
    return [f"results/scores/{model}.csv" for model in models]


# ---------------------------------------------------------------- scaling


def scaling_points(wildcards):
    return score_files(
        f"{recipe}/{wildcards.lang}/{scale}"
        for recipe in MIX.get("x_recipes", [])[:1]
        for scale in SCALES
    )


def max_pairs_arg():
    return ",".join(f"{lang}={config['max_pairs'][lang]}" for lang in LANGS)


def recipe_model(recipe):
    """The model id of a recipe named in scaling.alignment_models (a model id passes through)."""
    if recipe in MIX.get("m_recipes", []):
        return f"{recipe}/{config.get('muit_scale', 'full')}"
    return recipe


def alignment_models():
    """Figure 5's models: the base model and each named recipe's model."""
    models = {"base": BASE_MODEL}
    for name in SCALING.get("alignment_models", []):
        models[name] = f"results/models/{recipe_model(name)}"
    return models


def alignment_inputs(wildcards):
    inputs = dict(alignment_models())
    inputs["flores"] = [
        f"results/testsets/flores/dev/{lang}.txt" for lang in ["en"] + LANGS
    ]
    return inputs


def alignment_args(wildcards, input):
    args = [f"--model {name}={input[name]}" for name in alignment_models()]
    args.append(f"--en {input.flores[0]}")
    args += [f"--x {lang}={path}" for lang, path in zip(LANGS, input.flores[1:])]
    return " ".join(args)


def final_outputs():
    outputs = [
        "results/scores.csv",
        "results/tables/corpus_stats.md",
        "results/tables/allocation.md",
        "results/tables/scores_summary.md",
    ]
    outputs += [f"results/scaling/{lang}.json" for lang in LANGS]
    outputs += [f"results/allocation/{budget}.json" for budget in BUDGETS]
    outputs += [
        "results/plots/scaling_laws.png",
        "results/plots/x_vs_m.png",
        "results/plots/allocation.png",
    ]
    if len(config["scaling"].get("alignment_models", [])) > 0:
        outputs.append("results/plots/alignment.png")
    return outputs


def on_success(workflow):
    """Render results/report.html once every final output exists, and say where results are."""
    outputs = final_outputs()
    if all(os.path.exists(p) for p in outputs):
        newest = max(os.path.getmtime(p) for p in outputs)
        if not os.path.exists(REPORT) or os.path.getmtime(REPORT) < newest:
            cmd = [
                sys.executable,
                "-m",
                "snakemake",
                "--report",
                REPORT,
                "--nolock",
                "--quiet",
                "all",
            ]
            cmd += [
                "--snakefile",
                workflow.main_snakefile,
                "--configfiles",
                *workflow.configfiles,
            ]
            if subprocess.run(cmd).returncode != 0:
                print(f"xllm: could not render {REPORT}; run: {' '.join(cmd)}")
        outputs.append(REPORT)
    print("\nxllm results:")
    for path in outputs:
        if os.path.exists(path):
            print(f"  {path}")
    print(
        "  results/logs/ (one log per job), results/benchmarks/ (time and memory per job)"
    )
