"""Allocation and fit speed, each measured side by side with a generic solver in the same run.

Allocation: the exact KKT solver (bisection on the multiplier, vectorized, plus integer rounding)
for 6, 100 and 10,000 languages with random laws in the paper's ranges, against scipy's SLSQP on
the same problem (up to 100 languages; it does not scale further). Target (issue 8): 10,000
languages in under 1 s. The ratio SLSQP / KKT and the gap in mean predicted score between the
integer KKT allocation and SLSQP's real-valued one are printed (about 0: the same optimum, up to
rounding to whole pairs).

Allocation under uncertainty (issue: honest uncertainty): 10,000 languages x 200 bootstrap
replicates each, for the objectives point (gain distribution only), expected (exact KKT on the
mean over replicates) and quantile:0.1 (search over tail-mean optima), each with every
replicate's own exact KKT split (for the regret: what knowing the law would add); target <= 10 s
each, the ratio time / target printed. The expected split is checked against the point split on the
expected objective (never worse).

Fit: per language, the full fit (multi-start bounded fit, 200-resample bootstrap, leave-one-scale-
out) on 4 and 8 scales; its bootstrap (batched IRLS) against refitting each resample with the
bounded optimizer, the ratio printed.

    .venv/bin/python bench/bench_allocate.py [--repeats 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial

import numpy as np

from xllm.scaling.allocate import optimal_allocation, replicate_arrays, replicate_means, uncertain_allocation
from xllm.scaling.law import ScalingLaw, fit_params, fit_scaling_law, huber_irls, start_points


def random_problem(rng, n):
    laws = {
        f"l{i}": ScalingLaw(rng.uniform(5, 100), rng.uniform(-0.9, -0.05), rng.uniform(0.05, 1.0)) for i in range(n)
    }
    caps = {k: int(rng.integers(50_000, 1_100_000)) for k in laws}
    return laws, caps, int(sum(caps.values()) * 0.3)


def slsqp(laws, caps, budget):
    from scipy.optimize import minimize

    a = np.array([v.alpha for v in laws.values()])
    b = np.array([v.beta for v in laws.values()])
    g = np.array([v.gamma for v in laws.values()])
    cap = np.array([caps[k] for k in laws], dtype=float) / budget

    def f(u):
        return float(np.sum(a * (g * np.maximum(u, 1e-12) * budget) ** b))

    def grad(u):
        u = np.maximum(u, 1e-12)
        return a * b * g**b * budget**b * u ** (b - 1)

    n = len(laws)
    res = minimize(
        f,
        np.minimum(np.full(n, 1 / n), cap),
        jac=grad,
        method="SLSQP",
        bounds=[(1e-9, c) for c in cap],
        constraints=[{"type": "eq", "fun": lambda u: u.sum() - 1.0}],
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    return res.x * budget


def objective(laws, x):
    return float(np.mean([laws[k].predict(v) for k, v in zip(laws, x)]))


def refit_each(lx, ly):
    """The per-set SLSQP fit of every bootstrap resample, one at a time."""
    return [fit_params(lx[i], ly[i], 0.1, start_points(lx[i], ly[i]))[:2] for i in range(len(lx))]


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def bench_allocation(rng, repeats):
    print(f"## Allocation (best of {repeats} runs)")
    print(f"{'languages':>10} {'KKT s':>10} {'SLSQP s':>10} {'SLSQP/KKT':>10} {'int KKT - SLSQP':>15}")
    for n in (6, 100, 10_000):
        laws, caps, budget = random_problem(rng, n)
        t_kkt, alloc = best_of(partial(optimal_allocation, laws, caps, budget), repeats)
        assert sum(alloc.pairs.values()) == budget
        if n <= 100:
            t_sl, x = best_of(partial(slsqp, laws, caps, budget), max(1, repeats // 2))
            gap = alloc.mean_predicted - objective(laws, x)
            print(f"{n:>10} {t_kkt:>10.4f} {t_sl:>10.4f} {t_sl / t_kkt:>10.1f} {gap:>+15.2e}")
        else:
            print(
                f"{n:>10} {t_kkt:>10.4f} {'-':>10} {'-':>10} {'-':>15}   target < 1 s: "
                f"{'met' if t_kkt < 1 else 'MISSED'}"
            )


def bench_uncertain(rng, repeats, n=10_000, r=200, target=10.0):
    print(f"\n## Allocation under uncertainty: {n:,} languages x {r} replicates (best of {repeats} runs)")
    laws, caps, budget = random_problem(rng, n)
    reps = {
        k: np.column_stack(
            [v.alpha * np.exp(rng.normal(0, 0.2, r)), np.clip(v.beta + rng.normal(0, 0.05, r), -0.99, -0.01)]
        ).tolist()
        for k, v in laws.items()
    }
    print(
        f"{'objective':>13} {'s':>8} {'s/target':>9} {'P(better)':>10} {'gain 95% CI':>22} {'E[mean score]':>14} "
        f"{'regret':>9}"
    )
    names = list(laws)
    la, b = replicate_arrays(names, reps)
    g = np.array([laws[k].gamma for k in names])
    expected = {}
    for objective in ("point", "expected", "quantile:0.1"):
        t, (chosen, _, unc) = best_of(lambda o=objective: uncertain_allocation(laws, caps, budget, reps, o), repeats)
        assert sum(chosen.pairs.values()) == budget
        expected[objective] = replicate_means(la, b, g, np.array([chosen.pairs[k] for k in names])).mean()
        lo, hi = unc["gain"]["ci"]
        print(
            f"{objective:>13} {t:>8.2f} {t / target:>9.2f} {unc['p_optimized_better']:>10.2f} "
            f"{f'[{lo:+.4f}, {hi:+.4f}]':>22} {expected[objective]:>14.6f} {unc['regret']['mean']:>9.2e}"
            f"   target <= {target:g} s: "
            f"{'met' if t <= target else 'MISSED'}"
        )
    print(f"expected - point on the expected objective: {expected['expected'] - expected['point']:+.2e} (>= 0)")


def bench_fit(rng, repeats):
    print(f"\n## Fit per language (best of {repeats} runs)")
    print(f"{'scales':>7} {'full fit s':>11} {'bootstrap IRLS s':>17} {'bootstrap refit s':>18} {'refit/IRLS':>11}")
    for n_scales in (4, 8):
        x = np.array([1e3 * 2**i for i in range(n_scales)], dtype=float)
        law = ScalingLaw(40.0, -0.3, 0.5)
        s = 100 - (100 - law.predict(x)) * np.exp(rng.normal(0, 0.03, n_scales))
        t_full, _ = best_of(partial(fit_scaling_law, x, s, 0.5, n_boot=200, seed=0), repeats)
        idx = np.random.default_rng(0).integers(0, n_scales, (200, n_scales))
        idx = idx[(x[idx] != x[idx][:, :1]).any(1)]
        lx, ly = np.log(0.5 * x[idx]), np.log(100 - s[idx])
        t_irls, (a, b) = best_of(partial(huber_irls, lx, ly, 0.1), repeats)
        t_ref, ref = best_of(partial(refit_each, lx, ly), max(1, repeats // 2))
        assert np.allclose(b, [r[1] for r in ref], atol=1e-3)
        print(f"{n_scales:>7} {t_full:>11.4f} {t_irls:>17.4f} {t_ref:>18.4f} {t_ref / t_irls:>11.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    bench_allocation(rng, args.repeats)
    bench_uncertain(rng, max(1, args.repeats // 2))
    bench_fit(rng, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
