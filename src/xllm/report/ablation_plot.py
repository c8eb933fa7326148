"""Figure 6: what each part of the instruction data adds, on one language's QA.

One bar per ablation model (``ablation/{lang}/{recipe}``, plus the English-Alpaca baseline), its
judged accuracy on the ablation language's XQuAD (``judge``, the paper's Figure 6; any QA metric
works) with the 95% bootstrap interval; where the language is the paper's (zh) the paper's bars
stand beside ours, matched by the recipe names in ``summary.PAPER_ABLATIONS``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .figure import COLORS, pyplot, save_png
from .inputs import lang_label, read_scores
from .summary import PAPER_ABLATIONS, load_paper_tables


def ablation_bars(rows: list[dict], lang: str, models: list[str], task: str, metric: str) -> list[tuple]:
    """(model, recipe, value, ci_low, ci_high) per model that has the score, in ``models`` order."""
    found = {r["model"]: r for r in rows if r["task"] == task and r["metric"] == metric and r["direction"] == lang}
    bars = []
    for model in models:
        r = found.get(model)
        if r is not None:
            bars.append((model, model.split("/")[-1], r["value"], r["ci_low"], r["ci_high"]))
    return bars


def plot_ablation(
    scores: str | Path,
    out: str | Path,
    *,
    lang: str,
    models: list[str],
    task: str = "xquad",
    metric: str = "judge",
    paper_tables: str | Path | None = None,
    names: dict[str, str] | None = None,
) -> Path:
    bars = ablation_bars(read_scores(scores), lang, models, task, metric)
    if not bars:
        raise UserError(f"{scores}: no {task} {metric} score in {lang!r} for any of {', '.join(models)}")
    paper = (load_paper_tables(paper_tables).get("figure6_ablation_zh_xquad") or {}) if lang == "zh" else {}
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.2 * len(bars) + 2, 3.2))
    xs = range(len(bars))
    width = 0.38 if paper else 0.6
    values = [b[2] for b in bars]
    errors = [
        [v - lo if lo is not None else 0 for v, lo in zip(values, (b[3] for b in bars))],
        [hi - v if hi is not None else 0 for v, hi in zip(values, (b[4] for b in bars))],
    ]
    ax.bar(
        [x - (width / 2 if paper else 0) for x in xs],
        values,
        width,
        yerr=errors,
        capsize=3,
        color=COLORS["x"],
        label="ours (95% CI)",
    )
    if paper:
        theirs = [100.0 * paper[PAPER_ABLATIONS[b[1]]] if PAPER_ABLATIONS.get(b[1]) in paper else 0.0 for b in bars]
        ax.bar([x + width / 2 for x in xs], theirs, width, color=COLORS["baseline"], label="paper (Figure 6)")
    ax.set_xticks(list(xs), [b[1] for b in bars], rotation=25, ha="right")
    ax.set_ylabel(f"{metric} (0-100)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Instruction data ablation: {task} in {lang_label(lang, names or {})}")
    ax.legend(loc="upper left")
    return save_png(fig, out, [str(scores)] + ([str(paper_tables)] if paper_tables else []))
