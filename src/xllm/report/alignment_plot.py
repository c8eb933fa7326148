"""Figure 5: does tuning pull English and X together inside the model, and at which layers?

Left: per layer, the mean cosine similarity of the sentence vectors of parallel FLORES
sentences (English vs. X), one colour per model, one line style per language, the mean over
languages thick. Right: one panel per model, the 2-D projection of English and X sentence
vectors; overlapping clouds mean aligned representations (the paper's m-LLaMA vs. Alpaca-7B).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from .figure import COLORS, CYCLE, pyplot, save_png
from .inputs import lang_label, ordered_langs, read_json

LINESTYLES = ["-", "--", "-.", ":"]


@dataclass(frozen=True)
class LangAlignment:
    layers: list[float]
    projection: dict = field(default_factory=dict)  # "en"/"x" -> [[x, y], ...]


def _layers(raw, where: str) -> list[float]:
    """Per-layer cosines given as [c0, c1, ...] or [{"layer": i, "cosine"|"mean_cosine": c}, ...]."""
    out = []
    try:
        for item in raw:
            if isinstance(item, dict):
                value = next(item[k] for k in ("cosine", "mean_cosine", "mean", "value") if k in item)
                out.append(float(value))
            else:
                out.append(float(item))
    except (TypeError, ValueError, StopIteration):
        raise UserError(f"{where}.layers: expected a list of per-layer cosine similarities") from None
    return out


def _points(raw, where: str) -> list[tuple[float, float]]:
    try:
        return [(float(p[0]), float(p[1])) for p in raw]
    except (TypeError, ValueError, IndexError, KeyError):
        raise UserError(f"{where}: expected [[x, y], ...]") from None


def _projection(raw, where: str) -> dict:
    """{"en": [[x, y]...], "x": [[x, y]...]}; a per-layer list or dict keeps its last entry."""
    if not raw:
        return {}
    if isinstance(raw, list):
        raw = raw[-1]
    if isinstance(raw, dict) and "en" not in raw and raw:
        layer_keys = [k for k in raw if isinstance(raw[k], dict)]
        if layer_keys:
            raw = raw[sorted(layer_keys, key=lambda k: int(k) if str(k).lstrip("-").isdigit() else 0)[-1]]
    if not isinstance(raw, dict):
        raise UserError(f"{where}.projection: expected {{'en': [[x, y], ...], 'x': [[x, y], ...]}}")
    out = {}
    for side in ("en", "x"):
        if side in raw:
            out[side] = _points(raw[side], f"{where}.projection.{side}")
    if "x" not in out:
        other = [k for k in raw if k not in ("en", "layer")]
        if len(other) == 1 and isinstance(raw[other[0]], list):
            out["x"] = _points(raw[other[0]], f"{where}.projection.{other[0]}")
    return out


def _model_projection(entry: dict, where: str) -> dict:
    """A model-level projection shared by all languages: {"en": [[x, y]...], LANG: [[x, y]...]}."""
    raw = entry.get("projection")
    if not isinstance(raw, dict):
        return {}
    return {str(k): _points(v, f"{where}.projection.{k}") for k, v in raw.items() if isinstance(v, list)}


def load_alignment(path: str | Path) -> dict[str, dict[str, LangAlignment]]:
    """model -> lang -> LangAlignment, tolerant of extra keys (provenance, settings).

    A projection fitted per language sits under the language (its "en" and "x" clouds share
    axes only with each other); one fitted per model sits under the model as ``"shared"``.
    """
    data = read_json(path, "the alignment analysis")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise UserError(f"{path}: missing key 'models' (model -> language -> layers and projection)")
    out: dict[str, dict[str, LangAlignment]] = {}
    for name, entry in models.items():
        if not isinstance(entry, dict):
            raise UserError(f"{path}: models.{name}: expected an object of languages")
        langs = entry.get("langs") or entry.get("languages") or entry
        per_lang = {}
        for lang, body in langs.items():
            if not isinstance(body, dict) or "layers" not in body:
                continue  # model-level metadata (path, n_sentences, ...)
            where = f"{path}: models.{name}.{lang}"
            per_lang[str(lang)] = LangAlignment(_layers(body["layers"], where),
                                                _projection(body.get("projection"), where))
        if not per_lang:
            raise UserError(f"{path}: models.{name}: no language with 'layers'")
        shared = _model_projection(entry, f"{path}: models.{name}")
        if shared:
            per_lang["shared"] = LangAlignment([], shared)
        out[str(name)] = per_lang
    return out


def _scatter(ax, clouds: list[tuple[str, str, list]], names) -> None:
    """Draw (code, colour, points) clouds; English as grey dots, other languages as triangles."""
    import numpy as np

    for code, color, points in clouds:
        pts = np.array(points)
        if pts.size == 0:
            continue
        ax.scatter(pts[:, 0], pts[:, 1], s=9, color=color, alpha=0.6 if code == "en" else 0.75,
                   marker="o" if code == "en" else "^", label=lang_label(code, names))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if ax.collections:
        ax.legend(loc="best", markerscale=1.5, fontsize=7)
    else:
        ax.text(0.5, 0.5, "no projection", transform=ax.transAxes, ha="center", va="center")


def plot_alignment(path: str | Path, out: str | Path, *, langs: list[str] | None = None,
                   names: dict[str, str] | None = None) -> Path:
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    names = names or {}
    models = load_alignment(path)
    all_langs = ordered_langs((lang for per in models.values() for lang in per if lang != "shared"), langs)
    if not all_langs:
        raise UserError(f"{path}: none of the languages {', '.join(langs or [])} is in the analysis")
    shared = all("shared" in per for per in models.values())
    proj_cols = 1 if shared else len(all_langs)
    n_models = len(models)
    plt = pyplot()
    fig = plt.figure(figsize=(6.0 + 2.9 * proj_cols, max(4.0, 2.9 * n_models)))
    spec = fig.add_gridspec(n_models, 1 + proj_cols, width_ratios=[2.0] + [1] * proj_cols)
    ax_layers = fig.add_subplot(spec[:, 0])
    model_color = {name: CYCLE[i % len(CYCLE)] for i, name in enumerate(models)}
    lang_color = {lang: CYCLE[(i + 2) % len(CYCLE)] for i, lang in enumerate(all_langs)}
    lang_color["en"] = COLORS["en"]
    for name, per in models.items():
        curves = []
        for j, lang in enumerate(all_langs):
            if lang not in per or not per[lang].layers:
                continue
            layers = per[lang].layers
            curves.append(layers)
            if len(all_langs) > 1:
                ax_layers.plot(range(len(layers)), layers, LINESTYLES[j % len(LINESTYLES)],
                               color=model_color[name], lw=0.9, alpha=0.6)
        if curves:
            depth = min(len(c) for c in curves)
            mean = np.mean([c[:depth] for c in curves], axis=0)
            ax_layers.plot(range(depth), mean, "-o", color=model_color[name], lw=2.2, ms=3,
                           label=f"{name} (mean over languages)" if len(all_langs) > 1 else name)
    for j, lang in enumerate(all_langs if len(all_langs) > 1 else []):
        ax_layers.plot([], [], LINESTYLES[j % len(LINESTYLES)], color="#555555", lw=0.9,
                       label=lang_label(lang, names))
    ax_layers.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_layers.set_xlabel("layer (0 = embeddings)")
    ax_layers.set_ylabel("mean cosine(English, X) of parallel sentences")
    ax_layers.set_title("Layer-wise alignment of parallel sentences")
    ax_layers.legend(loc="best")
    for row, (name, per) in enumerate(models.items()):
        if shared:
            proj = per["shared"].projection
            keys = ["en"] + [lang for lang in all_langs if lang in proj]
            ax = fig.add_subplot(spec[row, 1])
            _scatter(ax, [(k, lang_color[k], proj[k]) for k in keys if k in proj], names)
            ax.set_title(f"{name}: sentence vectors (2-D)")
            continue
        for col, lang in enumerate(all_langs):
            ax = fig.add_subplot(spec[row, 1 + col])
            proj = per[lang].projection if lang in per else {}
            _scatter(ax, [(k, lang_color[k if k == "en" else lang], proj[side])
                          for k, side in (("en", "en"), (lang, "x")) if side in proj], names)
            ax.set_title(f"{name}: en vs. {lang}")
    fig.suptitle("Representation alignment of English and non-English sentences, base vs. tuned")
    fig.tight_layout()
    return save_png(fig, out, [str(path)], models=list(models))
