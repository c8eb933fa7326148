"""Fit the paper's scaling law S(X) = 100 − α·(γ·X)^β (Eq. 2) to one language's (pairs, score) points.

Taking logs makes the law linear: log(100 − S) = log α + β·log(γ·X). So the fit works in log space:
a closed-form least-squares line gives the starting point, then a Huber loss on the log residuals
(robust to one bad model) is minimized from several starts inside the bounds α > 0, β ∈ (−1, 0).
γ is fixed beforehand (similarity step), and from one language's points only α·γ^β is identified:
α and γ trade off exactly, which the output says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

IDENTIFIABILITY_NOTE = (
    "alpha and gamma are not separately identifiable from one language's points: only "
    "alpha*gamma**beta is; gamma is fixed beforehand (language similarity) and alpha is fitted given it"
)
BETA_BOUNDS = (-1.0 + 1e-6, -1e-6)
LOG_ALPHA_BOUNDS = (-50.0, 50.0)
DEFAULT_HUBER_DELTA = 0.1  # in log(100 − S): residuals beyond ~10% of the gap to 100 count linearly
MIN_R2 = 0.8  # below this the law explains too little of the points to be trusted (a flag)


class FitError(ValueError):
    """The points cannot give a law (too few, a score ≥ 100, no decrease of 100 − S)."""


def law_score(alpha, beta, gamma, pairs):
    """S(X) = 100 − α·(γ·X)^β, broadcasting over arrays of laws and of pairs; −inf at X = 0.

    The one implementation of the law: ``ScalingLaw.predict``, the allocator (arrays of laws) and
    the bootstrap replicates all call it."""
    x = np.asarray(pairs, dtype=float)
    with np.errstate(divide="ignore"):
        return 100.0 - np.asarray(alpha) * np.power(np.asarray(gamma) * x, np.asarray(beta))


@dataclass(frozen=True)
class ScalingLaw:
    alpha: float
    beta: float
    gamma: float

    def predict(self, pairs):
        """Predicted score at ``pairs`` (scalar or array)."""
        return law_score(self.alpha, self.beta, self.gamma, pairs)

    def check(self, where: str = "law") -> None:
        """Raise ``ValueError`` when a parameter is outside the paper's ranges."""
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"{where}: alpha must be > 0, got {self.alpha}")
        if not (math.isfinite(self.beta) and -1.0 < self.beta < 0.0):
            raise ValueError(f"{where}: beta must be in (-1, 0), got {self.beta}")
        if not (math.isfinite(self.gamma) and 0.0 < self.gamma <= 1.0):
            raise ValueError(f"{where}: gamma must be in (0, 1], got {self.gamma}")


@dataclass(frozen=True)
class Fit:
    """A fitted law with the data it came from and how well it holds."""

    law: ScalingLaw
    pairs: tuple[float, ...]
    scores: tuple[float, ...]
    rmse: float
    r2: float | None
    ci: dict = field(default_factory=dict)  # {"alpha": [lo, hi], "beta": [lo, hi]}
    n_boot_ok: int = 0
    boot: tuple = ()  # (alpha, beta) of each bootstrap fit, for the plot's CI band
    loso: dict = field(default_factory=dict)
    at_bound: bool = False
    huber_delta: float = DEFAULT_HUBER_DELTA
    ci_method: str = "point-bootstrap"
    prediction: dict = field(default_factory=dict)  # {"pairs", "predicted", "ci", "level"}: the score's interval
    flags: tuple = ()  # ({"flag", "message"}, ...): what a reader must know before trusting the law
    n_segments: int | None = None  # test segments per scale (segment bootstrap only)

    def to_json(self) -> dict:
        return {
            "ok": True,
            "alpha": self.law.alpha,
            "beta": self.law.beta,
            "gamma": self.law.gamma,
            "n_points": len(self.pairs),
            "rmse": self.rmse,
            "r2": self.r2,
            "ci": self.ci,
            "ci_method": self.ci_method,
            "n_segments": self.n_segments,
            "prediction": self.prediction,
            "flags": list(self.flags),
            "n_bootstrap_ok": self.n_boot_ok,
            "bootstrap": [[a, b] for a, b in self.boot],
            "loso": self.loso,
            "beta_at_bound": self.at_bound,
            "loss": {"kind": "huber", "space": "log(100 - score)", "delta": self.huber_delta},
            "note": IDENTIFIABILITY_NOTE,
            "points": [{"pairs": p, "score": s} for p, s in zip(self.pairs, self.scores)],
        }


def check_points(pairs: np.ndarray, scores: np.ndarray, min_points: int = 3) -> None:
    """Raise ``FitError`` with the reason when no law can be fitted to these points."""
    if len(pairs) < min_points:
        raise FitError(f"{len(pairs)} point(s); at least {min_points} are needed")
    if not np.all(np.isfinite(pairs)) or not np.all(np.isfinite(scores)):
        raise FitError("a pairs or score value is not a finite number")
    if np.any(pairs <= 0):
        raise FitError(f"pairs must be > 0, got {pairs[pairs <= 0][0]:g}")
    if np.any(scores >= 100):
        raise FitError(f"score {scores[scores >= 100][0]:g} >= 100: the law's ceiling is 100")
    if len(np.unique(pairs)) < 2:
        raise FitError("all points have the same number of pairs; at least 2 scales are needed")
    slope, _ = _ols(np.log(pairs), np.log(100.0 - scores))
    if slope >= 0:
        raise FitError("100 - score does not decrease as pairs grow (no improvement with more data)")


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - ym)).sum() / sxx) if sxx > 0 else 0.0
    return slope, float(ym - slope * xm)


def _huber(r: np.ndarray, delta: float) -> tuple[float, np.ndarray]:
    a = np.abs(r)
    quad = a <= delta
    loss = np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta))
    grad = np.where(quad, r, delta * np.sign(r))
    return float(loss.sum()), grad


def fit_params(logx: np.ndarray, logy: np.ndarray, delta: float, starts: list[tuple[float, float]]):
    """Minimize the Huber loss over (a, β) where log(100 − S) ≈ a + β·log(γX); returns (a, β, loss)."""
    from scipy.optimize import minimize

    def objective(theta):
        a, b = theta
        r = logy - (a + b * logx)
        loss, g = _huber(r, delta)
        return loss, np.array([-g.sum(), -(g * logx).sum()])

    best = None
    bounds = [(-200.0, 200.0), BETA_BOUNDS]
    for a0, b0 in starts:
        b0 = min(max(b0, BETA_BOUNDS[0]), BETA_BOUNDS[1])
        # SLSQP, not L-BFGS-B: same optimum, but L-BFGS-B's BLAS calls made it 10x slower on a busy host.
        res = minimize(objective, np.array([a0, b0]), jac=True, method="SLSQP", bounds=bounds)
        if best is None or res.fun < best[2]:
            best = (float(res.x[0]), float(res.x[1]), float(res.fun))
    return best


def start_points(logx: np.ndarray, logy: np.ndarray) -> list[tuple[float, float]]:
    """Closed-form start (the least-squares line, β clipped) plus a grid over β, each with its best a."""
    slope, intercept = _ols(logx, logy)
    b_cf = min(max(slope, BETA_BOUNDS[0]), BETA_BOUNDS[1])
    starts = [(float(np.mean(logy - b_cf * logx)) if b_cf != slope else intercept, b_cf)]
    for b in (-0.9, -0.5, -0.2, -0.05):
        starts.append((float(np.median(logy - b * logx)), b))
    return starts


def _fit_core(pairs: np.ndarray, scores: np.ndarray, gamma: float, delta: float, starts=None):
    logx = np.log(gamma * pairs)
    logy = np.log(100.0 - scores)
    a, b, _ = fit_params(logx, logy, delta, starts or start_points(logx, logy))
    log_alpha = a  # a = log α because x already includes γ
    if not LOG_ALPHA_BOUNDS[0] <= log_alpha <= LOG_ALPHA_BOUNDS[1]:
        raise FitError(f"fitted log(alpha) = {log_alpha:.3g} is outside {LOG_ALPHA_BOUNDS}")
    return ScalingLaw(math.exp(log_alpha), b, gamma)


def fit_scaling_law(
    pairs,
    scores,
    gamma: float,
    n_boot: int = 200,
    seed: int = 0,
    delta: float = DEFAULT_HUBER_DELTA,
    level: float = 0.95,
) -> Fit:
    """Fit α, β for fixed γ; bootstrap CIs over points, R²/RMSE on scores, leave-one-scale-out error."""
    pairs = np.asarray(pairs, dtype=float)
    scores = np.asarray(scores, dtype=float)
    if not 0.0 < gamma <= 1.0:
        raise FitError(f"gamma must be in (0, 1], got {gamma}")
    check_points(pairs, scores)
    law = _fit_core(pairs, scores, gamma, delta)
    pred = law.predict(pairs)
    resid = scores - pred
    rmse = float(np.sqrt(np.mean(resid**2)))
    sst = float(((scores - scores.mean()) ** 2).sum())
    r2 = float(1.0 - (resid**2).sum() / sst) if sst > 0 else None
    at_bound = law.beta <= BETA_BOUNDS[0] + 1e-4 or law.beta >= BETA_BOUNDS[1] - 1e-4

    ci, samples = _bootstrap(pairs, scores, gamma, delta, n_boot, seed, level)
    fit = Fit(
        law,
        tuple(pairs.tolist()),
        tuple(scores.tolist()),
        rmse,
        r2,
        ci,
        len(samples),
        samples,
        _loso(pairs, scores, gamma, delta),
        bool(at_bound),
        delta,
    )
    return with_replicates(fit, ci, samples, "point-bootstrap", level)


def prediction_grid(pairs) -> list[float]:
    """Where the score's interval is reported: every measured scale, and twice the largest (extrapolation)."""
    scales = sorted({float(p) for p in pairs})
    return scales + [2.0 * scales[-1]]


def with_replicates(fit: Fit, ci: dict, samples, method: str, level: float, **extra) -> Fit:
    """``fit`` with the intervals of one bootstrap (α, β, and the predicted score), and its flags."""
    from dataclasses import replace

    grid = prediction_grid(fit.pairs)
    prediction = {"pairs": grid, "predicted": [float(v) for v in fit.law.predict(grid)], "level": level}
    if samples:
        a = np.array([s[0] for s in samples])[:, None]
        b = np.array([s[1] for s in samples])[:, None]
        curves = law_score(a, b, fit.law.gamma, np.array(grid)[None, :])
        tail = (1 - level) / 2 * 100
        lo, hi = np.percentile(curves, [tail, 100 - tail], axis=0)
        prediction["ci"] = [[float(x), float(y)] for x, y in zip(lo, hi)]
    fit = replace(fit, ci=ci, boot=samples, n_boot_ok=len(samples), ci_method=method, prediction=prediction, **extra)
    return replace(fit, flags=tuple(fit_flags(fit)))


def fit_flags(fit: Fit) -> list[dict]:
    """Warnings a reader must see: β stuck on a bound, a poor R², or a leave-one-scale-out error
    larger than the intervals allow (the intervals then understate the law's real error). With the
    segment bootstrap a held-out error is tested against its own replicate range (``noise_ci``);
    otherwise against the half-width of the predicted score's interval at that scale."""
    flags = []
    if fit.at_bound:
        flags.append(
            {
                "flag": "beta_at_bound",
                "message": f"beta = {fit.law.beta:.3g} is on its bound (-1, 0): the points do not determine it",
            }
        )
    if fit.r2 is not None and fit.r2 < MIN_R2:
        flags.append(
            {"flag": "low_r2", "message": f"R2 = {fit.r2:.3f} < {MIN_R2}: the law explains little of the points"}
        )
    cis = dict(zip(fit.prediction.get("pairs", []), fit.prediction.get("ci", [])))
    worse = []
    for row in fit.loso.get("per_scale", []):
        if row.get("error") is None:
            continue
        if "noise_ci" in row:  # segment bootstrap: the held-out error's own range under test-set noise
            lo, hi = row["noise_ci"]
            if not lo <= 0.0 <= hi:
                worse.append(
                    f"{row['held_out']:g} pairs: {row['error']:+.2f}, its interval under test-set "
                    f"noise [{lo:+.2f}, {hi:+.2f}] excludes 0"
                )
            continue
        ci = cis.get(row["held_out"])
        if ci is not None and abs(row["error"]) > (ci[1] - ci[0]) / 2:
            worse.append(f"{row['held_out']:g} pairs: {row['error']:+.2f} vs +-{(ci[1] - ci[0]) / 2:.2f}")
    if worse:
        flags.append(
            {
                "flag": "loso_outside_interval",
                "message": "leave-one-scale-out error larger than the intervals allow ("
                + "; ".join(worse)
                + "): the law's real error exceeds its intervals",
            }
        )
    return flags


def huber_irls(logx: np.ndarray, logy: np.ndarray, delta: float, iters: int = 100):
    """The same bounded Huber fit as ``fit_params`` for a batch of point sets at once (rows of
    ``logx``/``logy``), by iteratively reweighted least squares; NaN marks padding. The loss is
    convex, so when β leaves (−1, 0) the optimum lies on the nearer bound. Returns (a, β) arrays."""
    valid = np.isfinite(logx)
    x = np.where(valid, logx, 0.0)
    y = np.where(valid, logy, 0.0)
    w = valid.astype(float)
    beta_fixed = np.full(x.shape[0], np.nan)
    for _ in range(iters):
        sw = w.sum(1)
        xm = (w * x).sum(1) / sw
        ym = (w * y).sum(1) / sw
        sxx = (w * (x - xm[:, None]) ** 2).sum(1)
        sxy = (w * (x - xm[:, None]) * (y - ym[:, None])).sum(1)
        b = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), 0.0)
        b = np.where(np.isnan(beta_fixed), b, beta_fixed)
        out = (b < BETA_BOUNDS[0]) | (b > BETA_BOUNDS[1])
        beta_fixed = np.where(out, np.clip(b, *BETA_BOUNDS), beta_fixed)
        b = np.clip(b, *BETA_BOUNDS)
        a = ym - b * xm
        r = y - a[:, None] - b[:, None] * x
        w_new = valid * np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))
        if np.allclose(w_new, w, rtol=0, atol=1e-12):
            break
        w = w_new
    return a, b


def _bootstrap(pairs, scores, gamma, delta, n_boot, seed, level):
    """Percentile CIs of α and β over fits to points resampled with replacement (seeded), and the
    (α, β) of every resample that has at least two scales."""
    if n_boot <= 0:
        return {}, ()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(pairs), (n_boot, len(pairs)))
    p, s = pairs[idx], scores[idx]
    ok = (p != p[:, :1]).any(1)  # a resample with one scale has no slope
    if not ok.any():
        return {}, ()
    a, b = huber_irls(np.log(gamma * p[ok]), np.log(100.0 - s[ok]), delta)
    alphas = np.exp(np.clip(a, -700.0, 700.0))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    ci = {
        "alpha": [float(np.percentile(alphas, lo)), float(np.percentile(alphas, hi))],
        "beta": [float(np.percentile(b, lo)), float(np.percentile(b, hi))],
        "level": level,
    }
    return ci, tuple((float(x), float(y)) for x, y in zip(alphas, b))


def _loso(pairs, scores, gamma, delta) -> dict:
    """Leave each scale out, fit on the rest, predict its mean score: how well the law extrapolates."""
    scales = np.unique(pairs)
    rows = []
    for scale in scales:
        keep = pairs != scale
        try:
            check_points(pairs[keep], scores[keep], min_points=2)
            law = _fit_core(pairs[keep], scores[keep], gamma, delta)
        except FitError as err:
            rows.append({"held_out": float(scale), "error": None, "reason": str(err)})
            continue
        observed = float(scores[~keep].mean())
        predicted = float(law.predict(scale))
        rows.append(
            {"held_out": float(scale), "observed": observed, "predicted": predicted, "error": predicted - observed}
        )
    errors = [abs(r["error"]) for r in rows if r["error"] is not None]
    largest = rows[-1] if rows else None
    return {
        "per_scale": rows,
        "mean_abs_error": float(np.mean(errors)) if errors else None,
        "extrapolation_error": largest["error"] if largest else None,  # largest scale held out
    }


def law_from_json(obj: dict, where: str) -> ScalingLaw:
    """A law from a fit JSON (or a LAWS.json entry); ``ValueError`` naming ``where`` when bad."""
    try:
        law = ScalingLaw(float(obj["alpha"]), float(obj["beta"]), float(obj["gamma"]))
    except KeyError as err:
        raise ValueError(f"{where}: missing key {err.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ValueError(f"{where}: alpha, beta and gamma must be numbers") from None
    law.check(where)
    return law
