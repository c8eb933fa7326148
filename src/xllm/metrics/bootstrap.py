"""Bootstrap over segments: confidence intervals for one system, paired tests for two.

Resamples are drawn once as per-segment multiplicities (a seeded ``(B, n)`` count matrix), so a
resampled corpus score is a matrix product with the metric's statistics, and two systems scored
on the same items see exactly the same resamples (the paired test). The p-value is sacrebleu's
paired-bootstrap one (Koehn 2004, shifted to the null as in multeval), counting ties as at
least as extreme so that two identical systems get p = 1 rather than the smallest p possible.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .scored import Scored

SIGNIFICANCE_LEVEL = 0.1  # the paper marks p < 0.1


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    flat = (idx + np.arange(n_boot)[:, None] * n).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def confidence_interval(scored: Scored, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the corpus score; (nan, nan) with no bootstrap or no segments."""
    if n_boot <= 1 or scored.n == 0:
        return float("nan"), float("nan")
    scores = scored.resampled(resample_counts(scored.n, n_boot, seed))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap(a: Scored, b: Scored, n_boot: int = 1000, seed: int = 0) -> dict:
    """Is b different from a? delta = b - a; two-sided p from paired resamples."""
    if a.n != b.n:
        raise UserError(f"paired bootstrap needs the same items: {a.n} vs {b.n} segments")
    if n_boot < 1:
        raise UserError("paired bootstrap needs at least one resample")
    score_a, score_b = a.score, b.score
    delta = score_b - score_a
    counts = resample_counts(a.n, n_boot, seed)
    diffs = b.resampled(counts) - a.resampled(counts)
    centred = np.abs(diffs) - np.abs(diffs).mean()
    p_value = (int(np.sum(centred >= abs(delta))) + 1) / (n_boot + 1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {
        "a": score_a,
        "b": score_b,
        "delta": delta,
        "p_value": p_value,
        "n": a.n,
        "delta_ci_low": float(low),
        "delta_ci_high": float(high),
        "significant": p_value < SIGNIFICANCE_LEVEL,
        "n_boot": n_boot,
        "seed": seed,
    }
