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
from .inputs import direction_kind, eval_lang, lang_label, ordered_langs, read_scores, scale_key

KIND_TITLES = {"en-x": "English → X", "x-en": "X → English", "x": ""}


def select_models(rows: list[dict], x_recipe: str, m_recipe: str, baseline: str) -> dict:
    """Which model each series uses: the m-model of largest scale, per language the matching x-model."""
    m_models = sorted({(r["scale"], r["model"]) for r in rows if r["recipe"] == m_recipe},
                      key=lambda item: scale_key(item[0]))
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
        if r["model"] == model and eval_lang(r) == lang and direction_kind(r["direction"]) == kind:
            return r
    return None


def plot_x_vs_m(scores: str | Path, task: str, metric: str, out: str | Path, *, x_recipe: str = "coit",
                m_recipe: str = "muit", baseline: str = "alpaca-en", langs: list[str] | None = None,
                names: dict[str, str] | None = None) -> Path:
    import numpy as np

    names = names or {}
    rows = [r for r in read_scores(scores) if r["task"] == task and r["metric"] == metric]
    if not rows:
        raise UserError(f"{scores}: no scores with task={task} and metric={metric}")
    chosen = select_models(rows, x_recipe, m_recipe, baseline)
    if chosen["m"][1] is None and not chosen["x"]:
        raise UserError(f"{scores}: no {x_recipe} or {m_recipe} model has {task} {metric} scores")
    relevant = {chosen["baseline"], chosen["m"][1]} | {model for _, model in chosen["x"].values()}
    rows = [r for r in rows if r["model"] in relevant]
    kinds = [k for k in ("en-x", "x-en", "x") if any(direction_kind(r["direction"]) == k for r in rows)]
    all_langs = ordered_langs((eval_lang(r) for r in rows if eval_lang(r) != "en"), langs)
    if not all_langs:
        raise UserError(f"{scores}: none of the languages {', '.join(langs or [])} has {task} {metric} scores")

    x_scales = sorted({s for s, _ in chosen["x"].values()}, key=scale_key)
    x_label = f"x-model ({x_recipe}, one per language, {' / '.join(x_scales)} pairs)"
    series = [
        ("baseline", f"{baseline} (English instructions only)", lambda lang: chosen["baseline"]),
        ("x", x_label, lambda lang: chosen["x"].get(lang, ("", None))[1]),
        ("m", f"m-model ({chosen['m'][1] or m_recipe + ': missing'})", lambda lang: chosen["m"][1]),
    ]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(kinds), figsize=(max(5.0, 1.2 * len(all_langs) + 2.5) * len(kinds), 3.8),
                             squeeze=False)
    width = 0.8 / len(series)
    for ax, kind in zip(axes.flat, kinds):
        centers = np.arange(len(all_langs))
        for i, (role, label, model_of) in enumerate(series):
            heights, errors, present = [], [[], []], []
            for lang in all_langs:
                model = model_of(lang)
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
            xs = centers + (i - (len(series) - 1) / 2) * width
            bars = ax.bar(xs, heights, width, yerr=errors, capsize=2, color=COLORS[role], label=label,
                          error_kw={"lw": 0.8})
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
        ax.set_xticks(centers, [lang_label(lang, names) for lang in all_langs])
        title = KIND_TITLES[kind]
        ax.set_title(f"{task} {title}".strip())
        ax.set_ylabel(metric)
        ax.grid(axis="x", visible=False)
        ax.margins(y=0.15)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"x-models (one language each) vs. the m-model (all languages): {task}, {metric}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save_png(fig, out, [str(scores)], task=task, metric=metric,
                    models={"baseline": chosen["baseline"], "m": chosen["m"][1],
                            "x": {lang: model for lang, (_, model) in chosen["x"].items()}})
