"""Segment bootstrap of a scaling law: resample the test sentences, not the 4-6 points.

Resampling the points themselves gives only a handful of distinct fits (there are few ways to
draw 4 points), so its intervals are too narrow and too lumpy. The uncertainty of each point is
that of its corpus score over the test sentences, and every scale of a language is scored on the
same sentences, so a replicate draws one set of sentence multiplicities and recomputes every
scale's corpus score from the per-segment statistics with it (a paired bootstrap: a sentence that
is hard for one model is hard for all of them, and the replicates keep that correlation). Each
replicate's points are refitted (batched IRLS, the same Huber fit as the point fit), and the
percentiles of the replicates give the intervals of α, β and the predicted score.

What it does not see: variation between training runs (another seed, another data subset) at a
fixed scale. The leave-one-scale-out check measures that: the replicates also give each held-out
error's range under test-set noise alone (Bonferroni over the scales), and an error outside it is
flagged (``law.fit_flags``): the law misses by more than its intervals account for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metrics.bootstrap import resample_counts
from ..metrics.scored import Scored
from .law import DEFAULT_HUBER_DELTA, Fit, FitError, fit_scaling_law, huber_irls, with_replicates


def replicate_scores(scored: Sequence[Scored], n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_points) corpus scores, every point resampled with the same sentence counts."""
    sizes = {s.n for s in scored}
    if len(sizes) != 1:
        raise FitError(
            "the segment bootstrap needs every scale scored on the same test segments; got "
            f"{', '.join(str(s.n) for s in scored)} segments"
        )
    n = sizes.pop()
    if n < 2:
        raise FitError(f"{n} test segment(s): too few to resample")
    counts = resample_counts(n, n_boot, seed)
    return np.column_stack([np.asarray(s.resampled(counts), dtype=float) for s in scored])


def fit_segment_bootstrap(
    points: Sequence[tuple[float, Scored]],
    gamma: float,
    n_boot: int = 200,
    seed: int = 0,
    delta: float = DEFAULT_HUBER_DELTA,
    level: float = 0.95,
) -> Fit:
    """Fit the law to the points' corpus scores; intervals from ``n_boot`` paired segment resamples.

    A replicate in which some resampled score reaches 100 (no gap left to fit) is dropped and
    counted out of ``n_bootstrap_ok``."""
    if n_boot < 1:
        raise FitError("the segment bootstrap needs at least one resample")
    pairs = np.array([float(p) for p, _ in points])
    scored = [s for _, s in points]
    scores = np.array([s.score for s in scored])
    fit = fit_scaling_law(pairs, scores, gamma, n_boot=0, delta=delta, level=level)  # point fit, LOSO, R²
    reps = replicate_scores(scored, n_boot, seed)
    ok = np.all(np.isfinite(reps), axis=1) & np.all(reps < 100.0, axis=1)
    if not ok.any():
        raise FitError("every segment-bootstrap replicate has a score >= 100")
    logx = np.broadcast_to(np.log(gamma * pairs), (int(ok.sum()), len(pairs))).copy()
    a, b = huber_irls(logx, np.log(100.0 - reps[ok]), delta)
    alphas = np.exp(np.clip(a, -700.0, 700.0))
    tail = (1 - level) / 2 * 100
    ci = {
        "alpha": [float(v) for v in np.percentile(alphas, [tail, 100 - tail])],
        "beta": [float(v) for v in np.percentile(b, [tail, 100 - tail])],
        "level": level,
    }
    samples = tuple((float(x), float(y)) for x, y in zip(alphas, b))
    loso = loso_noise(fit.loso, pairs, reps[ok], gamma, delta, level)
    return with_replicates(fit, ci, samples, "segment-bootstrap", level, n_segments=scored[0].n, loso=loso)


def loso_noise(loso: dict, pairs: np.ndarray, reps: np.ndarray, gamma: float, delta: float, level: float) -> dict:
    """``loso`` with, per held-out scale, the range of its error over the replicates (``noise_ci``):
    what test-set noise alone makes of it, at level 1 − (1 − level)/k for k scales (Bonferroni), so a
    well-specified law is flagged in about 1 − level of languages, not k times that."""
    rows = []
    scales = np.unique(pairs)
    tail = (1 - level) / len(scales) / 2 * 100
    for row in loso.get("per_scale", []):
        row = dict(row)
        keep = pairs != row["held_out"]
        if row.get("error") is not None and len(np.unique(pairs[keep])) >= 2:
            logx = np.broadcast_to(np.log(gamma * pairs[keep]), (len(reps), int(keep.sum()))).copy()
            a, b = huber_irls(logx, np.log(100.0 - reps[:, keep]), delta)
            predicted = 100.0 - np.exp(a + b * np.log(gamma * row["held_out"]))
            errors = predicted - reps[:, ~keep].mean(axis=1)
            row["noise_ci"] = [float(v) for v in np.percentile(errors, [tail, 100 - tail])]
            row["noise_level"] = 1 - 2 * tail / 100
        rows.append(row)
    return {**loso, "per_scale": rows}
