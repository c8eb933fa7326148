"""Split a budget of C translation pairs over languages to maximize the mean predicted score (§3.3).

max (1/n)·Σ S_i(X_i)  s.t.  Σ X_i = C,  0 ≤ X_i ≤ Xmax_i,  with S_i(X) = 100 − α_i·(γ_i·X)^β_i.

With α > 0 and β ∈ (−1, 0) every S_i is strictly concave and its marginal gain
S_i'(X) = k_i·X^(β_i − 1), k_i = −α_i·β_i·γ_i^β_i, falls from +∞ at X = 0. So the KKT conditions
give the exact optimum: X_i(λ) = clip((λ / k_i)^(1 / (β_i − 1)), 0, Xmax_i), equal marginal gains λ
among uncapped languages, and Σ X_i(λ) is decreasing in λ, so λ is found by bisection (in log λ,
vectorized over languages). The integer allocation starts from the floors, gives the remainder to
the largest one-pair gains, then swaps single pairs while that helps; for a separable concave
objective an allocation no single swap improves is the integer optimum.

Under uncertainty each language has R replicate laws (its bootstrap fits). The ``expected``
objective, the mean over replicates of the mean score, is still separable and concave:
language i's marginal gain is Σ_r w_r·k_ir·X^(β_ir − 1), decreasing in X, so the same KKT
conditions hold; X_i(λ) has no closed form but log(marginal) is convex in log X with slope in
(−2, −1), so Newton's method in log X converges from anywhere, and an outer safeguarded Newton
on log λ meets the budget. A lower quantile of the mean score is not concave in the split, so
``quantile:Q`` is a search: from the expected optimum, repeatedly take the exact optimum of the
mean over the replicates in the lower Q tail of the current split, keeping whichever split (the
point and expected optima included) has the highest Q-quantile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .law import ScalingLaw, law_score

OBJECTIVES = ("point", "expected", "quantile:Q")


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


def round_allocation(value, cap, budget: int, x: np.ndarray) -> np.ndarray:
    """Integers summing exactly to ``budget`` within the caps, optimal for the integer problem.

    ``value(pairs, idx)`` is the score of languages ``idx`` at integer ``pairs`` (concave in pairs).
    A swap changes two languages, so only their one-pair gains are recomputed: with replicate laws a
    full recomputation would cost n·R powers per swap."""
    n = len(x)
    everyone = np.arange(n)
    xi = np.minimum(np.floor(x + 1e-9).astype(np.int64), cap)

    def gain(v, idx):
        with np.errstate(invalid="ignore"):
            return value(v + 1, idx) - value(v, idx)

    rest = budget - int(xi.sum())
    if rest > 0:
        g = np.where(xi < cap, gain(xi, everyone), -np.inf)
        for i in np.argsort(-g, kind="stable")[:rest]:
            xi[i] += 1
    elif rest < 0:  # floors cannot exceed, but guard against float drift
        loss = np.where(xi > 0, gain(np.maximum(xi - 1, 0), everyone), np.inf)
        for i in np.argsort(loss, kind="stable")[:-rest]:
            xi[i] -= 1
    add = np.where(xi < cap, gain(xi, everyone), -np.inf)
    drop = np.where(xi > 0, gain(np.maximum(xi - 1, 0), everyone), np.inf)
    for _ in range(10 * n + 10):  # single-pair swaps while one helps
        i, j = int(np.argmax(add)), int(np.argmin(drop))
        if i == j or add[i] <= drop[j] + 1e-12 * max(1.0, abs(drop[j])):
            break
        xi[i] += 1
        xi[j] -= 1
        idx = np.array([i, j])
        add[idx] = np.where(xi[idx] < cap[idx], gain(xi[idx], idx), -np.inf)
        drop[idx] = np.where(xi[idx] > 0, gain(np.maximum(xi[idx] - 1, 0), idx), np.inf)
    return xi


def _law_value(alpha, beta, gamma):
    return lambda v, idx: law_score(alpha[idx], beta[idx], gamma[idx], v)


def optimal_allocation(laws: dict[str, ScalingLaw], caps: dict[str, int], budget) -> Allocation:
    names, alpha, beta, gamma, cap, budget = _arrays(laws, caps, budget)
    x = continuous_optimum(alpha, beta, gamma, cap, budget)
    xi = round_allocation(_law_value(alpha, beta, gamma), cap, budget, x)
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
    scores = law_score(alpha, beta, gamma, xi)
    return Allocation(
        {n: int(v) for n, v in zip(names, xi)},
        {n: (float(s) if np.isfinite(s) else None) for n, s in zip(names, scores)},
    )


# ------------------------------------------------------------------ under uncertainty


def parse_objective(text: str) -> tuple[str, float | None]:
    """``point``, ``expected`` or ``quantile:Q`` (0 < Q < 1) → (kind, Q)."""
    text = str(text).strip()
    if text in ("point", "expected"):
        return text, None
    kind, sep, value = text.partition(":")
    if kind == "quantile" and sep:
        try:
            q = float(value)
        except ValueError:
            q = float("nan")
        if 0.0 < q < 1.0:
            return "quantile", q
    raise AllocationError(f"objective must be one of {', '.join(OBJECTIVES)} with 0 < Q < 1, got {text!r}")


def replicate_arrays(names: list[str], replicates: dict):
    """(log α, β) arrays of shape (n, R) from each language's [(α, β), ...]; R is the smallest count
    (languages fitted with different numbers of surviving replicates are cut to the shortest)."""
    missing = [n for n in names if not replicates.get(n)]
    if missing:
        raise AllocationError(f"no bootstrap replicates for {', '.join(missing)}")
    r = min(len(replicates[n]) for n in names)
    rep = np.array([np.asarray(replicates[n][:r], dtype=float).reshape(r, 2) for n in names])  # (n, R, 2)
    alpha, beta = rep[:, :, 0], rep[:, :, 1]
    bad = ~((alpha > 0) & np.isfinite(alpha) & (beta > -1) & (beta < 0))
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise AllocationError(
            f"{names[i]}: replicate {k} has alpha {alpha[i, k]:g}, beta {beta[i, k]:g} "
            "outside alpha > 0, beta in (-1, 0)"
        )
    return np.log(alpha), beta


def replicate_optima(loga, beta, gamma, cap, budget: float, tol: float = 1e-12) -> np.ndarray:
    """(n, R): each replicate's own exact real-valued optimum (its KKT split), all replicates at once by
    bisection on their log λ. What a split could gain if that replicate were the truth."""
    cap = np.asarray(cap, dtype=float)
    if budget <= 0 or budget >= cap.sum():
        return np.repeat((np.zeros_like(cap) if budget <= 0 else cap)[:, None], loga.shape[1], axis=1)
    live = (cap > 0)[:, None]
    logk = loga + np.log(-beta) + beta * np.log(gamma)[:, None]
    inv = 1.0 / (beta - 1.0)
    logcap = np.log(np.where(live[:, 0], cap, 1.0))[:, None]
    lo = np.where(live, logk + (beta - 1.0) * logcap, np.inf).min(axis=0) - 1.0
    hi = np.where(live, logk + (beta - 1.0) * math.log(budget / live.sum()), -np.inf).max(axis=0) + 1.0

    def x_of(loglam):
        with np.errstate(over="ignore"):
            x = np.exp(np.clip((loglam[None, :] - logk) * inv, -745.0, 709.0))
        return np.where(live, np.minimum(x, cap[:, None]), 0.0)

    for _ in range(200):
        mid = 0.5 * (lo + hi)
        over = x_of(mid).sum(axis=0) > budget
        lo, hi = np.where(over, mid, lo), np.where(over, hi, mid)
        if np.max(hi - lo) < tol:
            break
    return x_of(hi)


def _mixture(loga, beta, loggamma, w):
    """Rows of the per-language marginal gain Σ_r w_r·k_ir·X^(β_ir − 1) as log-coefficients and slopes."""
    with np.errstate(divide="ignore"):
        c = np.log(w)[None, :] + loga + np.log(-beta) + beta * loggamma[:, None]
    return c, beta - 1.0


def _log_marginal(c, s, u):
    """log Σ_r exp(c_r + s_r·u) per row, and its derivative in u (a softmax mean of s, in (−2, −1))."""
    z = c + s * u[:, None]
    m = z.max(axis=1)
    e = np.exp(z - m[:, None])
    total = e.sum(axis=1)
    return m + np.log(total), (e * s).sum(axis=1) / total


def mixture_optimum(loga, beta, gamma, w, cap, budget: float, tol: float = 1e-10) -> np.ndarray:
    """Exact real-valued split maximizing Σ_i Σ_r w_r·S_ir(X_i) (see the module docstring)."""
    cap = np.asarray(cap, dtype=float)
    if budget <= 0:
        return np.zeros_like(cap)
    if budget >= cap.sum():
        return cap.copy()
    keep = np.asarray(w) > 0
    c, s = _mixture(loga[:, keep], beta[:, keep], np.log(gamma), np.asarray(w, dtype=float)[keep])
    live = cap > 0
    c, s = c[live], s[live]
    logcap = np.log(cap[live])
    u = np.full(len(logcap), math.log(budget / live.sum()))

    def x_of(loglam, u):
        for _ in range(60):  # Newton in log X: convex, slope in (−2, −1): converges from anywhere
            f, d = _log_marginal(c, s, u)
            step = (f - loglam) / d
            u = u - step
            if np.max(np.abs(step)) < 1e-11:
                break
        return u, np.exp(np.minimum(u, logcap))

    # log λ at which every language is at its cap (Σ X ≥ budget), and at which each has budget / n.
    lo = float(_log_marginal(c, s, logcap)[0].min()) - 1.0
    hi = float(_log_marginal(c, s, u)[0].max()) + 1.0
    loglam = 0.5 * (lo + hi)
    for _ in range(200):
        u, x = x_of(loglam, u)
        total = x.sum()
        if total > budget:
            lo = loglam
        else:
            hi = loglam
        if hi - lo < tol or abs(total - budget) <= 1e-9 * budget:
            break
        d = _log_marginal(c, s, u)[1]
        slope = np.sum(np.where(u < logcap, x / d, 0.0))  # dΣX/dlogλ (< 0 while someone is uncapped)
        step = loglam - (total - budget) / slope if slope < 0 else math.nan
        loglam = step if lo < step < hi else 0.5 * (lo + hi)
    out = np.zeros_like(cap)
    out[live] = x
    return out


def _mixture_value(loga, beta, gamma, w):
    """Weighted mean over replicates of each language's score, for ``round_allocation``."""
    keep = np.asarray(w) > 0
    la, b, wk = loga[:, keep], beta[:, keep], np.asarray(w, dtype=float)[keep]
    wk = wk / wk.sum()

    def value(v, idx):
        with np.errstate(divide="ignore", over="ignore"):
            logx = np.log(gamma[idx] * np.asarray(v, dtype=float))
            return 100.0 - (np.exp(la[idx] + b[idx] * logx[:, None]) * wk).sum(axis=1)

    return value


def replicate_means(loga, beta, gamma, x) -> np.ndarray:
    """Mean score over languages of the split ``x`` under each replicate: (R,)."""
    with np.errstate(divide="ignore", over="ignore"):
        logx = np.log(gamma * np.asarray(x, dtype=float))
        return 100.0 - np.exp(loga + beta * logx[:, None]).mean(axis=0)


def _quantile(values, q):
    return float(np.quantile(values, q))


def uncertain_allocation(
    laws: dict[str, ScalingLaw],
    caps: dict[str, int],
    budget,
    replicates: dict,
    objective: str = "point",
    level: float = 0.95,
):
    """(chosen, uniform, uncertainty): the split chosen by ``objective`` and, over the replicate laws,
    its predicted gain over the uniform split per replicate (its interval, P(gain > 0))."""
    kind, q = parse_objective(objective)
    names, alpha, beta, gamma, cap, budget = _arrays(laws, caps, budget)
    loga, rbeta = replicate_arrays(names, replicates)
    r = loga.shape[1]
    uniform = uniform_allocation(laws, caps, budget)
    xu = np.array([uniform.pairs[n] for n in names])
    point = optimal_allocation(laws, caps, budget)
    xp = np.array([point.pairs[n] for n in names])
    candidates = {"point": xp, "uniform": xu} if kind == "quantile" else {"point": xp}
    if kind != "point":
        w = np.full(r, 1.0 / r)
        x = mixture_optimum(loga, rbeta, gamma, w, cap, budget)
        candidates["expected"] = round_allocation(_mixture_value(loga, rbeta, gamma, w), cap, budget, x)
    if kind == "quantile":
        tail = max(1, int(math.ceil(q * r)))
        current, seen = candidates["expected"], set()
        for step in range(8):
            worst = np.argsort(replicate_means(loga, rbeta, gamma, current), kind="stable")[:tail]
            key = tuple(sorted(worst.tolist()))
            if key in seen:
                break
            seen.add(key)
            w = np.zeros(r)
            w[worst] = 1.0 / tail
            x = mixture_optimum(loga, rbeta, gamma, w, cap, budget)
            current = round_allocation(_mixture_value(loga, rbeta, gamma, w), cap, budget, x)
            candidates[f"tail-{step}"] = current
    scores = {k: replicate_means(loga, rbeta, gamma, v) for k, v in candidates.items()}
    if kind == "point":
        pick = "point"
    elif kind == "expected":
        pick = "expected"
    else:
        pick = max(scores, key=lambda k: (_quantile(scores[k], q), k != "uniform"))
    chosen = _result(names, alpha, beta, gamma, candidates[pick])
    uni = replicate_means(loga, rbeta, gamma, xu)
    gains = scores[pick] - uni
    with np.errstate(divide="ignore", over="ignore"):
        own = replicate_optima(loga, rbeta, gamma, cap, budget)
        oracle = 100.0 - np.exp(loga + rbeta * np.log(gamma[:, None] * own)).mean(axis=0)
    regret = oracle - scores[pick]
    tail = (1 - level) / 2
    objective_value = {
        "point": chosen.mean_predicted,
        "expected": float(scores[pick].mean()),
        "quantile": _quantile(scores[pick], q) if q else None,
    }[kind]
    uncertainty = {
        "objective": objective,
        "objective_value": objective_value,
        "n_replicates": r,
        "level": level,
        "chosen_by": pick,
        "gain": {"mean": float(gains.mean()), "ci": [float(v) for v in np.quantile(gains, [tail, 1 - tail])]},
        "p_optimized_better": float(np.mean(gains > 0)),
        # what knowing the law would add: each replicate's own KKT split against the chosen one, under it
        "regret": {"mean": float(regret.mean()), "ci": [float(v) for v in np.quantile(regret, [tail, 1 - tail])]},
        "mean_predicted_ci": {
            "optimized": [float(v) for v in np.quantile(scores[pick], [tail, 1 - tail])],
            "uniform": [float(v) for v in np.quantile(uni, [tail, 1 - tail])],
        },
        "replicate_gains": [float(g) for g in gains],
    }
    return chosen, uniform, uncertainty
