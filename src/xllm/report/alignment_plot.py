"""Figure 5: does tuning pull English and X together inside the model, and at which layers?

Left: per layer, the mean cosine similarity of the sentence vectors of parallel FLORES
sentences (English vs. X), one colour per model, one line style per language, the mean over
languages thick; beside it the same after centering each layer (``cosine_centered``, which
removes the direction all hidden states share) when the analysis has it. Right: per model, the
2-D projection of English and X sentence vectors at the middle and last layers; overlapping
clouds mean aligned representations (the paper's m-LLaMA vs. Alpaca-7B).

The reader accepts the shape ``xllm alignment`` writes (``models.NAME.languages.LANG.layers`` as
records, one projection per model over all languages) and simpler ones (a list of cosines per
layer, a projection per language with ``en`` and ``x`` clouds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import read_json
from ..errors import UserError
from .figure import COLORS, LANG_CYCLE, MODEL_CYCLE, pyplot, save_png
from .inputs import lang_label, ordered_langs

LINESTYLES = ["-", "--", "-.", ":"]
COSINE_KEYS = ("cosine", "mean_cosine", "mean", "value")


@dataclass(frozen=True)
class LangAlignment:
    layers: list[float]
    centered: list[float] = field(default_factory=list)
    projection: dict = field(default_factory=dict)  # "en"/"x" -> [[x, y], ...], fitted for this language


@dataclass(frozen=True)
class ModelAlignment:
    langs: dict  # lang -> LangAlignment
    projections: list = field(default_factory=list)  # [(title, {code: [[x, y], ...]})], one PCA per model


def _layers(raw, where: str) -> tuple[list[float], list[float]]:
    """(raw, centered) cosines from [c0, c1, ...] or [{"layer", "cosine", "cosine_centered"}, ...]."""
    values, centered = [], []
    try:
        for item in raw:
            if isinstance(item, dict):
                values.append(float(next(item[k] for k in COSINE_KEYS if k in item)))
                if "cosine_centered" in item:
                    centered.append(float(item["cosine_centered"]))
            else:
                values.append(float(item))
    except (TypeError, ValueError, StopIteration):
        raise UserError(f"{where}.layers: expected a list of per-layer cosine similarities") from None
    return values, centered if len(centered) == len(values) else []


def _points(raw, where: str) -> list[tuple[float, float]]:
    try:
        return [(float(p[0]), float(p[1])) for p in raw]
    except (TypeError, ValueError, IndexError, KeyError):
        raise UserError(f"{where}: expected [[x, y], ...]") from None


def _lang_projection(raw, where: str) -> dict:
    """A per-language projection {"en": [[x, y]...], "x": [[x, y]...]}."""
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"{where}.projection: expected {{'en': [[x, y], ...], 'x': [[x, y], ...]}}")
    return {side: _points(raw[side], f"{where}.projection.{side}") for side in ("en", "x") if side in raw}


def _model_projections(entry: dict, where: str) -> list[tuple[str, dict]]:
    """Model-level projections (middle layer first, then last), each {code: [[x, y], ...]}."""
    out = []
    for key, default in (("projection_middle", "middle layer"), ("projection", "last layer")):
        raw = entry.get(key)
        if not isinstance(raw, dict):
            continue
        clouds = {str(k): _points(v, f"{where}.{key}.{k}") for k, v in raw.items() if isinstance(v, list)}
        layer = entry.get(f"{key}_layer")
        title = f"layer {layer} ({default.split()[0]})" if layer is not None else default
        if clouds:
            out.append((title, clouds))
    return out


def load_alignment(path: str | Path) -> dict[str, ModelAlignment]:
    """model -> ModelAlignment, tolerant of extra keys (provenance, settings, paths)."""
    data = read_json(path, "the alignment analysis")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise UserError(f"{path}: missing key 'models' (model -> language -> layers and projection)")
    out = {}
    for name, entry in models.items():
        if not isinstance(entry, dict):
            raise UserError(f"{path}: models.{name}: expected an object of languages")
        langs = entry.get("languages") or entry.get("langs") or entry
        if not isinstance(langs, dict):
            raise UserError(f"{path}: models.{name}.languages: expected language -> layers")
        per_lang = {}
        for lang, body in langs.items():
            if not isinstance(body, dict) or "layers" not in body:
                continue  # model-level metadata (path, n_layers, ...)
            where = f"{path}: models.{name}.{lang}"
            raw, centered = _layers(body["layers"], where)
            per_lang[str(lang)] = LangAlignment(raw, centered, _lang_projection(body.get("projection"), where))
        if not per_lang:
            raise UserError(f"{path}: models.{name}: no language with 'layers'")
        out[str(name)] = ModelAlignment(per_lang, _model_projections(entry, f"{path}: models.{name}"))
    return out


def _scatter(ax, clouds: list[tuple[str, str, list]], names, legend: bool = True) -> None:
    """Draw (code, colour, points) clouds; English as grey dots, other languages as triangles."""
    import numpy as np

    for code, color, points in clouds:
        pts = np.array(points, dtype=float).reshape(-1, 2)
        if len(pts) == 0:
            continue
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=9,
            color=color,
            alpha=0.6 if code == "en" else 0.75,
            marker="o" if code == "en" else "^",
            label=lang_label(code, names),
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if ax.collections and legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), markerscale=1.5, fontsize=7)
    elif not ax.collections:
        ax.text(0.5, 0.5, "no projection", transform=ax.transAxes, ha="center", va="center")


def _layer_panel(ax, models: dict[str, ModelAlignment], langs: list[str], centered: bool, names) -> None:
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    for i, (name, model) in enumerate(models.items()):
        color = MODEL_CYCLE[i % len(MODEL_CYCLE)]
        curves = []
        for j, lang in enumerate(langs):
            item = model.langs.get(lang)
            values = (item.centered if centered else item.layers) if item else []
            if not values:
                continue
            curves.append(values)
            if len(langs) > 1:
                ax.plot(range(len(values)), values, LINESTYLES[j % len(LINESTYLES)], color=color, lw=0.9, alpha=0.6)
        if curves:
            depth = min(len(c) for c in curves)
            mean = np.mean([c[:depth] for c in curves], axis=0)
            ax.plot(
                range(depth),
                mean,
                "-o",
                color=color,
                lw=2.2,
                ms=3,
                label=f"{name} (mean over languages)" if len(langs) > 1 else name,
            )
    for j, lang in enumerate(langs if len(langs) > 1 else []):
        ax.plot([], [], LINESTYLES[j % len(LINESTYLES)], color="#555555", lw=0.9, label=lang_label(lang, names))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("mean cosine(English, X)" + (", centered per layer" if centered else ""))
    ax.set_title("Parallel sentences, centered vectors" if centered else "Parallel sentences, raw vectors")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)


def plot_alignment(
    path: str | Path, out: str | Path, *, langs: list[str] | None = None, names: dict[str, str] | None = None
) -> Path:
    names = names or {}
    models = load_alignment(path)
    all_langs = ordered_langs((lang for model in models.values() for lang in model.langs), langs)
    if not all_langs:
        raise UserError(f"{path}: none of the languages {', '.join(langs or [])} is in the analysis")
    has_centered = any(item.centered for model in models.values() for item in model.langs.values())
    n_layer_panels = 2 if has_centered else 1
    shared = all(model.projections for model in models.values())
    proj_cols = max(len(model.projections) for model in models.values()) if shared else len(all_langs)
    n_models = len(models)
    plt = pyplot()
    fig = plt.figure(figsize=(5.0 * n_layer_panels + 3.0 * proj_cols, max(4.2, 3.0 * n_models)))
    spec = fig.add_gridspec(n_models, n_layer_panels + proj_cols, width_ratios=[1.7] * n_layer_panels + [1] * proj_cols)
    for k in range(n_layer_panels):
        _layer_panel(fig.add_subplot(spec[:, k]), models, all_langs, centered=k == 1, names=names)
    lang_color = {lang: LANG_CYCLE[i % len(LANG_CYCLE)] for i, lang in enumerate(all_langs)}
    lang_color["en"] = COLORS["en"]
    for row, (name, model) in enumerate(models.items()):
        if shared:
            for col, (title, clouds) in enumerate(model.projections):
                keys = ["en"] + [lang for lang in all_langs if lang in clouds]
                ax = fig.add_subplot(spec[row, n_layer_panels + col])
                _scatter(
                    ax,
                    [(k, lang_color[k], clouds[k]) for k in keys if k in clouds],
                    names,
                    legend=row == 0 and col == len(model.projections) - 1,
                )
                ax.set_title(f"{name}: {title}")
            continue
        for col, lang in enumerate(all_langs):
            ax = fig.add_subplot(spec[row, n_layer_panels + col])
            proj = model.langs[lang].projection if lang in model.langs else {}
            _scatter(
                ax,
                [
                    (k, lang_color[k if k == "en" else lang], proj[side])
                    for k, side in (("en", "en"), (lang, "x"))
                    if side in proj
                ],
                names,
                legend=row == 0,
            )
            ax.set_title(f"{name}: en vs. {lang}")
    fig.suptitle(
        "Representation alignment of English and non-English sentences, base vs. tuned "
        "(2-D PCA of sentence vectors on the right)"
    )
    fig.tight_layout()
    return save_png(fig, out, [str(path)], models=list(models))
