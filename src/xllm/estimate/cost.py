"""Tokens and GPU-hours of every training, translation and generation job of a config's grid.

Everything comes from the config's counts (scales, budgets, Alpaca size, epochs, test-set sizes,
max_new_tokens) times tokens per example, divided by a throughput table (tokens/s per GPU by model
size and stage). Tokens per example are measured with the model's tokenizer on FLORES dev and
Alpaca when both are local, else taken from ``defaults.yaml`` and labelled as such; every figure
in the result says where it came from. GPU-hours = tokens / (tokens/s per GPU) / 3600: a job on g
GPUs takes that divided by g in wall time, if it scales linearly.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import yaml

from ..errors import UserError

DEFAULTS = Path(__file__).with_name("defaults.yaml")
STAGE_OF_RULE = {
    "tokenize_mixture": "tokenize",
    "train_model": "train",
    "translate_alpaca": "translate",
    "generate_model": "generate",
}


def load_defaults() -> dict:
    return yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- the grid


def grid_models(config: dict, recipes: dict) -> list[str]:
    """Model ids the workflow trains (``xllm.plan.Grid``), plus the base models of staged recipes
    (cpt starts from cpt-mono), first."""
    from ..mixture.recipes import parse_model_id
    from ..plan import Grid

    models = Grid(config, recipes).all_models()
    staged = []
    for model in models:
        meta = parse_model_id(model)
        base = recipes[meta.recipe].base if meta.recipe in recipes else None
        if base and meta.lang and meta.scale:
            staged_id = f"{base}/{meta.lang}/{meta.scale}"
            if staged_id not in staged and staged_id not in models:
                staged.append(staged_id)
    return staged + models


def with_defaults(config: dict, config_path: str) -> dict:
    """The config with the workflow schema's defaults filled in, as the workflow reads it."""
    import copy

    from ..config import fill_defaults, load_schema

    for root in (Path(config_path).parent, Path(".")):
        schema = root / "workflow" / "schemas" / "config.schema.yaml"
        if schema.exists():
            return fill_defaults(copy.deepcopy(config), load_schema(schema))
    raise UserError(f"{config_path}: no workflow/schemas/config.schema.yaml beside it or here")


# ---------------------------------------------------------------- model sizes and throughput


_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)


def parse_size(text: str) -> float | None:
    """Parameters named in a model id or table key: 'llama-7b' -> 7e9, 'nllb-200-distilled-600M' -> 6e8."""
    found = _SIZE.findall(str(text))
    if not found:
        return None
    number, unit = found[-1]
    return float(number) * (1e9 if unit.lower() == "b" else 1e6)


def size_label(params: float) -> str:
    return f"{params / 1e9:.3g}B" if params >= 1e9 else f"{params / 1e6:.3g}M"


def local_model_dir(name: str | None) -> Path | None:
    for candidate in (name, f"results/hub/{name}"):
        if candidate and Path(candidate, "config.json").exists():
            return Path(candidate)
    return None


def model_params(name: str | None) -> tuple[float | None, str]:
    """Parameter count of a model (local directory: counted from its config; else from its name)."""
    directory = local_model_dir(name)
    if directory is not None:
        try:
            import torch
            from transformers import AutoConfig, AutoModel

            config = AutoConfig.from_pretrained(directory)
            with torch.device("meta"):
                model = AutoModel.from_config(config)
            n = sum(p.numel() for p in model.parameters())
            if getattr(config, "tie_word_embeddings", True) is False:  # AutoModel has no output layer
                n += config.vocab_size * config.hidden_size
            return float(n), f"counted from {directory}/config.json"
        except Exception as err:  # noqa: BLE001 - an odd config falls back to the name
            reason = f"{type(err).__name__}"
        return parse_size(name), f"from its name ({directory}/config.json not countable: {reason})"
    n = parse_size(name or "")
    return n, "from its name" if n else "unknown (no local config.json, no size in its name)"


def _source(sources: dict, key: str, stage: str) -> str:
    source = sources.get(key, "no source given")
    return source.get(stage, "no source given") if isinstance(source, dict) else source


def throughput(table: dict, sources: dict, params: float | None, stage: str) -> tuple[float, str]:
    """Tokens/s per GPU for a model of ``params`` parameters at ``stage``, and where it comes from.

    An entry within 25% of the size is used as is; otherwise the nearest size that has the stage,
    scaled by parameter count (FLOPs per token are proportional to it), labelled as a fallback.
    """
    entries = [(parse_size(key), key, row) for key, row in table.items() if stage in (row or {})]
    entries = [e for e in entries if e[0]]
    if not entries:
        raise UserError(f"estimate.throughput: no model size has a {stage!r} figure")
    if params is None:
        size, key, row = min(entries, key=lambda e: abs(math.log(e[0] / 7e9)))
        return float(row[stage]), f"fallback: model size unknown, assumed {key} ({_source(sources, key, stage)})"
    size, key, row = min(entries, key=lambda e: abs(math.log(e[0] / params)))
    if abs(math.log(size / params)) <= math.log(1.25):
        return float(row[stage]), f"{key}: {_source(sources, key, stage)}"
    scaled = float(row[stage]) * size / params
    return scaled, (
        f"fallback: no {stage} figure for {size_label(params)}; {key}'s scaled by parameter count "
        f"({key}: {_source(sources, key, stage)})"
    )


# ---------------------------------------------------------------- tokens per example


class Tokens:
    """Tokens of one example: template + English content * language factor, capped at ``cap``."""

    def __init__(self, est: dict, cap: int | None = None):
        self.per_example = copy.deepcopy(est["tokens_per_example"])
        self.factor = dict(est["language_factor"])
        self.factor_default = float(est["language_factor_default"])
        self.sources = {kind: est["tokens_source"] for kind in self.per_example}
        self.sources["language_factor"] = est["language_factor_source"]
        self.factor_measured: set[str] = set()
        self.cap = cap

    def lang_factor(self, lang: str) -> float:
        return float(self.factor.get(lang, self.factor_default))

    def content(self, kind: str, lang: str = "en") -> float:
        return float(self.per_example[kind]["content"]) * self.lang_factor(lang)

    def example(self, kind: str, lang: str = "en") -> float:
        n = float(self.per_example[kind]["template"]) + self.content(kind, lang)
        return min(n, self.cap) if self.cap else n

    def labels(self, langs) -> dict:
        out = {kind: {**row, "source": self.sources[kind]} for kind, row in self.per_example.items()}
        out["language_factor"] = {
            lang: {
                "factor": round(self.lang_factor(lang), 3),
                "source": "measured (see tokens_measured)"
                if lang in self.factor_measured
                else (
                    self.sources["language_factor"]
                    if lang in self.factor
                    else f"fallback: no factor for {lang}, default {self.factor_default}"
                ),
            }
            for lang in ["en", *langs]
        }
        return out


def measure_tokens(
    tokens: Tokens, tokenizer_dir: str | Path, langs, flores_dir: Path, alpaca_file: Path, sample_size: int
) -> dict:
    """Replace default figures by ones measured with the model's tokenizer on local samples:
    language factors and the FLORES sentence length on FLORES dev (parallel: the same sentences
    in every language), Alpaca's content and template length on Alpaca in English."""
    import json

    from transformers import AutoTokenizer

    from ..prompts import format_prompt, prompt_style

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))

    def count(texts):
        return sum(len(ids) for ids in tok(list(texts), add_special_tokens=False)["input_ids"])

    done = {"tokenizer": str(tokenizer_dir)}
    en_file = flores_dir / "en.txt"
    if en_file.exists():
        en_lines = en_file.read_text(encoding="utf-8").splitlines()[:sample_size]
        en_tokens = count(en_lines)
        if en_lines and en_tokens:
            tokens.per_example["flores"]["content"] = round(en_tokens / len(en_lines), 2)
            tokens.sources["flores"] = f"measured: content on {len(en_lines)} lines of {en_file}"
            for lang in langs:
                path = flores_dir / f"{lang}.txt"
                if path.exists():
                    lines = path.read_text(encoding="utf-8").splitlines()[: len(en_lines)]
                    tokens.factor[lang] = round(count(lines) / count(en_lines[: len(lines)]), 3)
                    tokens.factor_measured.add(lang)
            done["flores"] = {
                "file": str(en_file),
                "sentences": len(en_lines),
                "factors": {lang: tokens.factor[lang] for lang in sorted(tokens.factor_measured)},
            }
    if alpaca_file.exists():
        rows = json.loads(alpaca_file.read_text(encoding="utf-8"))[:sample_size]
        if rows:
            style = prompt_style(tokenizer_dir)
            content = count(
                " ".join(x for x in (r.get("instruction", ""), r.get("input", ""), r.get("output", "")) if x)
                for r in rows
            )
            whole = count(
                format_prompt(r.get("instruction", ""), r.get("input", ""), style) + r.get("output", "") for r in rows
            )
            tokens.per_example["alpaca"] = {
                "template": round(max(whole - content, 0) / len(rows), 2),
                "content": round(content / len(rows), 2),
            }
            tokens.sources["alpaca"] = f"measured on {len(rows)} examples of {alpaca_file}"
            done["alpaca"] = {"file": str(alpaca_file), "examples": len(rows)}
    return done


# ---------------------------------------------------------------- jobs


def _merged(defaults: dict, override: dict) -> dict:
    out = copy.deepcopy(defaults)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def training_examples(model: str, config: dict, recipes: dict, alpaca_n: int) -> list[tuple[str, str, int]]:
    """(kind, language, examples) of every part of a model's mixture."""
    from ..mixture.recipes import parse_model_id

    meta = parse_model_id(model)
    recipe = recipes.get(meta.recipe)
    if recipe is None:
        raise UserError(f"model {model}: recipe {meta.recipe!r} is not in {config['mixture']['recipes']}")
    langs = [meta.lang] if meta.lang else list(config["languages"])
    max_pairs = config.get("max_pairs", {})
    out = []
    for part in recipe.parts:
        rows = []
        if part.kind == "alpaca":
            rows = [("alpaca", lang, alpaca_n) for lang in (["en"] if part.lang == "en" else langs)]
        elif part.kind in ("translation", "monolingual"):
            kind = "pair" if part.kind == "translation" else "monolingual"
            for lang in langs:
                cap = int(max_pairs.get(lang, 0)) or None
                if meta.budget:  # the allocation is computed later: an even split of the budget
                    n = int(config["budgets"][meta.budget]) // len(langs)
                elif (meta.scale or "full") == "full":
                    if cap is None:
                        raise UserError(f"model {model}: scale full needs max_pairs.{lang}")
                    n = cap
                else:
                    n = int(meta.scale)
                rows.append((kind, lang, min(n, cap) if cap else n))
        if part.size:
            rows = [(k, lang, min(n, part.size)) for k, lang, n in rows]
        out += rows
    return out


def eval_items(model: str, config: dict, est: dict, tokens: Tokens, max_new: int) -> list[dict]:
    """What generate_model runs for a model, following common.smk's eval_plan: items, prompt and output tokens."""
    from ..mixture.recipes import parse_model_id

    meta = parse_model_id(model)
    langs = [meta.lang] if meta.lang else list(config["languages"])
    ev, gen = config["eval"], config.get("generate", {})
    tasks = ["flores"] if meta.budget else list(ev["tasks"])
    sizes = est["test_set_sizes"]
    limit = gen.get("limit")
    qa_answer = float(est.get("qa_answer_tokens", 12))
    items = []

    def add(task, direction, n, prompt, output):
        n = min(n, limit) if limit else n
        items.append(
            {
                "task": task,
                "direction": direction,
                "items": n,
                "prompt_tokens": prompt,
                "output_tokens": min(output, max_new),
                "output_tokens_max": max_new,
            }
        )

    for lang in langs:
        if "flores" in tasks:
            n = int(sizes["flores"][ev.get("flores_split", "devtest")])
            for src, tgt in (("en", lang), (lang, "en")):
                add("flores", f"{src}-{tgt}", n, tokens.example("flores", src), tokens.content("flores", tgt))
        if "xquad" in tasks:
            add("xquad", lang, int(sizes["xquad"]), tokens.example("qa", lang), qa_answer)
        if "mlqa" in tasks:
            for setting in ev.get("mlqa_settings", []):
                context, question = setting.split("-")
                if question == lang:
                    other = question if question != "en" else context
                    n = int(sizes["mlqa"].get(other, sizes["mlqa_default"]))
                    add("mlqa", setting, n, tokens.example("qa", context), qa_answer)
    return items


def estimate(config: dict, config_path: str = "config.yaml") -> dict:
    """The cost of every job of ``config``'s grid (see the module docstring)."""
    from ..mixture.recipes import load_recipes

    config = with_defaults(config, config_path)
    override = config.get("estimate") or {}
    defaults = load_defaults()
    demo = config.get("demo") or {}
    if demo:  # the demo generates its own, smaller Alpaca and FLORES
        defaults["alpaca_examples"] = int(demo.get("n_alpaca", defaults["alpaca_examples"]))
        flores = defaults["test_set_sizes"]["flores"]
        flores.update({k: int(demo[f"n_{k}"]) for k in ("dev", "devtest") if f"n_{k}" in demo})
    est = _merged(defaults, override)
    sources = dict(est.get("throughput_source", {}))
    table = est["throughput"]
    for size in override.get("throughput") or {}:  # "600M" in the config replaces the defaults' "0.6B"
        for key in [k for k in table if k != size and parse_size(k) == parse_size(size)]:
            table[size] = {**table.pop(key), **table[size]}
            sources.setdefault(size, sources.get(key))
    for size, stages in (override.get("throughput") or {}).items():
        if size not in (override.get("throughput_source") or {}):
            sources[size] = {
                stage: ("config estimate.throughput" if stage in (stages or {}) else _source(sources, size, stage))
                for stage in ("train", "generate", "translate")
            }
    langs = list(config["languages"])
    train_cfg, gen_cfg, tr_cfg = config["train"], config.get("generate", {}), config.get("translate", {})
    tokens = Tokens(est, cap=int(train_cfg.get("max_seq_length", 0)) or None)
    if override.get("tokens_per_example"):
        for kind in override["tokens_per_example"]:
            tokens.sources[kind] = "config estimate.tokens_per_example"
    for lang in override.get("language_factor") or {}:
        tokens.factor_measured.discard(lang)

    measured = None
    tokenizer_dir = est.get("tokenizer") or local_model_dir(config["base_model"])
    if tokenizer_dir and any(
        Path(tokenizer_dir, f).exists() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
    ):
        flores_dir = Path(est.get("flores_dir") or "results/testsets/flores/dev")
        alpaca_file = Path(est.get("alpaca_file") or "results/alpaca/en.json")
        measured = measure_tokens(
            tokens, tokenizer_dir, langs, flores_dir, alpaca_file, int(est.get("sample_size", 200))
        )
        if "flores" not in measured and "alpaca" not in measured:
            measured["note"] = f"no sample found ({flores_dir}/en.txt, {alpaca_file}): defaults used"

    base_params, base_how = model_params(config["base_model"])
    recipes_path = Path(config["mixture"]["recipes"])
    if not recipes_path.exists() and Path(config_path).parent.joinpath(recipes_path).exists():
        recipes_path = Path(config_path).parent / recipes_path  # run from elsewhere than the repository root
    recipes = load_recipes(recipes_path)
    alpaca_n = int(est["alpaca_examples"])
    epochs = float(train_cfg.get("epochs", 3))
    max_steps = train_cfg.get("max_steps")
    global_batch = int(train_cfg.get("global_batch_size", 128))
    train_gpus = int(train_cfg.get("nodes", 1)) * int(train_cfg.get("gpus_per_node", 0))
    gen_gpus = int(gen_cfg.get("gpus", 1))
    jobs = []

    cpu_tput, cpu_sources = est.get("cpu_throughput") or {}, est.get("cpu_throughput_source") or {}
    overhead = est.get("overhead_s") or {}

    def job(rule, name, tok, gpus, params, **extra):
        stage = STAGE_OF_RULE[rule]
        if not gpus and stage in cpu_tput:
            tput, source = float(cpu_tput[stage]), f"CPU, one process: {cpu_sources.get(stage, 'no source given')}"
        else:
            tput, source = throughput(table, sources, params, stage)
            source = source if gpus else f"no GPU (CPU job); the GPU figure: {source}"
        start = float(overhead.get(stage, 0))
        seconds = tok / tput / (gpus or 1) + start  # wall seconds, if the GPUs scale linearly
        hours = (tok / tput + start * gpus) / 3600 if gpus else 0.0
        row = {
            "rule": rule,
            "job": name,
            "tokens": round(tok),
            "gpus": gpus,
            "gpu_hours": round(hours, 6),
            "wall_hours": round(seconds / 3600, 6) if gpus else None,
            "wall_s": round(seconds, 1),
            "overhead_s": start,
            "tokens_per_s_per_gpu": round(tput, 1),
            "throughput_source": source,
        }
        row.update(extra)
        jobs.append(row)

    if tr_cfg.get("backend") == "hf-seq2seq":
        tr_params, _ = model_params(tr_cfg.get("model"))
        shards = int(tr_cfg.get("shards", 1))
        for lang in langs:
            for shard in range(shards):
                n = alpaca_n // shards + (1 if shard < alpaca_n % shards else 0)
                tok = n * (tokens.content("alpaca", "en") + tokens.content("alpaca", lang))
                job(
                    "translate_alpaca",
                    f"{lang}/{shard}",
                    tok,
                    int(tr_cfg.get("gpus", 1)),
                    tr_params,
                    examples=n,
                    model=tr_cfg.get("model"),
                )

    max_new = int(gen_cfg.get("max_new_tokens", 256))
    for model in grid_models(config, recipes):
        parts = training_examples(model, config, recipes, alpaca_n)
        examples = sum(n for _, _, n in parts)
        once = sum(n * tokens.example(kind, lang) for kind, lang, n in parts)  # the mixture's tokens
        job("tokenize_mixture", model, once, 0, None, examples=examples)
        tok = epochs * once
        if max_steps and examples:  # a step takes global_batch_size examples
            tok = min(tok, max_steps * global_batch * once / examples)
        flops = 6 * base_params * tok if base_params else None
        job(
            "train_model",
            model,
            tok,
            train_gpus,
            base_params,
            examples=examples,
            epochs=epochs,
            max_steps=max_steps,
            flops_6nt=float(f"{flops:.4g}") if flops else None,
        )
        items = eval_items(model, config, est, tokens, max_new)
        gen_tok = sum(i["items"] * (i["prompt_tokens"] + i["output_tokens"]) for i in items)
        gen_max = sum(i["items"] * (i["prompt_tokens"] + i["output_tokens_max"]) for i in items)
        job(
            "generate_model",
            model,
            gen_tok,
            gen_gpus,
            base_params,
            examples=sum(i["items"] for i in items),
            tokens_if_max_new_tokens=round(gen_max),
        )

    by_rule, tokens_by_rule, jobs_by_rule, cpu_by_rule = {}, {}, {}, {}
    for row in jobs:
        by_rule[row["rule"]] = round(by_rule.get(row["rule"], 0.0) + row["gpu_hours"], 6)
        if not row["gpus"]:  # a CPU job: its process-hours
            cpu_by_rule[row["rule"]] = round(cpu_by_rule.get(row["rule"], 0.0) + row["wall_s"] / 3600, 6)
        tokens_by_rule[row["rule"]] = tokens_by_rule.get(row["rule"], 0) + row["tokens"]
        jobs_by_rule[row["rule"]] = jobs_by_rule.get(row["rule"], 0) + 1
    train_tokens = tokens_by_rule.get("train_model", 0)
    train_rows = [r for r in jobs if r["rule"] == "train_model"]
    sanity = None
    if base_params and train_rows:
        tput = train_rows[0]["tokens_per_s_per_gpu"]
        sanity = {
            "training_flops_6nt": float(f"{6 * base_params * train_tokens:.4g}"),
            "implied_tflops_per_gpu": round(6 * base_params * tput / 1e12, 1),
            "note": "6*N*tokens; the TFLOP/s per GPU the train throughput implies (6N per token; with "
            "gradient checkpointing the hardware does ~8N): compare with the GPU's peak",
        }
    return {
        "config": str(config_path),
        "base_model": config["base_model"],
        "base_model_params": base_params,
        "base_model_params_source": base_how,
        "total_gpu_hours": round(sum(by_rule.values()), 6),
        "by_rule": by_rule,
        "cpu_hours_by_rule": cpu_by_rule,
        "tokens_by_rule": tokens_by_rule,
        "jobs_by_rule": jobs_by_rule,
        "flops_sanity": sanity,
        "tokens_per_example": tokens.labels(langs),
        "tokens_measured": measured,
        "counts": {
            "alpaca_examples": alpaca_n,
            "epochs": epochs,
            "test_set_sizes": est["test_set_sizes"],
            "max_new_tokens": max_new,
            "source": est.get("test_set_source", ""),
        },
        "notes": [
            "GPU-hours = tokens / (tokens/s per GPU) / 3600; wall hours = GPU-hours / GPUs of the job",
            "muit-budget: the allocation is computed later; pairs are estimated as an even split of the budget",
            (
                "tokenize_mixture (CPU): every mixture tokenized whole, an upper bound: the token cache "
                "(train.token_cache) tokenizes a row other mixtures hold once"
            ),
            (
                "generate: output tokens are the expected reference length (capped by max_new_tokens); "
                "tokens_if_max_new_tokens is the upper bound"
            ),
        ],
        "jobs": jobs,
    }


def format_report(result: dict, per_job: bool = True) -> str:
    """The estimate as text: where the figures come from, per rule, the total, then every job
    (translation shards summed per language)."""
    lines = []
    params = result["base_model_params"]
    lines.append(
        f"base model {result['base_model']}: "
        f"{size_label(params) if params else 'size unknown'} ({result['base_model_params_source']})"
    )
    figures = result["tokens_per_example"]
    sources = {}
    lines.append("tokens per example = template + content x language factor:")
    for kind, row in figures.items():
        if kind != "language_factor":
            tag = sources.setdefault(row["source"], f"[{len(sources) + 1}]")
            lines.append(f"  {kind:12s} {row['template']:>7} + {row['content']:>7}   {tag}")
    parts = []
    for lang, row in figures["language_factor"].items():
        parts.append(f"{lang} {row['factor']} {sources.setdefault(row['source'], f'[{len(sources) + 1}]')}")
    lines.append("  language factor: " + ", ".join(parts))
    for source, tag in sources.items():
        lines.append(f"  {tag} {source}")
    lines.append("")
    lines.append(f"{'rule':18s} {'jobs':>5s} {'tokens':>12s} {'GPU-hours':>10s} {'CPU-hours':>10s}")
    for rule, hours in result["by_rule"].items():
        cpu = result["cpu_hours_by_rule"].get(rule)
        lines.append(
            f"{rule:18s} {result['jobs_by_rule'][rule]:5d} {result['tokens_by_rule'][rule]:12.4g} {hours:10.1f} "
            + (f"{cpu:10.1f}" if cpu is not None else f"{'':>10s}")
        )
    lines.append(f"{'total':18s} {sum(result['jobs_by_rule'].values()):5d} {'':12s} {result['total_gpu_hours']:10.1f}")
    sanity = result.get("flops_sanity")
    if sanity:
        lines.append(
            f"training FLOPs (6*N*tokens): {sanity['training_flops_6nt']:.3g}; the train throughput implies "
            f"{sanity['implied_tflops_per_gpu']} TFLOP/s per GPU at 6N FLOPs per token"
        )
    lines.append("throughput (tokens/s per GPU):")
    for rule in result["by_rule"]:
        rows = [r for r in result["jobs"] if r["rule"] == rule]
        for source in sorted({r["throughput_source"] for r in rows}):
            tput = next(r["tokens_per_s_per_gpu"] for r in rows if r["throughput_source"] == source)
            lines.append(f"  {rule}: {tput:g} - {source}")
    if per_job:
        lines.append("")
        lines.append(f"{'rule':18s} {'job':28s} {'tokens':>12s} {'GPUs':>4s} {'GPU-hours':>10s} {'wall h':>7s}")
        shown: list[dict] = []
        for r in result["jobs"]:
            if r["rule"] == "translate_alpaca":
                lang = r["job"].split("/")[0]
                if shown and shown[-1]["rule"] == r["rule"] and shown[-1]["lang"] == lang:
                    last = shown[-1]
                    last["n"] += 1
                    last["job"] = f"{lang} ({last['n']} shards)"
                    last["tokens"] += r["tokens"]
                    last["gpu_hours"] += r["gpu_hours"]
                    last["wall_hours"] = max(last["wall_hours"] or 0, r["wall_hours"] or 0)  # shards run side by side
                    continue
                r = {**r, "lang": lang, "n": 1}
            shown.append(dict(r))
        for r in shown:
            wall = f"{r['wall_hours']:7.2f}" if r["wall_hours"] is not None else f"{'-':>7s}"
            lines.append(
                f"{r['rule']:18s} {r['job']:28s} {r['tokens']:12.4g} {r['gpus']:4d} {r['gpu_hours']:10.2f} {wall}"
            )
    return "\n".join(lines)
