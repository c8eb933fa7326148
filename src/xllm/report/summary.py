"""``results/tables/scores_summary.md``: every score in one readable page, the paper's beside ours.

One table per (task, metric): rows are models, columns the evaluated directions (FLORES En→X
then X→En, with the mean over languages) or QA languages. The x-models of one recipe and scale
(one model per language) share a row, so the table reads like the paper's. Where a column's
language is one of the paper's and the paper published that task and metric (exact match and
judge accuracy on XQuAD/MLQA, Tables 2 and 6; the Chinese ablation, Figure 6), the paper's
models follow as extra rows, on the same 0-100 scale as ours. Table 6's "exact match" is the
authors' ``match`` (a substring test, ``xllm.metrics.qa.match``), so it sits beside our ``match``,
never beside ``em`` (MLQA-normalized exact match, a stricter metric).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..atomic import atomic_open
from ..errors import UserError
from ..provenance import provenance
from .inputs import direction_kind, eval_lang, kind_title, lang_label, ordered_langs, read_scores, scale_key

PAPER_MODELS = {
    "alpaca-7b": "Alpaca-7B",
    "chinese-alpaca-7b": "Chinese-Alpaca-7B",
    "bayling-7b": "BayLing-7B",
    "x-llama-7b": "x-LLaMA-7B",
}
PAPER_QA_TABLES = {
    "match": ("table6_match", "Table 6"),
    "judge": ("table2_judge_accuracy", "Table 2"),
    "judge_accuracy": ("table2_judge_accuracy", "Table 2"),
}
# Our Figure 6 ablation recipes (on the config's ablation_lang) and the paper's names for them (on zh).
PAPER_ABLATIONS = {
    "alpaca-en": "alpaca-en",
    "abl-alpaca-x": "alpaca-zh",
    "abl-en-x": "en-zh",
    "abl-alpaca-en-x": "alpaca-en+alpaca-zh",
    "abl-alpaca-en-x-enx": "alpaca-en+alpaca-zh+en-zh",
    "abl-alpaca-en-x-xen": "alpaca-en+alpaca-zh+zh-en",
}
GROUP_RANK = {"baseline": 0, "x": 1, "m": 2, "budget": 3, "ablation": 4, "other": 5}


def row_key(model: str) -> tuple:
    """(group, recipe, scale, label): x-models of one recipe and scale collapse into one row."""
    parts = model.split("/")
    if len(parts) == 1:
        return ("baseline", model, "", model)
    head = parts[0]
    if head == "muit-budget" and len(parts) == 3:
        return ("budget", head, parts[1], model)
    if head == "ablation" and len(parts) == 3:
        return ("ablation", parts[2], parts[1], model)
    if len(parts) == 3:  # RECIPE/LANG/SCALE
        return ("x", head, parts[2], f"{head}/X/{parts[2]} (x-models)")
    if len(parts) == 2:  # RECIPE/SCALE: one model for every language
        return ("m", head, parts[1], model)
    return ("other", head, "", model)


def _sort_key(key: tuple) -> tuple:
    group, recipe, scale, label = key
    return (GROUP_RANK[group], recipe, scale_key(scale), scale, label)


def _columns(rows: list[dict], langs: list[str] | None) -> list[tuple[str, str]]:
    """(kind, direction) columns: En→X, then X→En, then QA languages, each in language order."""
    # English last: only QA has en columns (Tables 2 and 6, eval.english_qa)
    found = ordered_langs((eval_lang(r) for r in rows), [*langs, "en"] if langs else None)
    present = {(direction_kind(r["direction"], r["task"]), eval_lang(r), r["direction"]) for r in rows}
    return [
        (kind, direction)
        for kind in ("en-x", "x-en", "x")
        for lang in found
        for direction in sorted(d for k, code, d in present if k == kind and code == lang)
    ]


def _header(task: str, direction: str, names: dict[str, str]) -> str:
    if "-" not in direction:
        return lang_label(direction, names)
    return direction.replace("-", "→") if task == "flores" else direction  # QA: CONTEXT-QUESTION


def _mean_header(kind: str, task: str) -> str:
    if kind == "x":
        return "mean"
    if task == "flores":
        return {"en-x": "mean en→X", "x-en": "mean X→en"}[kind]
    return f"mean ({kind_title(kind, task)})"


def _fmt(value: float | None, decimals: int, ci: tuple | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{decimals}f}"
    if ci and ci[0] is not None and ci[1] is not None:
        text += f" [{ci[0]:.{decimals}f}, {ci[1]:.{decimals}f}]"
    return text


def load_paper_tables(path: str | Path | None) -> dict:
    if not path:
        return {}
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of the paper's tables")
    return data


def paper_rows(paper: dict, task: str, metric: str, columns: list[tuple[str, str]]) -> list[tuple[str, dict]]:
    """(label, {direction: value}) of the paper's models for the columns in the paper's languages."""
    rows = []
    table_key, where = PAPER_QA_TABLES.get(metric, (None, None))
    # the paper's QA numbers are same-language (XQuAD X, MLQA X-X): never a cross-lingual column
    col_lang = {
        direction: eval_lang({"task": task, "direction": direction}) for kind, direction in columns if kind == "x"
    }
    if table_key and isinstance(paper.get(table_key), dict) and task in paper[table_key]:
        for model, per_lang in (paper[table_key][task] or {}).items():
            values = {d: 100.0 * float(per_lang[lang]) for d, lang in col_lang.items() if lang in (per_lang or {})}
            if values:
                rows.append((f"paper: {PAPER_MODELS.get(model, model)} ({where})", values))
    ablation = paper.get("figure6_ablation_zh_xquad")
    if task == "xquad" and metric in ("judge", "judge_accuracy") and isinstance(ablation, dict):
        zh_cols = [d for d, lang in col_lang.items() if lang == "zh"]
        ours = {paper_name: recipe for recipe, paper_name in PAPER_ABLATIONS.items()}
        for name, value in ablation.items():
            if zh_cols:
                label = f"paper: {name} (Figure 6" + (f"; ours: {ours[name]})" if name in ours else ")")
                rows.append((label, {d: 100.0 * float(value) for d in zh_cols}))
    return rows


def _num(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def fits_table(fit_paths: list[str], names: dict[str, str], langs: list[str] | None = None) -> list[str]:
    """The estimated laws (the paper lists them in its Figure 3): one row per language."""
    from ..atomic import read_json
    from .scaling_plot import load_fit

    order = {lang: i for i, lang in enumerate(langs or [])}
    fits = sorted(((load_fit(p), p) for p in fit_paths), key=lambda item: order.get(item[0].lang, len(order)))

    lines = [
        "## Scaling laws S(X) = 100 − α·(γ·X)^β",
        "",
        "Fitted to the x-models' scores (see the scaling-law figure); 95% intervals by the bootstrap in "
        "the CI column: *segment* resamples the test sentences (paired over scales), *point* resamples "
        "the 4-6 points and understates the uncertainty; the extrapolation error is the score error at "
        "the largest scale when it is held out. Flagged laws are listed under the table.",
        "",
        "| language | metric | points | α [95% CI] | β [95% CI] | γ | R² | RMSE | extrapolation error | CI | flags |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    warnings = []
    for fit, path in fits:
        label = lang_label(fit.lang, names)
        metric = f"{fit.metric} ({fit.direction})" if fit.direction else fit.metric or "–"
        if not fit.ok:
            lines.append(f"| {label} | {metric} | {len(fit.points)} | fit failed: {fit.reason} | | | | | | | |")
            continue
        loso = (read_json(path, "a scaling-law fit").get("loso") or {}).get("extrapolation_error")
        cis = {k: f" [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in fit.ci.items()}
        method = fit.ci_method.replace("-bootstrap", "") if fit.ci_method else ("point" if fit.ci else "–")
        flags = ", ".join(f["flag"] for f in fit.flags) or "–"
        lines.append(
            f"| {label} | {metric} | {len(fit.points)} | {fit.alpha:.3g}{cis.get('alpha', '')} | "
            f"{fit.beta:.3g}{cis.get('beta', '')} | {fit.gamma:.3g} | {_num(fit.r2, '.3f')} | "
            f"{_num(fit.rmse, '.2f')} | {_num(loso, '.2f')} | {method} | {flags} |"
        )
        warnings += [f"- **{label}**: {f.get('message', f['flag'])}" for f in fit.flags]
    if warnings:
        lines += [
            "",
            "**Warnings** (read these before trusting the laws or the allocation built on them):",
            "",
            *warnings,
        ]
    return lines + [""]


def generation_model_id(path: str | Path) -> str:
    """``results/generations/coit/ar/100/generation.json`` -> ``coit/ar/100`` (else the folder's name)."""
    parent = Path(path).parent
    parts = parent.parts
    if "generations" in parts:
        at = len(parts) - 1 - parts[::-1].index("generations")
        if at + 1 < len(parts):
            return "/".join(parts[at + 1 :])
    return parent.name


def truncation_table(generation_files: list[str | Path]) -> list[str]:
    """Prompts cut from the left to fit the context, per model and task (from ``generation.json``):
    a score over cut prompts is not the score of the test set's prompts, so the count is shown."""
    from ..atomic import read_json

    counts: dict[str, dict[str, tuple[int, int]]] = {}
    for path in generation_files:
        items = read_json(path, "a generation summary", dict).get("items") or {}
        per_task = counts.setdefault(generation_model_id(path), {})
        for name, item in items.items():
            task = name.split("/")[0]
            cut, n = per_task.get(task, (0, 0))
            per_task[task] = (cut + int(item.get("n_truncated_prompts", 0)), n + int(item.get("n", 0)))
    tasks = sorted({task for per_task in counts.values() for task in per_task})
    lines = [
        "## Prompts cut to fit the context",
        "",
        "Prompts of each model and task cut from the left to leave room for the new tokens "
        "(cut / all); none should be.",
        "",
        "| model | " + " | ".join(tasks) + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for model in sorted(counts, key=lambda m: _sort_key(row_key(m)) + (m,)):
        cells = [f"{counts[model][t][0]} / {counts[model][t][1]}" if t in counts[model] else "–" for t in tasks]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines + [""]


def summarize(
    scores: str | Path,
    out: str | Path,
    *,
    paper_tables: str | Path | None = None,
    langs: list[str] | None = None,
    names: dict[str, str] | None = None,
    ci: bool = False,
    fits: list[str] | None = None,
    generations: list[str] | None = None,
    judge: str | None = None,
) -> Path:
    names = names or {}
    rows = read_scores(scores)
    paper = load_paper_tables(paper_tables)
    sections = sorted({(r["task"], r["metric"]) for r in rows})
    lines = [
        "# Scores summary",
        "",
        f"From `{scores}`: {len(rows)} scores, {len({r['model'] for r in rows})} models. "
        "Corpus-level scores on a 0-100 scale; a row `RECIPE/X/SCALE (x-models)` gathers the "
        "one-language models of that recipe and scale, each in its own language's columns. "
        "Means are over languages and shown only for rows that have every language."
        + (" Brackets hold the bootstrap 95% confidence interval." if ci else ""),
        "",
    ]
    if paper:
        lines += [
            f"Rows marked *paper* are the published numbers (from `{paper_tables}`), fractions "
            "scaled to 0-100; they share a column with ours only where the language is the paper's.",
            "",
        ]
    if not rows:
        lines += ["No scores yet.", ""]
    for task, metric in sections:
        section = [r for r in rows if r["task"] == task and r["metric"] == metric]
        columns = _columns(section, langs)
        if not columns:
            continue
        decimals = 2 if max(abs(r["value"]) for r in section) <= 1.5 else 1
        table: dict[tuple, dict[str, dict]] = {}
        for r in section:
            table.setdefault(row_key(r["model"]), {})[r["direction"]] = r
        kinds = [k for k in ("en-x", "x-en", "x") if any(c[0] == k for c in columns)]
        # means are over the non-English languages (an en QA column stands beside them)
        in_mean = {d for k, d in columns if eval_lang({"task": task, "direction": d}) != "en"}
        show_mean = {k: sum(1 for c in columns if c[0] == k and c[1] in in_mean) > 1 for k in kinds}
        header = ["model"]
        for kind in kinds:
            header += [_header(task, d, names) for k, d in columns if k == kind]
            if show_mean[kind]:
                header.append(_mean_header(kind, task))
        body = []
        for key in sorted(table, key=_sort_key):
            cells = table[key]
            line = [key[3]]
            for kind in kinds:
                values = []
                for k, d in columns:
                    if k != kind:
                        continue
                    r = cells.get(d)
                    if d in in_mean:
                        values.append(r["value"] if r else None)
                    line.append(_fmt(r["value"], decimals, (r["ci_low"], r["ci_high"]) if ci else None) if r else "–")
                if show_mean[kind]:
                    complete = all(v is not None for v in values)
                    line.append(_fmt(sum(values) / len(values), decimals) if complete else "–")
            body.append(line)
        for label, values in paper_rows(paper, task, metric, columns):
            line = [f"*{label}*"]
            for kind in kinds:
                kind_values = [values.get(d) for k, d in columns if k == kind]
                line += [_fmt(v, decimals) if v is not None else "" for v in kind_values]
                kind_values = [values.get(d) for k, d in columns if k == kind and d in in_mean]
                if show_mean[kind]:
                    complete = all(v is not None for v in kind_values)
                    line.append(_fmt(sum(kind_values) / len(kind_values), decimals) if complete else "")
            body.append(line)
        lines += [f"## {task} · {metric}", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        lines += ["| " + " | ".join(line) + " |" for line in body]
        lines.append("")
    if judge == "off":
        lines += [
            "## LLM judge (Table 2, Figure 6, MI-Eval)",
            "",
            "Not run: `eval.judge` is null. Set it to an OpenAI-compatible endpoint and model (the key "
            "in the environment variable it names) to judge the QA answers on the first 100 questions.",
            "",
        ]
    if fits:
        lines += fits_table(fits, names, langs)
    if generations:
        lines += truncation_table(generations)
    record = provenance(
        inputs=[str(scores)]
        + ([str(paper_tables)] if paper_tables else [])
        + list(fits or [])
        + list(generations or [])
    )
    lines.append(f"<!-- provenance: {json.dumps(record, sort_keys=True)} -->")
    out = Path(out)
    with atomic_open(out) as handle:
        handle.write("\n".join(lines) + "\n")
    return out
