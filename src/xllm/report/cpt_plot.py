"""Figure 7: scaling with monolingual data (continued pre-training, then cross-lingual Alpaca:
``cpt``) against scaling with parallel data (CoIT: ``coit``), score vs data size per language.

The x-axis is the scale of the model id: translation pairs for CoIT, documents of monolingual
text for CPT (both nested seeded subsets); ``full`` has no number and is left out. The y-axis is
the FLORES score of the scaling laws (``scaling.metric``, En→X by default), with its 95% bootstrap
interval.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .figure import COLORS, grid, pyplot, save_png
from .inputs import direction_kind, eval_lang, lang_label, ordered_langs, read_scores

SERIES = {"coit": ("CoIT (parallel pairs)", COLORS["x"]), "cpt": ("CPT (monolingual documents)", COLORS["m"])}


def curves(rows: list[dict], recipes: list[str], task: str, metric: str, kind: str) -> dict:
    """{lang: {recipe: [(scale, value, ci_low, ci_high)] by scale}} of the numeric scales."""
    out: dict = {}
    for r in rows:
        if r["recipe"] not in recipes or r["task"] != task or r["metric"] != metric:
            continue
        if direction_kind(r["direction"], task) != kind or not str(r["scale"]).isdigit():
            continue
        out.setdefault(eval_lang(r), {}).setdefault(r["recipe"], []).append(
            (int(r["scale"]), r["value"], r["ci_low"], r["ci_high"])
        )
    for per in out.values():
        for points in per.values():
            points.sort()
    return out


def plot_cpt(
    scores: str | Path,
    out: str | Path,
    *,
    task: str = "flores",
    metric: str = "bleu",
    kind: str = "en-x",
    recipes: tuple[str, str] = ("coit", "cpt"),
    langs: list[str] | None = None,
    names: dict[str, str] | None = None,
) -> Path:
    data = curves(read_scores(scores), list(recipes), task, metric, kind)
    found = [lang for lang in ordered_langs(data, langs) if recipes[1] in data[lang]]
    if not found:
        raise UserError(f"{scores}: no {recipes[1]} model has {task} {metric} ({kind}) scores")
    plt = pyplot()
    rows, cols = grid(len(found))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, lang in zip(axes.flat, found):
        for recipe in recipes:
            points = data[lang].get(recipe, [])
            if not points:
                continue
            label, color = SERIES.get(recipe, (recipe, None))
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            ax.plot(xs, ys, marker="o", color=color, label=label)
            if all(p[2] is not None and p[3] is not None for p in points):
                ax.fill_between(xs, [p[2] for p in points], [p[3] for p in points], color=color, alpha=0.15)
        ax.set_xscale("log")
        ax.set_xlabel("training data (pairs or documents)")
        ax.set_ylabel(f"{metric} ({kind.replace('x', lang_label(lang, names or {}))})")
        ax.set_title(lang_label(lang, names or {}))
        ax.legend(loc="lower right")
    for ax in list(axes.flat)[len(found) :]:
        ax.set_visible(False)
    fig.suptitle("Parallel vs monolingual data (the paper's Figure 7)")
    return save_png(fig, out, [str(scores)])
