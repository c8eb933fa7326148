"""Calibration of the scaling law's 95% intervals: plant laws, simulate segment-level scores, count.

For each of ``--languages`` simulated languages a law S(X) = 100 − α·(γ·X)^β is planted (β, γ and
the score at the smallest scale drawn at random, α following), and every scale's model is scored on
the same n test segments, as the workflow does:

* ``bleu``: per-segment BLEU sufficient statistics (sacrebleu's own: lengths, n-gram matches and
  totals). A segment's n-gram precision is q^n with q = sigmoid(ℓ_X + d_i + e_iX): d_i is the
  segment's difficulty, shared by every scale (the same sentences), e_iX the model's own noise.
  ℓ_X is set so that the corpus BLEU over the segment population is exactly the planted S(X).
* ``mean``: one score per segment (chrF/COMET-like), S(X) + d_i + e_iX with sd 15 and 10.

Optionally (``--model-noise``) each model is also off the law by N(0, τ) points: what another
training run would change, which resampling the test sentences cannot see.

Each language is fitted with the segment bootstrap (``fit_segment_bootstrap``) and, for contrast,
with the old bootstrap over points; printed: how often the 95% interval holds the planted β and
the planted score at twice the largest scale, with the Monte Carlo standard error, and how often
a fit is flagged (and by which flag: β on a bound / R² < 0.8 / held-out error beyond its
replicate range). Target for the segment bootstrap: 90-98%.

    .venv/bin/python bench/bench_calibration.py [--languages 200] [--n-boot 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from xllm.metrics.scored import Scored, segment_mean
from xllm.scaling.bootstrap import fit_segment_bootstrap
from xllm.scaling.law import FitError, ScalingLaw, fit_scaling_law

PAPER_SCALES = (10_000, 20_000, 50_000, 100_000, 200_000)
DEMO_SCALES = (100, 200, 400, 800)
SD_DIFFICULTY, SD_NOISE = 1.0, 0.7  # logit scale, BLEU mode
SD_DIFFICULTY_MEAN, SD_NOISE_MEAN = 15.0, 10.0  # score points, mean mode


def bleu_reducer():
    from sacrebleu.metrics import BLEU

    metric = BLEU()

    def reduce(sums: np.ndarray, n: int) -> np.ndarray:
        return np.array([metric._compute_score_from_stats(row.tolist()).score for row in sums])

    return reduce


class BleuPopulation:
    """Corpus BLEU of the segment population as a function of the logit ℓ (common random numbers)."""

    def __init__(self, rng, size=200_000):
        self.lengths = rng.integers(10, 41, size).astype(float)
        self.shift = rng.normal(0, SD_DIFFICULTY, size) + rng.normal(0, SD_NOISE, size)
        self.grid = np.linspace(-8, 8, 641)
        self.bleu = np.array([self._bleu(v) for v in self.grid])

    def _bleu(self, logit):
        q = 1 / (1 + np.exp(-(logit + self.shift)))
        logs = [math.log(np.sum((self.lengths - n + 1) * q**n) / np.sum(self.lengths - n + 1)) for n in range(1, 5)]
        return 100 * math.exp(sum(logs) / 4)

    def logit_for(self, score):
        return float(np.interp(score, self.bleu, self.grid))


def simulate_bleu(rng, population, law, scales, n, model_noise, reduce):
    lengths = rng.integers(10, 41, n)
    difficulty = rng.normal(0, SD_DIFFICULTY, n)
    points = []
    for scale in scales:
        target = float(law.predict(scale)) + rng.normal(0, model_noise)
        logit = population.logit_for(min(max(target, 0.5), 99.5))
        q = 1 / (1 + np.exp(-(logit + difficulty + rng.normal(0, SD_NOISE, n))))
        totals = np.maximum(lengths[:, None] - np.arange(4)[None, :], 0)
        correct = rng.binomial(totals, q[:, None] ** np.arange(1, 5)[None, :])
        stats = np.column_stack([lengths, lengths, correct, totals]).astype(float)  # hyp len = ref len: BP = 1
        points.append((scale, Scored("bleu", stats, reduce, "bleu-sim")))
    return points


def simulate_mean(rng, law, scales, n, model_noise):
    difficulty = rng.normal(0, SD_DIFFICULTY_MEAN, n)
    return [
        (
            scale,
            segment_mean(
                "sim",
                float(law.predict(scale)) + rng.normal(0, model_noise) + difficulty + rng.normal(0, SD_NOISE_MEAN, n),
                "mean-sim",
            ),
        )
        for scale in scales
    ]


def plant(rng, scales):
    """A law whose score at the smallest scale is 10-50 and whose β, γ are in the paper's ranges."""
    beta, gamma = rng.uniform(-0.6, -0.1), rng.uniform(0.05, 1.0)
    s0 = rng.uniform(10, 50)
    alpha = (100 - s0) / (gamma * scales[0]) ** beta
    return ScalingLaw(alpha, beta, gamma)


def run(config, args, population, reduce):
    mode, scales, n, tau = config
    rng = np.random.default_rng(args.seed)
    hits = {"segment": [0, 0], "point": [0, 0]}
    flagged = failed = 0
    kinds = {"beta_at_bound": 0, "low_r2": 0, "loso_outside_interval": 0}
    done = 0
    start = time.perf_counter()
    for _ in range(args.languages):
        law = plant(rng, scales)
        points = (
            simulate_bleu(rng, population, law, scales, n, tau, reduce)
            if mode == "bleu"
            else simulate_mean(rng, law, scales, n, tau)
        )
        far = 2.0 * scales[-1]
        truth = float(law.predict(far))
        try:
            seg = fit_segment_bootstrap(points, law.gamma, n_boot=args.n_boot, seed=int(rng.integers(1 << 30)))
            pts = fit_scaling_law(scales, [s.score for _, s in points], law.gamma, n_boot=args.n_boot, seed=0)
        except FitError:
            failed += 1
            continue
        done += 1
        flagged += bool(seg.flags)
        for flag in seg.flags:
            kinds[flag["flag"]] += 1
        for name, fit in (("segment", seg), ("point", pts)):
            lo, hi = fit.ci["beta"]
            hits[name][0] += lo <= law.beta <= hi
            lo, hi = fit.prediction["ci"][-1]
            hits[name][1] += lo <= truth <= hi
    took = time.perf_counter() - start

    def cell(k):
        p = k / done
        return f"{100 * p:5.1f}% ±{100 * math.sqrt(p * (1 - p) / done):.1f}"

    label = f"{mode}, {len(scales)} scales {scales[0]:g}..{scales[-1]:g}, {n} segments, model noise {tau:g}"
    print(
        f"{label:<62} {cell(hits['segment'][0]):>13} {cell(hits['segment'][1]):>13} "
        f"{cell(hits['point'][0]):>13} {cell(hits['point'][1]):>13} {100 * flagged / done:>7.1f}% "
        f"{'/'.join(str(v) for v in kinds.values()):>15} {failed:>4} {took:>6.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", type=int, default=200)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    population = BleuPopulation(np.random.default_rng(12345))
    reduce = bleu_reducer()
    configs = [
        ("bleu", PAPER_SCALES, 1012, 0.0),
        ("bleu", DEMO_SCALES, 40, 0.0),
        ("bleu", DEMO_SCALES, 200, 0.0),
        ("mean", PAPER_SCALES, 1012, 0.0),
        ("mean", DEMO_SCALES, 200, 0.0),
        ("mean", PAPER_SCALES, 1012, 1.0),
    ]
    print(
        f"{args.languages} languages per row, {args.n_boot} replicates; coverage of the 95% intervals "
        "(± Monte Carlo standard error); target 90-98% for the segment bootstrap"
    )
    print(
        f"{'simulation':<62} {'seg beta':>13} {'seg S(2Xmax)':>13} {'point beta':>13} {'point S(2Xmax)':>13} "
        f"{'flagged':>8} {'bound/R2/loso':>15} {'fail':>4} {'s':>6}"
    )
    for config in configs:
        run(config, args, population, reduce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
