"""Figure 3: per language, the measured (pairs, score) points, the fitted law and its CI band.

The law is S(X) = 100 − α·(γ·X)^β (see ``xllm.scaling``). The band is the pointwise 95% range
of the curve over the fit's bootstrap parameter samples when the JSON carries them (its legend
names the bootstrap: over test segments, or over the few points, which understates it);
otherwise the envelope of the four corners of the α and β intervals (wider, since it ignores
that the two estimates are correlated). A fit's flags (β on a bound, R² < 0.8, a held-out scale
missed by more than the interval) are written in red in its panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import read_json
from ..errors import UserError
from .figure import COLORS, grid, pyplot, save_png
from .inputs import lang_label, number


@dataclass(frozen=True)
class Fit:
    path: str
    lang: str
    ok: bool
    points: list[tuple[float, float]]
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    r2: float | None = None
    rmse: float | None = None
    ci: dict = field(default_factory=dict)
    samples: list[tuple[float, float]] = field(default_factory=list)
    reason: str = ""
    metric: str = ""
    direction: str = ""
    ci_method: str = ""
    flags: list[dict] = field(default_factory=list)

    @property
    def band_kind(self) -> str:
        return {"segment-bootstrap": "segment bootstrap", "point-bootstrap": "point bootstrap"}.get(
            self.ci_method, "bootstrap"
        )


FLAG_LABELS = {
    "beta_at_bound": "β on its bound",
    "low_r2": "R² < 0.8",
    "loso_outside_interval": "held-out scale missed by more than the band",
}


def _flags(raw, path) -> list[dict]:
    if not raw:
        return []
    if not isinstance(raw, list) or not all(isinstance(f, dict) and "flag" in f for f in raw):
        raise UserError(f"{path}: 'flags' must be [{{flag, message}}, ...]")
    return raw


def _samples(raw, path) -> list[tuple[float, float]]:
    """Bootstrap (alpha, beta) samples as [[a, b], ...], [{alpha, beta}, ...] or {alpha: [...], beta: [...]}."""
    if not raw:
        return []
    try:
        if isinstance(raw, dict):
            return [(float(a), float(b)) for a, b in zip(raw["alpha"], raw["beta"])]
        out = []
        for item in raw:
            if isinstance(item, dict):
                out.append((float(item["alpha"]), float(item["beta"])))
            else:
                out.append((float(item[0]), float(item[1])))
        return out
    except (KeyError, TypeError, ValueError, IndexError):
        raise UserError(f"{path}: 'bootstrap' must be [[alpha, beta], ...]") from None


def load_fit(path: str | Path) -> Fit:
    data = read_json(path, "a scaling-law fit")
    lang = str(data.get("lang") or Path(path).stem)
    points = []
    for i, point in enumerate(data.get("points") or []):
        if not isinstance(point, dict):
            raise UserError(f"{path}: points[{i}] must be an object with 'pairs' and 'score'")
        points.append((number(point, "pairs", path, f"points[{i}]."), number(point, "score", path, f"points[{i}].")))
    common = dict(
        path=str(path),
        lang=lang,
        points=points,
        metric=str(data.get("metric", "")),
        direction=str(data.get("direction", "")),
    )
    if not data.get("ok", True):
        return Fit(ok=False, reason=str(data.get("reason") or data.get("error") or "fit failed"), **common)
    alpha, beta, gamma = (number(data, key, path) for key in ("alpha", "beta", "gamma"))
    ci = {}
    for key in ("alpha", "beta"):
        bounds = (data.get("ci") or {}).get(key)
        if bounds is not None:
            try:
                lo, hi = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise UserError(f"{path}: ci.{key} must be [low, high]") from None
            ci[key] = (lo, hi)
    r2 = data.get("r2")
    rmse = data.get("rmse")
    return Fit(
        ok=True,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        ci=ci,
        r2=float(r2) if r2 is not None else None,
        rmse=float(rmse) if rmse is not None else None,
        samples=_samples(data.get("bootstrap"), path),
        ci_method=str(data.get("ci_method") or ""),
        flags=_flags(data.get("flags"), path),
        **common,
    )


def law(x, alpha: float, beta: float, gamma: float):
    from ..scaling.law import law_score

    return law_score(alpha, beta, gamma, x)


def band(fit: Fit, x):
    """(low, high, kind) of the curve at ``x``, or None when the fit has no uncertainty."""
    import numpy as np

    if fit.samples:
        curves = np.array([law(x, a, b, fit.gamma) for a, b in fit.samples])
        curves = curves[np.all(np.isfinite(curves), axis=1)]
        if len(curves):
            lo, hi = np.percentile(curves, [2.5, 97.5], axis=0)
            return lo, hi, fit.band_kind
    if "alpha" in fit.ci and "beta" in fit.ci:
        corners = np.array([law(x, a, b, fit.gamma) for a in fit.ci["alpha"] for b in fit.ci["beta"]])
        return corners.min(axis=0), corners.max(axis=0), "CI corners"
    return None


def formula(fit: Fit) -> str:
    text = f"$S = 100 - {fit.alpha:.3g}\\,({fit.gamma:.3g}X)^{{{fit.beta:.3g}}}$"
    if fit.r2 is not None:
        text += f"\n$R^2$ = {fit.r2:.3f}"
    if fit.rmse is not None:
        text += f", RMSE = {fit.rmse:.2f}"
    return text


def pairs_label(value: float, _pos=None) -> str:
    """Tick labels people read: 200, 5k, 1.2M."""
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def _log_pairs_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(pairs_label))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_scaling(
    fit_paths: list[str], out: str | Path, *, langs: list[str] | None = None, names: dict[str, str] | None = None
) -> Path:
    """One panel per fit file; ``langs`` orders the panels (languages not listed come last)."""
    import numpy as np

    names = names or {}
    fits = [load_fit(p) for p in fit_paths]
    if not fits:
        raise UserError("--fits: no fit files given")
    if langs:
        fits.sort(key=lambda fit: langs.index(fit.lang) if fit.lang in langs else len(langs))
    plt = pyplot()
    rows, cols = grid(len(fits))
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.5 * rows), squeeze=False)
    band_kinds = set()
    flagged = {}
    for ax, fit in zip(axes.flat, fits):
        xs = [p for p, _ in fit.points if p > 0]
        ys = [s for p, s in fit.points if p > 0]
        _log_pairs_axis(ax)
        if xs:
            ax.scatter(xs, ys, color=COLORS["x"], zorder=3, s=22, label="measured")
        if fit.ok:
            lo_x = min(xs) / 1.5 if xs else 1.0
            hi_x = max(xs) * 2.0 if xs else 1e6
            grid_x = np.geomspace(lo_x, hi_x, 200)
            ci = band(fit, grid_x)
            if ci is not None:
                ax.fill_between(grid_x, ci[0], ci[1], color=COLORS["x"], alpha=0.15, lw=0, label=f"95% band ({ci[2]})")
                band_kinds.add(ci[2])
            ax.plot(grid_x, law(grid_x, fit.alpha, fit.beta, fit.gamma), ":", color="black", lw=1.6, label=formula(fit))
            if fit.flags:
                flagged[fit.lang] = [f["flag"] for f in fit.flags]
                ax.plot(
                    [], [], " ", label="warning: " + "; ".join(FLAG_LABELS.get(f["flag"], f["flag"]) for f in fit.flags)
                )
            legend = ax.legend(loc="best", fontsize="small", framealpha=0.85)
            if fit.flags:
                legend.get_texts()[-1].set_color("#B00020")
        else:
            ax.text(
                0.5,
                0.5,
                f"fit failed:\n{fit.reason}",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="#B00020",
                wrap=True,
            )
            if xs:
                ax.legend(loc="lower right")
        if ys and min(ys) >= 0:  # scores live in [0, 100]: the band's extrapolation below 0 is noise
            low, high = ax.get_ylim()
            ax.set_ylim(max(low, 0), min(high, 102))
        ax.set_title(lang_label(fit.lang, names))
        ax.set_xlabel("translation pairs X (log scale)")
        metric = fit.metric or "score"
        ax.set_ylabel(f"{metric} ({fit.direction})" if fit.direction else metric)
    for ax in list(axes.flat)[len(fits) :]:
        ax.set_visible(False)
    fig.suptitle("Translation performance vs. translation data scale, with the fitted scaling law")
    fig.tight_layout()
    return save_png(fig, out, fit_paths, band=sorted(band_kinds), flags=flagged)
