"""Figure 5 data: how close parallel sentences sit in each layer of a base vs a tuned model.

Per model, language and layer: the mean cosine similarity of the token-mean hidden states of
aligned English/X sentences (raw, and centered on the layer's mean vector, which removes the shared
direction of anisotropic LM states). Plus a 2-D PCA projection of the English and X sentence
vectors of the middle and last layers (one projection per model and layer over all languages), for
the scatter plot; the sentence subsample is seeded.
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


def alignment_command(args) -> int:
    from ..atomic import write_json
    from ..provenance import provenance
    from .representations import Encoder, read_lines, read_parallel

    models = parse_named(args.model, "--model")
    xs = parse_named(args.x, "--x")
    n_en = len(read_lines(args.en))
    rng = np.random.default_rng(args.seed)
    texts = {}
    for lang, path in xs.items():
        en, x = read_parallel(args.en, path, None)
        if args.max_sentences and len(en) > args.max_sentences:
            keep = np.sort(rng.choice(len(en), args.max_sentences, replace=False))
            en, x = [en[i] for i in keep], [x[i] for i in keep]
        texts[lang] = (en, x)
    record = {"models": {}, "languages": list(xs), "max_sentences": args.max_sentences,
              "n_en_lines": n_en}
    for name, model_dir in models.items():
        encoder = Encoder(model_dir, batch_size=args.batch_size)
        per_lang, vecs = {}, {}
        for lang, (en, x) in texts.items():
            ve, vx = encoder.vectors(en), encoder.vectors(x)
            per_lang[lang] = {"n_sentences": len(en), "layers": layer_alignment(ve, vx)}
            vecs[lang] = (ve, vx)
        projections = {}
        for which, layer in (("middle", encoder.n_layers // 2), ("last", encoder.n_layers)):
            blocks, labels = [], []
            for lang, (ve, vx) in vecs.items():
                blocks += [ve[layer], vx[layer]]
                labels += [("en", lang, i) for i in range(len(ve[layer]))]
                labels += [(lang, lang, i) for i in range(len(vx[layer]))]
            proj, ratio = pca_2d(np.concatenate(blocks))
            projections[which] = {
                "layer": layer, "explained_variance": ratio,
                "points": [{"lang": lab, "pair_of": of, "index": i, "x": float(p[0]), "y": float(p[1])}
                           for (lab, of, i), p in zip(labels, proj)],
            }
        record["models"][name] = {"path": str(model_dir), "n_layers": encoder.n_layers,
                                  "languages": per_lang, "projection": projections}
        del encoder
    record["provenance"] = provenance(seed=args.seed)
    write_json(args.out, record)
    summary = ", ".join(
        f"{name}: last-layer cos " + "/".join(
            f"{lang}={m['languages'][lang]['layers'][-1]['cosine_centered']:.3f}" for lang in m["languages"])
        for name, m in record["models"].items())
    print(f"{args.out}: {summary}")
    return 0
