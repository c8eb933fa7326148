"""Figure 5 data: how close parallel sentences sit in each layer of a base vs a tuned model.

Per model, language and layer: the mean cosine similarity of the token-mean hidden states of
aligned English/X sentences (raw, and centered on the layer's mean vector, which removes the shared
direction of anisotropic LM states). Plus a 2-D PCA projection of the English and X sentence
vectors of the last layer (and of the middle one), one PCA per model over English and all languages,
for the scatter plot. The same seeded subsample of line numbers is used for every language.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .representations import cosine_rows


def parse_named(items: list[str], flag: str) -> dict[str, str]:
    named = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UserError(f"{flag}: {item!r} is not NAME=PATH")
        if name in named:
            raise UserError(f"{flag}: {name} given twice")
        named[name] = value
    return named


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Project rows onto their first two principal components (sign fixed: largest |loading| > 0)."""
    centered = vectors - vectors.mean(0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    comps = vt[:2]
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    var = s**2
    ratio = (var[:2] / var.sum()).tolist() if var.sum() > 0 else [0.0, 0.0]
    proj = centered @ comps.T
    if proj.shape[1] < 2:
        proj = np.pad(proj, ((0, 0), (0, 2 - proj.shape[1])))
    return proj, ratio


def layer_alignment(en: np.ndarray, x: np.ndarray) -> list[dict]:
    """Per layer (arrays shaped layers+1, n, d): mean raw and centered cosine of aligned pairs."""
    rows = []
    for layer in range(en.shape[0]):
        mu = np.concatenate([en[layer], x[layer]]).mean(0)
        raw = cosine_rows(en[layer], x[layer])
        centered = cosine_rows(en[layer] - mu, x[layer] - mu)
        rows.append({"layer": layer, "cosine": float(raw.mean()), "cosine_centered": float(centered.mean())})
    return rows


def common_lines(en_path, x_paths: dict[str, str], max_sentences: int | None, seed: int):
    """English and X sentences on the line numbers every file has non-empty (a seeded subsample)."""
    from ..atomic import read_lines

    en = read_lines(en_path)
    xs = {lang: read_lines(path) for lang, path in x_paths.items()}
    for lang, lines in xs.items():
        if len(lines) != len(en):
            raise UserError(
                f"{x_paths[lang]}: {len(lines)} lines but {en_path} has {len(en)}; files must be line-aligned"
            )
    keep = [i for i in range(len(en)) if en[i].strip() and all(lines[i].strip() for lines in xs.values())]
    if len(keep) < 2:
        raise UserError(f"{en_path}: fewer than 2 lines are non-empty in every language")
    if max_sentences and len(keep) > max_sentences:
        rng = np.random.default_rng(seed)
        keep = sorted(rng.choice(keep, max_sentences, replace=False).tolist())
    return keep, [en[i] for i in keep], {lang: [lines[i] for i in keep] for lang, lines in xs.items()}


def projection(vectors: dict[str, np.ndarray], layer: int) -> tuple[dict, list[float]]:
    """One PCA over English and every language at ``layer``: code -> [[x, y], ...]."""
    codes = list(vectors)
    proj, ratio = pca_2d(np.concatenate([vectors[c][layer] for c in codes]))
    out, start = {}, 0
    for code in codes:
        n = vectors[code].shape[1]
        out[code] = [[float(a), float(b)] for a, b in proj[start : start + n]]
        start += n
    return out, ratio


def alignment_record(
    models: dict[str, str],
    en_path: str,
    x_paths: dict[str, str],
    max_sentences: int | None = 100,
    batch_size: int = 16,
    seed: int = 0,
) -> dict:
    """Figure 5's data: for each model (name -> directory) and language (code -> file aligned with
    ``en_path``), the per-layer alignment with English and two PCA projections of the sentences."""
    from ..provenance import provenance
    from .representations import Encoder

    if "en" in x_paths:
        raise UserError("--x: en is the pivot (--en), not a language to compare")
    lines, en, texts = common_lines(en_path, x_paths, max_sentences, seed)
    record = {"models": {}, "languages": list(x_paths), "line_numbers": lines, "n_sentences": len(lines)}
    for name, model_dir in models.items():
        encoder = Encoder(model_dir, batch_size=batch_size)
        vecs = {"en": encoder.vectors(en)}
        per_lang = {}
        for lang, x in texts.items():
            vecs[lang] = encoder.vectors(x)
            per_lang[lang] = {"n_sentences": len(x), "layers": layer_alignment(vecs["en"], vecs[lang])}
        last, middle = encoder.n_layers, encoder.n_layers // 2
        proj_last, ratio_last = projection(vecs, last)
        proj_mid, ratio_mid = projection(vecs, middle)
        record["models"][name] = {
            "path": str(model_dir),
            "n_layers": encoder.n_layers,
            "languages": per_lang,
            "projection": proj_last,
            "projection_layer": last,
            "projection_explained_variance": ratio_last,
            "projection_middle": proj_mid,
            "projection_middle_layer": middle,
            "projection_middle_explained_variance": ratio_mid,
        }
        del encoder
    record["provenance"] = provenance(seed=seed)
    return record


def alignment_summary(record: dict) -> str:
    """One line: each model's last-layer centered cosine per language."""
    return "; ".join(
        f"{name}: last-layer centered cos "
        + ", ".join(f"{lang}={m['languages'][lang]['layers'][-1]['cosine_centered']:.3f}" for lang in m["languages"])
        for name, m in record["models"].items()
    )
