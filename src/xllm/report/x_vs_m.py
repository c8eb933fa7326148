"""Figure 4: per language, the x-model (one language) against the m-model (all languages).

For each language the x-model shown is the one trained at the m-model's scale when it exists,
otherwise the largest scale measured, so both saw as many translation pairs per language as
the data allows; the English-only Alpaca baseline is drawn beside them. FLORES gets one panel
per direction (En→X and X→En); a QA task has one panel.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .figure import COLORS, pyplot, save_png
from .inputs import direction_kind, eval_lang, kind_title, lang_label, ordered_langs, read_scores, scale_key


def select_models(rows: list[dict], x_recipe: str, m_recipe: str, baseline: str) -> dict:
    """Which model each series uses: the m-model of largest scale, per language the matching x-model."""
    m_models = sorted(
        {(r["scale"], r["model"]) for r in rows if r["recipe"] == m_recipe}, key=lambda item: scale_key(item[0])
    )
    m_scale, m_model = m_models[-1] if m_models else ("", None)
    x_by_lang: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["recipe"] == x_recipe:
            x_by_lang.setdefault(eval_lang(r), {})[r["scale"]] = r["model"]
    x_models = {}
    for lang, scales in x_by_lang.items():
        scale = m_scale if m_scale in scales else max(scales, key=scale_key)
        x_models[lang] = (scale, scales[scale])
    base = baseline if any(r["model"] == baseline for r in rows) else None
    return {"m": (m_scale, m_model), "x": x_models, "baseline": base}


def _value(rows, model, lang, kind):
    for r in rows:
        if r["model"] == model and eval_lang(r) == lang and direction_kind(r["direction"], r["task"]) == kind:
            return r
    return None


def _panels(scores, all_rows, task, metric, x_recipe, m_recipe, baseline, langs):
    """The panels of one (task, metric): [(kind, rows, chosen, languages)]."""
    rows = [r for r in all_rows if r["task"] == task and r["metric"] == metric]
    if not rows:
        raise UserError(f"{scores}: no scores with task={task} and metric={metric}")
    chosen = select_models(rows, x_recipe, m_recipe, baseline)
    if chosen["m"][1] is None and not chosen["x"]:
        raise UserError(f"{scores}: no {x_recipe} or {m_recipe} model has {task} {metric} scores")
    relevant = {chosen["baseline"], chosen["m"][1]} | {model for _, model in chosen["x"].values()}
    rows = [r for r in rows if r["model"] in relevant]
    found = ordered_langs((eval_lang(r) for r in rows if eval_lang(r) != "en"), langs)
    if not found:
        raise UserError(f"{scores}: none of the languages {', '.join(langs or [])} has {task} {metric} scores")
    kinds = [k for k in ("en-x", "x-en", "x") if any(direction_kind(r["direction"], task) == k for r in rows)]
    return [(kind, rows, chosen, found) for kind in kinds]


def _pairs(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UserError(f"--{what}: empty")
    return items


def _model_for(chosen: dict, role: str, lang: str):
    """The model a bar of ``role`` shows for ``lang``: the baseline, lang's X-model or the M-model."""
    if role == "baseline":
        return chosen["baseline"]
    if role == "x":
        return chosen["x"].get(lang, ("", None))[1]
    return chosen["m"][1]


def plot_x_vs_m(
    scores: str | Path,
    task: str,
    metric: str,
    out: str | Path,
    *,
    x_recipe: str = "coit",
    m_recipe: str = "muit",
    baseline: str = "alpaca-en",
    langs: list[str] | None = None,
    names: dict[str, str] | None = None,
) -> Path:
    """``task`` and ``metric`` may list several (comma-separated, one metric per task or one for all)."""
    import numpy as np

    names = names or {}
    tasks, metrics = _pairs(task, "task"), _pairs(metric, "metric")
    if len(metrics) == 1:
        metrics = metrics * len(tasks)
    if len(metrics) != len(tasks):
        raise UserError(f"--metric: give one metric, or one per task ({len(tasks)}), not {len(metrics)}")
    all_rows = read_scores(scores)
    panels = []  # (task, metric, kind, rows, chosen, langs)
    for t, m in zip(tasks, metrics):
        panels += [(t, m, *panel) for panel in _panels(scores, all_rows, t, m, x_recipe, m_recipe, baseline, langs)]

    x_scales = sorted({s for p in panels for s, _ in p[4]["x"].values()}, key=scale_key)
    m_models = sorted({p[4]["m"][1] for p in panels if p[4]["m"][1]})
    labels = {
        "baseline": f"{baseline} (English instructions only)",
        "x": f"x-model ({x_recipe}, one per language, {' / '.join(x_scales)} pairs)",
        "m": f"m-model ({', '.join(m_models) or m_recipe + ': missing'})",
    }
    plt = pyplot()
    widths = [max(4.0, 1.2 * len(p[5]) + 1.5) for p in panels]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(sum(widths), 3.9), squeeze=False, gridspec_kw={"width_ratios": widths}
    )
    width = 0.8 / 3
    handles = {}
    for ax, (t, m, kind, rows, chosen, panel_langs) in zip(axes.flat, panels):
        centers = np.arange(len(panel_langs))
        for i, role in enumerate(("baseline", "x", "m")):
            heights, errors, present = [], [[], []], []
            for lang in panel_langs:
                model = _model_for(chosen, role, lang)
                row = _value(rows, model, lang, kind) if model else None
                value = row["value"] if row else np.nan
                heights.append(value)
                lo = row["ci_low"] if row and row["ci_low"] is not None else value
                hi = row["ci_high"] if row and row["ci_high"] is not None else value
                errors[0].append(max(0.0, value - lo) if row else 0.0)
                errors[1].append(max(0.0, hi - value) if row else 0.0)
                present.append(row is not None)
            if not any(present):
                continue
            xs = centers + (i - 1) * width
            bars = ax.bar(
                xs, heights, width, yerr=errors, capsize=2, color=COLORS[role], label=labels[role], error_kw={"lw": 0.8}
            )
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
            handles.setdefault(role, bars)
        ax.set_xticks(centers, [lang_label(lang, names) for lang in panel_langs])
        ax.set_title(f"{t} {kind_title(kind, t)}".strip())
        ax.set_ylabel(m)
        ax.grid(axis="x", visible=False)
        ax.margins(y=0.15)
    order = [role for role in ("baseline", "x", "m") if role in handles]
    fig.legend(
        [handles[r] for r in order],
        [labels[r] for r in order],
        loc="lower center",
        ncol=len(order),
        bbox_to_anchor=(0.5, -0.02),
    )
    what = ", ".join(f"{t} {m}" for t, m in zip(tasks, metrics))
    fig.suptitle(f"x-models (one language each) vs. the m-model (all languages): {what}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    chosen_by = {
        f"{t}:{m}": {
            "baseline": c["baseline"],
            "m": c["m"][1],
            "x": {lang: model for lang, (_, model) in c["x"].items()},
        }
        for t, m, _, _, c, _ in panels
    }
    return save_png(fig, out, [str(scores)], task=tasks, metric=metrics, models=chosen_by)
