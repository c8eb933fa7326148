"""Config check, wildcard constraints, model ids and the input functions every rule uses."""

import json
import os
import re
import shlex
import subprocess
import sys

from snakemake.utils import validate

from xllm import config as xllm_config
from xllm.data.sources import load_sources
from xllm.errors import UserError
from xllm.mixture.recipes import parse_model_id
from xllm.plan import Grid, Jobs, settings_json, train_launch
from xllm.prompts import instruction_texts
from xllm.provenance import config_hash
from xllm.workflow_hooks import failure_message, stale_lock_hint

# Rules call the `xllm` of the Python that runs Snakemake (e.g. .venv/bin), activated or not.
os.environ["PATH"] = os.pathsep.join(
    [os.path.dirname(sys.executable), os.environ.get("PATH", "")]
)

SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
try:
    xllm_config.prepare(config, SCHEMA)  # fills the schema's defaults, then checks
    SOURCES = load_sources(config["data"]["sources"])
    GRID = Grid(config)
except UserError as err:
    sys.exit(f"error: {err}")
# prepare filled the defaults already (Snakemake's own filling fails on a null section: eval.judge)
validate(config, SCHEMA, set_default=False)
if hint := stale_lock_hint(sys.argv, os.environ):
    print(hint, file=sys.stderr)

CONFIG_HASH = config_hash(config)
PRELOAD = "export XLLM_PRELOAD=1; " if config["preload_imports"] else ""
# How training runs (one process, accelerate, srun; checkpointing) changes no output: it reaches
# `xllm launch-train` through the environment, not as params that would retrain every model.
TRAIN_LAUNCH = train_launch(config)
shell.prefix(
    f"set -euo pipefail; export XLLM_CONFIG_HASH={CONFIG_HASH}; {PRELOAD}"
    # (braces doubled: Snakemake formats the prefix like a shell command)
    f"export XLLM_TRAIN_LAUNCH={shlex.quote(json.dumps(TRAIN_LAUNCH)).replace('{', '{{').replace('}', '}}')}; "
    # the token cache (xllm.train.token_cache) changes how fast a mixture is tokenized, not its tokens
    f"export XLLM_TOKEN_CACHE={shlex.quote(config['train']['token_cache'] or '')}; "
)  # the hash is stamped into provenance (information only); XLLM_PRELOAD: see xllm.preload
LANGS = GRID.langs
LANG_NAMES = GRID.lang_names(LANGS)
LANG_NAME_ARGS = " ".join(f"--lang-name '{k}={v}'" for k, v in LANG_NAMES.items())
# The report rules' languages and their names: {params.langs} {params.names}
LANGUAGE_PARAMS = {"langs": ",".join(LANGS), "names": LANG_NAME_ARGS}
BUDGETS = GRID.budgets
MIX = config["mixture"]
RECIPES = GRID.recipes
DEMO = config["demo"]
EVAL = config["eval"]
TRANSLATE = config["translate"]
TRAIN = config["train"]
GEN = config["generate"]
SCALING = config["scaling"]
TASKS = GRID.tasks
MIRROR = config["data"]["mirror"]
HUB_DIR = "results/hub"
# The config file this run read (the cost estimate reads it again, as `xllm estimate` would)
CONFIG_FILE = workflow.configfiles[-1] if workflow.configfiles else "config.yaml"
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


def job_settings(rule, *wildcard_names):
    """A rule's params: the JSON of the config slice its output depends on (xllm.plan.jobs),
    so a config edit reruns exactly the jobs whose output it changes."""
    method = getattr(JOBS, rule)

    def params(wildcards):
        return settings_json(method(*(wildcards[name] for name in wildcard_names)))

    return params


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
JOBS = Jobs(GRID, SOURCES, local_or_hub)


# ---------------------------------------------------------------- data


def source_files(corpus, lang=None, split=None, required=True):
    """The downloaded files of a corpus (for a language and split); none is an error if required."""
    files = [
        f"results/downloads/{f}"
        for f, src in SOURCES.items()
        if src.corpus == corpus
        and (lang is None or lang in src.langs)
        and (split is None or src.extra.get("split") in (None, split))
    ]
    if required and not files:
        sys.exit(
            f"error: {config['data']['sources']}: no {corpus} file for language {lang!r}"
        )
    return files


AUTHORS_BUNDLE = config["data"]["authors_bundle"]


def corpus_inputs(wildcards):
    if (
        AUTHORS_BUNDLE
    ):  # the authors' pairs (train.en beside train.LANG) replace data.corpora
        english = xllm_config.bundle_pairs(AUTHORS_BUNDLE, wildcards.lang)
        return [english, re.sub(r"\.en$", f".{wildcards.lang}", english)]
    files = []
    for corpus in config["data"]["corpora"]:
        files += source_files(corpus, wildcards.lang, required=False)
    if not files:
        sys.exit(
            f"error: no parallel corpus for {wildcards.lang!r} in {config['data']['sources']}"
        )
    return files


def corpus_args(wildcards, input):
    """prepare-corpus's corpus options: downloaded files, or the bundle's line-aligned pair."""
    if AUTHORS_BUNDLE:
        pair = shlex.quote(f"ncwm={input.corpus[0]}")
        return f"--line-aligned {pair}"
    files = " ".join(shlex.quote(f) for f in input.corpus)
    return f"--inputs {files}"


def contamination_files(wildcards):
    return [
        f"results/testsets/flores/{split}/{lang}.txt"
        for split in config["data"]["contamination_splits"]
        for lang in ("en", wildcards.lang)
    ]


def download_input(wildcards):
    return [os.path.join(MIRROR, wildcards.file)] if MIRROR else []


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


def mixture_inputs(wildcards):
    plan = GRID.mixture_plan(wildcards.model)
    files = [
        *plan["alpaca"].values(),
        *plan["pairs"].values(),
        *plan["monolingual"].values(),
    ]
    if plan["allocation"]:
        files.append(plan["allocation"])
    return files


def mixture_args(wildcards):
    plan = GRID.mixture_plan(wildcards.model)
    args = [f"--langs={','.join(plan['langs'])}"]
    args += [f"--alpaca {k}={v}" for k, v in plan["alpaca"].items()]
    args += [f"--pairs {k}={v}" for k, v in plan["pairs"].items()]
    args += [f"--monolingual {k}={v}" for k, v in plan["monolingual"].items()]
    args += [
        f"--lang-name {shlex.quote(f'{k}={v}')}"
        for k, v in GRID.lang_names(plan["langs"]).items()
    ]
    settings = JOBS.build_mixture(wildcards.model)
    args += [f"--template {shlex.quote(t)}" for t in settings["templates"]]
    if settings["instruction_choice"]:
        args.append(f"--instruction-choice {settings['instruction_choice']}")
    if plan["allocation"]:
        args.append(f"--allocation {plan['allocation']} --alloc {plan['alloc']}")
    return " ".join(args)


def demo_prompt_args():
    """Every translation instruction a demo mixture may hold, for the demo tokenizer to learn:
    over all of demo.languages, so adding one of them to `languages` keeps the base model.
    """
    langs = sorted(DEMO["languages"])  # sorted: reordering the YAML retrains nothing
    texts = instruction_texts(
        GRID.translation_templates(), GRID.lang_names(langs), langs
    )
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
    """mixture.monolingual's entry: a file of the sources (mC4, downloaded) or a local text file."""
    texts = MIX["monolingual"]
    if wildcards.lang not in texts:
        sys.exit(
            f"error: mixture.monolingual: no text file for {wildcards.lang!r} (needed by cpt)"
        )
    name = texts[wildcards.lang]
    return f"results/downloads/{name}" if name in SOURCES else name


def monolingual_verify(wildcards, input):
    """A downloaded source is checked against its checksum again where it is read."""
    if MIX["monolingual"][wildcards.lang] not in SOURCES:
        return ""
    sources, lock = (
        shlex.quote(p) for p in (config["data"]["sources"], config["data"]["lock"])
    )
    return f"--sources {sources} --lock {lock}"


def train_gpu_resources():
    """GPUs per node as GRES (the Slurm plugin's gpu= counts GPUs per job); across nodes the batch
    step runs the launcher itself (mpi), whose srun starts one task per node."""
    gpus, nodes = TRAIN["gpus_per_node"], TRAIN["nodes"]
    resources = {"gres": f"gpu:{gpus}"} if gpus else {}
    if nodes > 1:
        resources.update(mpi="srun", tasks=nodes)
    return resources


# ---------------------------------------------------------------- evaluation


def generate_inputs(wildcards):
    return {
        "model": f"results/models/{wildcards.model}",
        "plan": f"results/plans/{wildcards.model}.json",
        "data": GRID.eval_files(wildcards.model),
    }


def score_inputs(wildcards):
    return {
        "generations": f"results/generations/{wildcards.model}",
        "plan": f"results/plans/{wildcards.model}.json",
        "metric_models": JOBS.metric_model_inputs(),
    }


def score_files(models):
    return [f"results/scores/{model}.csv" for model in models]


def segment_files(models):
    return [f"results/scores/{model}.segments.npz" for model in models]


JUDGE = EVAL["judge"]


def judge_score_files():
    return [f"results/scores/judge/{model}.csv" for model in GRID.judge_models()]


def judge_segment_files():
    return [
        f"results/scores/judge/{model}.segments.npz" for model in GRID.judge_models()
    ]


def judge_args(limit=None):
    """The judge's options from eval.judge: the key's variable is named, its value never written.
    ``limit`` overrides eval.judge.limit (MI-Eval: 0, every instruction)."""
    if not JUDGE:
        return ""
    return " ".join(
        [
            f"--endpoint {shlex.quote(JUDGE['endpoint'])}",
            f"--judge-model {shlex.quote(JUDGE['model'])}",
            f"--api-key-env {JUDGE['api_key_env']}",
            f"--limit {JUDGE['limit'] if limit is None else limit} --timeout {JUDGE['timeout']}",
        ]
    )


MIEVAL_LANGS = GRID.mieval_langs()


def mieval_source(wildcards):
    if not AUTHORS_BUNDLE:
        sys.exit("error: MI-Eval needs data.authors_bundle (its mieval/LANG.jsonl)")
    return xllm_config.bundle_mieval(AUTHORS_BUNDLE, wildcards.lang)


def mieval_inputs(wildcards):
    x_model, m_model = GRID.mieval_pair(wildcards.lang)
    return {
        "x": f"results/generations/{x_model}",
        "m": f"results/generations/{m_model}",
        "questions": f"results/testsets/mieval/{wildcards.lang}.jsonl",
    }


def ablation_figure_models():
    """Figure 6's bars: the English-Alpaca baseline (where configured), then the ablations."""
    base = [m for m in GRID.baseline_models() if m == "alpaca-en"]
    return base + GRID.ablation_models()


# ---------------------------------------------------------------- scaling


def scaling_points(wildcards):
    return score_files(GRID.scaling_models(wildcards.lang))


def scaling_segments(wildcards):
    """Per-segment statistics of the same models, same order: the law's segment bootstrap."""
    return segment_files(GRID.scaling_models(wildcards.lang))


CORPUS_MANIFESTS = [f"results/corpora/{lang}/manifest.json" for lang in LANGS]


def max_pairs_arg():
    return ",".join(f"{lang}={config['max_pairs'][lang]}" for lang in LANGS)


def alignment_models():
    """Figure 5's models: the base model and each named recipe's model."""
    models = {"base": BASE_MODEL}
    for name in SCALING["alignment_models"]:
        models[name] = f"results/models/{GRID.recipe_model(name)}"
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
        "results/tables/cost.md",
    ]
    outputs += [f"results/scaling/{lang}.json" for lang in LANGS]
    outputs += [f"results/allocation/{budget}.json" for budget in BUDGETS]
    outputs += [
        "results/plots/scaling_laws.png",
        "results/plots/x_vs_m.png",
        "results/plots/allocation.png",
    ]
    if SCALING["alignment_models"]:
        outputs.append("results/plots/alignment.png")
    if "cpt" in MIX["x_recipes"]:
        outputs.append("results/plots/cpt_vs_coit.png")
    if MIEVAL_LANGS:
        outputs.append("results/plots/mieval.png")
    if JUDGE and GRID.ablation_models() and "xquad" in TASKS:
        outputs.append("results/plots/ablation.png")
    return outputs


def on_error(log):
    print(failure_message(log))


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
