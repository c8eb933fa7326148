"""Split a budget of C translation pairs over languages to maximize the mean predicted score (§3.3).

max (1/n)·Σ S_i(X_i)  s.t.  Σ X_i = C,  0 ≤ X_i ≤ Xmax_i,  with S_i(X) = 100 − α_i·(γ_i·X)^β_i.

With α > 0 and β ∈ (−1, 0) every S_i is strictly concave and its marginal gain
S_i'(X) = k_i·X^(β_i − 1), k_i = −α_i·β_i·γ_i^β_i, falls from +∞ at X = 0. So the KKT conditions
give the exact optimum: X_i(λ) = clip((λ / k_i)^(1 / (β_i − 1)), 0, Xmax_i), equal marginal gains λ
among uncapped languages, and Σ X_i(λ) is decreasing in λ, so λ is found by bisection (in log λ,
vectorized over languages). The integer allocation starts from the floors, gives the remainder to
the largest one-pair gains, then swaps single pairs while that helps; for a separable concave
objective an allocation no single swap improves is the integer optimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .law import ScalingLaw


class AllocationError(ValueError):
    """A budget or a law the allocator cannot accept; the message names it."""


@dataclass(frozen=True)
class Allocation:
    pairs: dict[str, int]
    predicted: dict[str, float]

    @property
    def mean_predicted(self) -> float | None:
        """None when a language gets no pairs (the law predicts −∞ there)."""
        values = list(self.predicted.values())
        return None if not values or None in values else float(np.mean(values))

    def to_json(self) -> dict:
        return {"allocation": self.pairs, "predicted": self.predicted, "mean_predicted": self.mean_predicted}


def _arrays(laws: dict[str, ScalingLaw], caps: dict[str, int], budget):
    if not laws:
        raise AllocationError("no languages to allocate to")
    names = list(laws)
    missing = [n for n in names if n not in caps]
    if missing:
        raise AllocationError(f"max_pairs: no value for {', '.join(missing)}")
    for name in names:
        try:
            laws[name].check(name)
        except ValueError as err:
            raise AllocationError(str(err)) from None
        cap = caps[name]
        if not (isinstance(cap, (int, np.integer)) or (isinstance(cap, float) and cap.is_integer())) or cap < 0:
            raise AllocationError(f"{name}: max_pairs must be a non-negative integer, got {cap!r}")
    if not (isinstance(budget, (int, np.integer)) or (isinstance(budget, float) and budget.is_integer())):
        raise AllocationError(f"budget must be an integer number of pairs, got {budget!r}")
    budget = int(budget)
    cap = np.array([int(caps[n]) for n in names], dtype=np.int64)
    if budget < 0:
        raise AllocationError(f"budget must be >= 0, got {budget}")
    if budget > cap.sum():
        raise AllocationError(f"budget {budget} exceeds the {int(cap.sum())} pairs available (sum of max_pairs)")
    alpha = np.array([laws[n].alpha for n in names])
    beta = np.array([laws[n].beta for n in names])
    gamma = np.array([laws[n].gamma for n in names])
    return names, alpha, beta, gamma, cap, budget


def _score(alpha, beta, gamma, x):
    with np.errstate(divide="ignore"):
        return 100.0 - alpha * np.power(gamma * np.asarray(x, dtype=float), beta)  # −inf at x = 0


def continuous_optimum(alpha, beta, gamma, cap, budget: float, tol: float = 1e-12) -> np.ndarray:
    """The exact real-valued optimum by bisection on log λ (see the module docstring)."""
    cap = np.asarray(cap, dtype=float)
    if budget <= 0:
        return np.zeros_like(cap)
    if budget >= cap.sum():
        return cap.copy()
    live = cap > 0
    logk = np.log(-alpha * beta) + beta * np.log(gamma)
    inv = 1.0 / (beta - 1.0)  # < 0: X grows as λ falls

    def x_of(loglam):
        with np.errstate(over="ignore"):
            x = np.exp(np.clip((loglam - logk) * inv, -745.0, 709.0))
        return np.where(live, np.minimum(x, cap), 0.0)

    # log λ at which language i just reaches its cap, and at which it gets budget / n.
    with np.errstate(divide="ignore"):
        at_cap = logk + (beta - 1.0) * np.log(np.where(live, cap, 1.0))
        at_share = logk + (beta - 1.0) * math.log(budget / live.sum())
    lo = float(at_cap[live].min()) - 1.0  # Σ X = Σ cap ≥ budget
    hi = float(at_share[live].max()) + 1.0  # every X ≤ budget / n, so Σ X ≤ budget
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if x_of(mid).sum() > budget:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    x = x_of(hi)
    return x


def round_allocation(alpha, beta, gamma, cap, budget: int, x: np.ndarray) -> np.ndarray:
    """Integers summing exactly to ``budget`` within the caps, optimal for the integer problem."""
    xi = np.minimum(np.floor(x + 1e-9).astype(np.int64), cap)
    rest = budget - int(xi.sum())
    gain = lambda v: _score(alpha, beta, gamma, v + 1) - _score(alpha, beta, gamma, v)  # noqa: E731
    if rest > 0:
        g = np.where(xi < cap, gain(xi), -np.inf)
        for i in np.argsort(-g, kind="stable")[:rest]:
            xi[i] += 1
    elif rest < 0:  # floors cannot exceed, but guard against float drift
        loss = np.where(xi > 0, gain(xi - 1), np.inf)
        for i in np.argsort(loss, kind="stable")[: -rest]:
            xi[i] -= 1
    for _ in range(10 * len(xi) + 10):  # single-pair swaps while one helps
        add = np.where(xi < cap, gain(xi), -np.inf)
        drop = np.where(xi > 0, gain(np.maximum(xi - 1, 0)), np.inf)
        i, j = int(np.argmax(add)), int(np.argmin(drop))
        if i == j or add[i] <= drop[j] + 1e-12 * max(1.0, abs(drop[j])):
            break
        xi[i] += 1
        xi[j] -= 1
    return xi


def optimal_allocation(laws: dict[str, ScalingLaw], caps: dict[str, int], budget) -> Allocation:
    names, alpha, beta, gamma, cap, budget = _arrays(laws, caps, budget)
    x = continuous_optimum(alpha, beta, gamma, cap, budget)
    xi = round_allocation(alpha, beta, gamma, cap, budget, x)
    return _result(names, alpha, beta, gamma, xi)


def uniform_allocation(laws: dict[str, ScalingLaw], caps: dict[str, int], budget) -> Allocation:
    """C/n each; a language that runs out keeps its cap and the rest is spread over the others."""
    names, alpha, beta, gamma, cap, budget = _arrays(laws, caps, budget)
    split = uniform_split({n: int(c) for n, c in zip(names, cap)}, budget)
    return _result(names, alpha, beta, gamma, np.array([split[n] for n in names], dtype=np.int64))


def uniform_split(caps: dict[str, int], budget: int) -> dict[str, int]:
    """The uniform split needs no law: its models' data must not wait for (or change with) the fits."""
    names = list(caps)
    cap = np.array([caps[n] for n in names], dtype=np.int64)
    if budget > cap.sum():
        raise UserError(f"budget {budget} is over the {int(cap.sum())} pairs of the languages together")
    xi = np.zeros(len(names), dtype=np.int64)
    remaining = int(budget)
    open_ = np.ones(len(names), dtype=bool)
    while remaining > 0:
        room = cap - xi
        open_ &= room > 0
        k = int(open_.sum())
        share = remaining // k
        if share == 0:  # fewer pairs left than open languages: one each, in the given order
            for i in np.flatnonzero(open_)[:remaining]:
                xi[i] += 1
            break
        add = np.where(open_, np.minimum(share, room), 0)
        xi += add
        remaining -= int(add.sum())
    return {n: int(v) for n, v in zip(names, xi)}


def _result(names, alpha, beta, gamma, xi) -> Allocation:
    scores = _score(alpha, beta, gamma, xi)
    return Allocation(
        {n: int(v) for n, v in zip(names, xi)},
        {n: (float(s) if np.isfinite(s) else None) for n, s in zip(names, scores)},
    )
