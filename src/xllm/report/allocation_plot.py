"""Uniform vs. optimized allocation of a translation-data budget, per budget and language.

Left: pairs each language gets. Right: the score the fitted laws predict for each language
under each allocation and, where the m-models trained on them were scored, the measured score
on the same metric (FLORES En→X), so the prediction can be checked against reality. When the
allocation carries the laws' bootstrap replicates, the right panel's title gives the predicted
gain's 95% interval and P(optimized better) over them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..atomic import read_json
from ..errors import UserError
from .figure import COLORS, pyplot, save_png
from .inputs import direction_kind, eval_lang, lang_label, number, ordered_langs, read_scores

ALLOCS = ("uniform", "optimized")
METRIC_PREFERENCE = ("comet", "chrf", "bleu", "spbleu", "bleurt")


@dataclass(frozen=True)
class Allocation:
    path: str
    name: str
    budget: float
    pairs: dict  # alloc -> {lang: int}
    predicted: dict  # alloc -> {lang: float}
    mean_predicted: dict  # alloc -> float | None
    metric: str = ""
    uncertainty: dict | None = None  # {"gain": {"ci"}, "p_optimized_better", "objective", ...}

    def gain_note(self) -> str:
        """'gain +0.42 [−0.10, +0.95], P(better) 0.86' or the point gain alone."""
        opt, uni = self.mean_predicted["optimized"], self.mean_predicted["uniform"]
        if opt is None or uni is None:
            return ""
        text = f"predicted gain {opt - uni:+.2f}"
        unc = self.uncertainty or {}
        ci = (unc.get("gain") or {}).get("ci")
        if ci:
            text += f" [{ci[0]:+.2f}, {ci[1]:+.2f}]"
        if unc.get("p_optimized_better") is not None:
            text += f", P(optimized better) {unc['p_optimized_better']:.2f}"
        return text


def _lang_numbers(obj, path, key) -> dict[str, float]:
    if not isinstance(obj, dict):
        raise UserError(f"{path}: {key} must map language -> number")
    out = {}
    for lang, value in obj.items():
        try:
            out[str(lang)] = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{path}: {key}.{lang} = {value!r} is not a number") from None
    return out


def load_allocation(path: str | Path) -> Allocation:
    data = read_json(path, "an allocation")
    for key in ("allocation", "uniform"):
        if key not in data:
            raise UserError(f"{path}: missing key {key!r}")
    if not isinstance(data["uniform"], dict) or "allocation" not in data["uniform"]:
        raise UserError(f"{path}: 'uniform' must hold its own 'allocation'")
    parts = {"optimized": data, "uniform": data["uniform"]}
    pairs = {
        a: _lang_numbers(parts[a]["allocation"], path, f"{'uniform.' if a == 'uniform' else ''}allocation")
        for a in ALLOCS
    }
    predicted = {a: _lang_numbers(parts[a].get("predicted") or {}, path, "predicted") for a in ALLOCS}
    means = {}
    for a in ALLOCS:
        mean = parts[a].get("mean_predicted")
        means[a] = (
            float(mean)
            if mean is not None
            else (sum(predicted[a].values()) / len(predicted[a]) if predicted[a] else None)
        )
    budget = number(data, "budget", path) if "budget" in data else sum(pairs["optimized"].values())
    name = str(data.get("name") or data.get("budget_name") or Path(path).stem)
    uncertainty = data.get("uncertainty")
    if uncertainty is not None and not isinstance(uncertainty, dict):
        raise UserError(f"{path}: 'uncertainty' must be an object")
    return Allocation(
        str(path), name, budget, pairs, predicted, means, data.get("metric") or _fits_metric(data), uncertainty
    )


def _fits_metric(data: dict) -> str:
    """The metric of the fits an allocation was computed from (``fits`` lists their files)."""
    import json

    for fit in data.get("fits") or []:
        try:
            metric = json.loads(Path(fit).read_text(encoding="utf-8")).get("metric")
        except (OSError, ValueError, AttributeError):
            continue
        if metric:
            return str(metric)
    return ""


def measured_scores(rows: list[dict], name: str, task: str, metric: str) -> dict[str, dict[str, float]]:
    """alloc -> {lang: value} of the budget m-models (``budget`` column = the allocation's name)."""
    out: dict[str, dict[str, float]] = {a: {} for a in ALLOCS}
    for r in rows:
        if (
            r.get("budget") == name
            and r.get("alloc") in out
            and r["task"] == task
            and r["metric"] == metric
            and direction_kind(r["direction"], r["task"]) == "en-x"
        ):
            out[r["alloc"]][eval_lang(r)] = r["value"]
    return out


def pick_metric(rows: list[dict], allocations: list[Allocation], task: str) -> str | None:
    """The fits' metric when the allocation says it, else the first of METRIC_PREFERENCE measured."""
    for alloc in allocations:
        if alloc.metric:
            return alloc.metric
    names = {a.name for a in allocations}
    present = {r["metric"] for r in rows if r.get("budget") in names and r["task"] == task}
    for metric in METRIC_PREFERENCE:
        if metric in present:
            return metric
    return sorted(present)[0] if present else None


def _fmt_pairs(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:.0f}"


def plot_allocation(
    allocation_paths: list[str],
    out: str | Path,
    *,
    scores: str | Path | None = None,
    task: str = "flores",
    metric: str | None = None,
    langs: list[str] | None = None,
    names: dict[str, str] | None = None,
) -> Path:
    import numpy as np

    names = names or {}
    allocations = sorted((load_allocation(p) for p in allocation_paths), key=lambda a: (a.budget, a.name))
    if not allocations:
        raise UserError("--allocations: no allocation files given")
    rows = read_scores(scores) if scores else []
    metric = metric or pick_metric(rows, allocations, task)
    plt = pyplot()
    all_langs = ordered_langs([lang for a in allocations for lang in a.pairs["optimized"]], langs)
    if not all_langs:
        raise UserError(f"{allocations[0].path}: no languages in the allocation")
    n = len(allocations)
    width_in = max(4.5, 0.9 * len(all_langs) + 2.0)
    fig, axes = plt.subplots(n, 2, figsize=(2 * width_in, 3.4 * n), squeeze=False)
    centers = np.arange(len(all_langs))
    labels = [lang_label(lang, names) for lang in all_langs]
    any_measured = False
    for (ax_pairs, ax_score), alloc in zip(axes, allocations):
        measured = measured_scores(rows, alloc.name, task, metric) if metric else {a: {} for a in ALLOCS}
        for i, kind in enumerate(ALLOCS):
            xs = centers + (i - 0.5) * 0.4
            heights = [alloc.pairs[kind].get(lang, np.nan) for lang in all_langs]
            bars = ax_pairs.bar(xs, heights, 0.4, color=COLORS[kind], label=kind)
            ax_pairs.bar_label(
                bars, labels=[_fmt_pairs(h) if not math.isnan(h) else "" for h in heights], fontsize=7, padding=2
            )
            predicted = [alloc.predicted[kind].get(lang, np.nan) for lang in all_langs]
            if not all(math.isnan(p) for p in predicted):
                ax_score.plot(
                    xs,
                    predicted,
                    "o",
                    mfc="white",
                    mec=COLORS[kind],
                    mew=1.5,
                    ms=7,
                    label=f"{kind}: predicted (mean {alloc.mean_predicted[kind]:.2f})",
                )
            got = [measured[kind].get(lang, np.nan) for lang in all_langs]
            if not all(math.isnan(g) for g in got):
                any_measured = True
                mean = float(np.nanmean(got))
                ax_score.bar(xs, got, 0.4, color=COLORS[kind], alpha=0.55, label=f"{kind}: measured (mean {mean:.2f})")
        ax_pairs.set_xticks(centers, labels)
        ax_pairs.set_ylabel("translation pairs")
        ax_pairs.set_title(f"budget {alloc.name}: {alloc.budget:,.0f} pairs")
        top = max((v for a in ALLOCS for v in alloc.pairs[a].values()), default=1.0)
        ax_pairs.set_ylim(0, top * 1.3)
        ax_pairs.legend(loc="upper center", ncol=2)
        ax_score.set_xticks(centers, labels)
        ax_score.set_ylabel(f"{metric or 'score'} ({task} En→X)")
        note = alloc.gain_note()
        ax_score.set_title(
            f"budget {alloc.name}: predicted vs. measured" + (f"\n{note}" if note else ""), fontsize="medium"
        )
        ax_score.margins(y=0.15)
        ax_score.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
        for ax in (ax_pairs, ax_score):
            ax.grid(axis="x", visible=False)
    fig.suptitle("Uniform vs. scaling-law-optimized allocation of the translation-data budget")
    fig.tight_layout()
    inputs = list(allocation_paths) + ([str(scores)] if scores else [])
    gains = {a.name: a.gain_note() for a in allocations}
    return save_png(fig, out, inputs, task=task, metric=metric, measured=any_measured, gains=gains)
