"""Per-segment sufficient statistics: the one shape every metric returns.

A corpus score is a function of the summed per-segment statistics (BLEU's n-gram counts, chrF's
character n-gram counts, or one value per segment for COMET, BLEURT and the QA metrics). Keeping
the statistics makes bootstrap resampling cheap and exact: a resample is a weighted sum of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Scored:
    metric: str
    stats: np.ndarray  # (n_segments, k)
    reduce: Callable[[np.ndarray, int], np.ndarray]  # summed stats (B, k), n -> scores (B,)
    signature: str
    info: dict = field(default_factory=dict)  # e.g. n_over_max_length

    @property
    def n(self) -> int:
        return int(self.stats.shape[0])

    @property
    def score(self) -> float:
        return float(self.reduce(self.stats.sum(axis=0, keepdims=True), self.n)[0])

    def resampled(self, counts: np.ndarray) -> np.ndarray:
        """Scores of the resamples whose per-segment multiplicities are the rows of ``counts``."""
        return self.reduce(counts @ self.stats, self.n)


def mean_reducer(scale: float = 1.0) -> Callable[[np.ndarray, int], np.ndarray]:
    def reduce(sums: np.ndarray, n: int) -> np.ndarray:
        return sums[:, 0] * (scale / max(n, 1))

    return reduce


def segment_mean(metric: str, values, signature: str, scale: float = 1.0, **info) -> Scored:
    """A metric whose corpus score is the mean of per-segment values (times ``scale``)."""
    stats = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return Scored(metric, stats, mean_reducer(scale), signature, dict(info))
