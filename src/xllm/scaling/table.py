"""The paper's Table 4: per budget, the uniform and the optimized allocation, the pairs each language
got, and the measured FLORES En→X scores (means over languages) of the m-models trained on each.

The gap optimized − uniform is tested with a paired bootstrap over test sentences, drawn jointly for
all languages (one resample = one resample per language, the same for both systems), so the test is
on the mean over languages, which is what the table reports; "*" marks p < 0.1 as in the paper.
Metrics with no measured scores are left out, never filled in.

A second table puts, per budget, the gain the laws predicted (with its 95% interval and
P(optimized better) over the fits' bootstrap replicates, when the allocation carries them) beside
the gain measured on the laws' metric (with the paired bootstrap's 95% interval when the
generations are there to rescore): whether the prediction held.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import UserError

ALLOCS = ("uniform", "optimized")
METRIC_NAMES = {"comet": "COMET", "bleurt": "BLEURT", "bleu": "BLEU", "spbleu": "spBLEU", "chrf": "chrF"}


def read_scores(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        need = {"model", "budget", "alloc", "task", "direction", "metric", "value"}
        missing = need - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{path}: not a scores table; missing columns {', '.join(sorted(missing))}")
        return list(reader)


def budget_model(budget: str, alloc: str) -> str:
    return f"muit-budget/{budget}/{alloc}"


def measured_means(rows, budget: str, alloc: str, langs, task: str, metric: str) -> float | None:
    """Mean over languages of the En→X score; None unless every language has one."""
    want = {f"en-{lang}" for lang in langs}
    values = {}
    for row in rows:
        if row["metric"] != metric or row["task"] != task or row["direction"] not in want or not row["value"]:
            continue
        if row["model"] == budget_model(budget, alloc) or (row["budget"], row["alloc"]) == (budget, alloc):
            values[row["direction"]] = float(row["value"])
    return float(np.mean([values[d] for d in sorted(want)])) if len(values) == len(want) else None


def mean_gap_test(dir_a: Path, dir_b: Path, langs, task: str, metric: str, n_boot: int, seed: int) -> dict:
    """Paired bootstrap of the mean over languages: b (optimized) against a (uniform)."""
    from ..metrics import registry
    from ..metrics.bootstrap import SIGNIFICANCE_LEVEL, resample_counts
    from ..metrics.generations import load_item

    diffs = np.zeros(n_boot)
    delta = 0.0
    for k, lang in enumerate(langs):
        item = {"task": task, "direction": f"en-{lang}", "lang": lang, "reference": ""}
        need_src = metric == "comet"
        a = load_item(dir_a, item, need_sources=need_src)
        b = load_item(dir_b, item, need_sources=need_src)
        order = {str(i): j for j, i in enumerate(b.ids)}
        if len(a.ids) != len(b.ids) or set(order) != {str(i) for i in a.ids}:
            raise UserError(f"{task}/en-{lang}: {dir_a} and {dir_b} do not hold the same items")
        hyps_b = [b.hyps[order[str(i)]] for i in a.ids]
        score_a = registry.compute(metric, a.hyps, a.refs, srcs=a.srcs, lang=a.target_lang)
        score_b = registry.compute(metric, hyps_b, a.refs, srcs=a.srcs, lang=a.target_lang)
        counts = resample_counts(score_a.n, n_boot, seed + k)
        diffs += (score_b.resampled(counts) - score_a.resampled(counts)) / len(langs)
        delta += (score_b.score - score_a.score) / len(langs)
    centred = np.abs(diffs) - np.abs(diffs).mean()
    p_value = (int(np.sum(centred > abs(delta))) + 1) / (n_boot + 1)  # sacrebleu's paired bootstrap
    # sacrebleu calls a zero difference significant (multeval's convention); a table should not star +0.00.
    significant = bool(p_value < SIGNIFICANCE_LEVEL and abs(delta) > 1e-12)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {
        "delta": float(delta),
        "p_value": float(p_value),
        "significant": significant,
        "ci": [float(low), float(high)],
        "n_boot": n_boot,
        "seed": seed,
    }


def _fmt(value, digits=2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _fmt_ci(ci, digits=2, sign="") -> str:
    return f" [{ci[0]:{sign}.{digits}f}, {ci[1]:{sign}.{digits}f}]" if ci else ""


def gain_rows(allocations: list[dict], measured: dict, tests: dict, metrics: list[str]) -> tuple[list[str], dict]:
    """Predicted gain (interval, P(better)) beside the measured one, per budget, on the laws' metric:
    from the rescored generations (with the paired bootstrap's interval) when tested, else from the scores."""
    lines = [
        "| Budget | Objective | Predicted gain [95%] | P(optimized better) | Measured gain | "
        "Measured [95%] (paired bootstrap) | p |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    record = {}
    for alloc in allocations:
        name = alloc["budget_name"]
        unc = alloc.get("uncertainty") or {}
        opt, uni = alloc.get("mean_predicted"), alloc["uniform"].get("mean_predicted")
        predicted = opt - uni if opt is not None and uni is not None else None
        metric = alloc.get("metric") or (metrics[0] if metrics else None)  # the laws' metric, else the first shown
        got = test = None
        if (
            metric
            and measured.get((name, "optimized", metric)) is not None
            and measured.get((name, "uniform", metric)) is not None
        ):
            got = measured[name, "optimized", metric] - measured[name, "uniform", metric]
            test = tests.get((name, metric))
            got = test["delta"] if test else got  # rescored: the gain and its interval from one computation
        ci = (unc.get("gain") or {}).get("ci")
        p_better = unc.get("p_optimized_better")
        cells = [
            name,
            alloc.get("objective", "point"),
            ("–" if predicted is None else f"{predicted:+.3f}") + _fmt_ci(ci, 3, "+"),
            "–" if p_better is None else f"{p_better:.2f}",
            "–" if got is None else f"{got:+.3f} ({METRIC_NAMES.get(metric, metric)})",
            _fmt_ci(test["ci"], 3, "+").strip() if test and test.get("ci") else "–",
            f"{test['p_value']:.3f}" if test else "–",
        ]
        lines.append(f"| {' | '.join(cells)} |")
        record[name] = {
            "predicted_gain": predicted,
            "predicted_ci": ci,
            "p_optimized_better": p_better,
            "metric": metric,
            "measured_gain": got,
            "measured_ci": test.get("ci") if test else None,
        }
    return lines, record


def build_table(
    allocations: list[dict],
    rows: list[dict],
    metrics: list[str],
    task: str,
    generations_root: str | None,
    n_boot: int,
    seed: int,
    paper: dict | None,
) -> tuple[str, dict]:
    langs = list(allocations[0]["allocation"])
    for alloc in allocations[1:]:
        if list(alloc["allocation"]) != langs:
            raise UserError(
                f"allocation {alloc.get('budget_name')}: languages differ from {allocations[0].get('budget_name')}"
            )
    measured = {}
    for alloc in allocations:
        name = alloc["budget_name"]
        for which in ALLOCS:
            for metric in metrics:
                measured[name, which, metric] = measured_means(rows, name, which, langs, task, metric)
    shown = [
        m for m in metrics if any(measured[a["budget_name"], w, m] is not None for a in allocations for w in ALLOCS)
    ]
    tests = {}
    if generations_root:
        for alloc in allocations:
            name = alloc["budget_name"]
            dirs = [Path(generations_root) / budget_model(name, w) for w in ALLOCS]
            if not all(d.is_dir() for d in dirs):
                continue
            for metric in shown:
                if measured[name, "uniform", metric] is None or measured[name, "optimized", metric] is None:
                    continue
                tests[name, metric] = mean_gap_test(dirs[0], dirs[1], langs, task, metric, n_boot, seed)

    head = ["Budget", "Allocation", *langs, "Predicted", *(METRIC_NAMES.get(m, m) for m in shown)]
    lines = [f"| {' | '.join(head)} |", f"|{'---|' * len(head)}"]
    for alloc in allocations:
        name = alloc["budget_name"]
        parts = {"uniform": alloc["uniform"], "optimized": alloc}
        for which in ALLOCS:
            pairs = [f"{parts[which]['allocation'][lang]:,}" for lang in langs]
            ci = ((alloc.get("uncertainty") or {}).get("mean_predicted_ci") or {}).get(which)
            cells = [f"{name} ({alloc['budget']:,})", which, *pairs, _fmt(parts[which]["mean_predicted"]) + _fmt_ci(ci)]
            for metric in shown:
                value = measured[name, which, metric]
                cell = _fmt(value)
                if which == "optimized" and value is not None and measured[name, "uniform", metric] is not None:
                    gap = value - measured[name, "uniform", metric]
                    star = "*" if tests.get((name, metric), {}).get("significant") else ""
                    cell = f"{value:.2f}{star} ({gap:+.2f})"
                cells.append(cell)
            lines.append(f"| {' | '.join(cells)} |")
        caps = alloc.get("max_pairs") or {}
        if caps:  # min(configured max_pairs, pairs left after cleaning): what the splits could use
            lines.append(
                f"| {name} ({alloc['budget']:,}) | cap | "
                + " | ".join(f"{caps[lang]:,}" if lang in caps else "" for lang in langs)
                + " |"
                + " |" * (1 + len(shown))
            )
    text = [
        f"# Uniform vs optimized allocation ({task}, En→X, means over {', '.join(langs)})",
        "",
        *lines,
        "",
        "Pairs per language (cap: the most a split may give a language, min(max_pairs, pairs left after "
        "cleaning)); Predicted: the mean score the fitted scaling laws predict for the "
        "allocation; measured columns: the m-model trained on it. In brackets: optimized − uniform; "
        '"*": paired bootstrap over test sentences (all languages resampled jointly), p < 0.1.'
        + (
            " Predicted in brackets: 95% range over the laws' bootstrap replicates."
            if any(a.get("uncertainty") for a in allocations)
            else ""
        ),
    ]
    gains, gain_record = gain_rows(allocations, measured, tests, shown)
    text += [
        "",
        "Predicted against measured gain, optimized − uniform (the predicted interval and "
        "P(optimized better) come from re-scoring both splits under every bootstrap replicate of the laws):",
        "",
        *gains,
    ]
    if tests:
        text += ["", "| Budget | Metric | Δ (rescored from generations) | p |", "|---|---|---|---|"]
        for (name, metric), t in tests.items():
            text.append(f"| {name} | {METRIC_NAMES.get(metric, metric)} | {t['delta']:+.3f} | {t['p_value']:.3f} |")
    elif generations_root:
        text += ["", "Significance not tested: the budget models' generations were not found."]
    omitted = [m for m in metrics if m not in shown]
    if omitted:
        text += ["", f"Not measured (left out): {', '.join(omitted)}."]
    if paper:
        text += ["", *paper_rows(paper)]
    record = {
        "languages": langs,
        "metrics": shown,
        "measured": {f"{b}/{w}/{m}": v for (b, w, m), v in measured.items() if m in shown},
        "tests": {f"{b}/{m}": t for (b, m), t in tests.items()},
        "gains": gain_record,
    }
    return "\n".join(text) + "\n", record


def paper_rows(paper: dict) -> list[str]:
    """The paper's Table 4 as published (its budgets and languages), for comparison."""
    table = paper.get("table4_allocation") or {}
    if not table:
        return []
    langs = list(next(iter(table.values()))["uniform"]["pairs"])
    metrics = [m for m in ("comet", "bleurt", "bleu") if m in next(iter(table.values()))["uniform"]]
    head = ["Budget", "Allocation", *langs, *(METRIC_NAMES[m] for m in metrics)]
    lines = [
        "The paper's Table 4 (LLaMA-7B, FLORES-101 En→X):",
        "",
        f"| {' | '.join(head)} |",
        f"|{'---|' * len(head)}",
    ]
    for budget, body in table.items():
        for which in ALLOCS:
            row = body[which]
            lines.append(
                f"| {budget} | {which} | "
                + " | ".join(f"{row['pairs'][lang]:,}" for lang in langs)
                + " | "
                + " | ".join(f"{row[m]:.2f}" for m in metrics)
                + " |"
            )
    return lines


def read_allocations(paths) -> list[dict]:
    allocations = []
    for path in paths:
        try:
            obj = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: not valid JSON ({err.msg})") from None
        for key in ("allocation", "uniform", "budget"):
            if key not in obj:
                raise UserError(f"{path}: not an allocation (no {key!r})")
        obj.setdefault("budget_name", Path(path).stem)
        allocations.append(obj)
    return allocations


def table_command(
    allocations: list[str],
    scores: str,
    out: str,
    *,
    metrics: list[str],
    task: str = "flores",
    generations_root: str | None = None,
    paper_tables: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> int:
    """Write Table 4 (markdown) from allocation JSONs, the scores table and, if given, the generations."""
    import yaml

    from ..atomic import atomic_open

    paper = None
    if paper_tables:
        paper = yaml.safe_load(Path(paper_tables).read_text(encoding="utf-8")) or {}
    loaded = read_allocations(allocations)
    text, _ = build_table(loaded, read_scores(scores), metrics, task, generations_root, n_boot, seed, paper)
    with atomic_open(out) as handle:
        handle.write(text)
    print(f"{out}: {len(loaded)} budget(s)")
    return 0
