"""Language similarity γ ∈ (0, 1) between English and language X, as the paper computes it (§3.2,
footnote 3: following Pan et al. (2021) on multi-way parallel data).

The exact formula. For n aligned sentences (e_i, x_i) of FLORES dev, let h(s) ∈ R^d be the base
model's hidden state at one layer (default: the middle one) averaged over the tokens of s. Let μ be
the mean of all 2n vectors {h(e_i)} ∪ {h(x_i)}; subtracting it removes the direction every
sentence shares (LM hidden states are anisotropic: raw cosines are near 1 for any two sentences).
Then

    c_i = cos(h(e_i) − μ, h(x_i) − μ) ∈ [−1, 1],     γ = (1 + mean_i c_i) / 2 ∈ (0, 1),

clipped to [1e-6, 1 − 1e-6] so the law's γ stays inside (0, 1). γ → 1 when a language's sentences
land where their English translations do, γ → 0 when they land opposite. The retrieval accuracy of
Pan et al.'s similarity search (the share of e_i whose nearest x_j by centered cosine is x_i) is
recorded beside it as a diagnostic. A γ given in the config wins and is recorded as such.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError

GAMMA_CLIP = (1e-6, 1.0 - 1e-6)
FORMULA = (
    "gamma = (1 + mean_i cos(h(en_i) - mu, h(x_i) - mu)) / 2; h = token-mean hidden state, mu = mean of all 2n vectors"
)


def gamma_from_vectors(en: np.ndarray, x: np.ndarray) -> dict:
    """γ and diagnostics from aligned sentence vectors (n, d) of English and X."""
    mu = np.concatenate([en, x]).mean(0)
    e, v = en - mu, x - mu
    cos = (e * v).sum(1) / np.maximum(np.linalg.norm(e, axis=1) * np.linalg.norm(v, axis=1), 1e-12)
    mean_cos = float(cos.mean())
    gamma = float(np.clip((1.0 + mean_cos) / 2.0, *GAMMA_CLIP))
    en_n = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    x_n = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    nearest = (en_n @ x_n.T).argmax(1)
    return {
        "gamma": gamma,
        "mean_centered_cosine": mean_cos,
        "std_centered_cosine": float(cos.std()),
        "retrieval_accuracy": float((nearest == np.arange(len(en))).mean()),
        "n_sentences": len(en),
    }


def similarity_record(
    lang: str,
    base: str,
    en_path: str,
    x_path: str,
    gamma: float | None = None,
    layer: str = "middle",
    max_sentences: int | None = 200,
    batch_size: int = 16,
) -> dict:
    """γ of ``lang`` from ``base``'s hidden states on line-aligned English and X files; a given
    ``gamma`` (the config's) wins and no model is loaded."""
    from ..provenance import provenance
    from .representations import Encoder, read_parallel

    if gamma is not None and not 0 < gamma <= 1:
        raise UserError(f"--gamma must be in (0, 1], got {gamma}")
    record = {"lang": lang, "formula": FORMULA}
    if gamma is not None:
        record.update(gamma=float(gamma), gamma_source="config")
    else:
        en, x = read_parallel(en_path, x_path, max_sentences)
        encoder = Encoder(base, batch_size=batch_size)
        index = encoder.layer_index(layer)
        computed = gamma_from_vectors(encoder.vectors(en)[index], encoder.vectors(x)[index])
        record.update(
            gamma=computed["gamma"],
            gamma_source="computed",
            computed={
                **computed,
                "layer": index,
                "n_layers": encoder.n_layers,
                "base": str(base),
                "en": str(en_path),
                "x": str(x_path),
            },
        )
    record["provenance"] = provenance()
    return record
