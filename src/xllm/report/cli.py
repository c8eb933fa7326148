"""``xllm plot-*`` and ``xllm scores-summary``: the report's figures and tables."""

from __future__ import annotations


def _names(args):
    from .inputs import lang_names

    return lang_names(args.lang_name)


def _langs(args):
    return [code for code in (args.langs or "").split(",") if code] or None


def cmd_plot_scaling(args) -> int:
    from .scaling_plot import plot_scaling

    out = plot_scaling(args.fits, args.out, names=_names(args))
    print(f"scaling-law plot of {len(args.fits)} fit(s): {out}")
    return 0


def _common(p, langs: bool = True) -> None:
    p.add_argument("--lang-name", action="append", default=[], metavar="CODE=NAME",
                   help="display name of a language (built-in languages are named already)")
    if langs:
        p.add_argument("--langs", help="comma-separated languages to show, in this order (default: all found)")
    p.add_argument("--out", required=True)


def register(sub) -> None:
    p = sub.add_parser("plot-scaling", help="Figure 3: points, fitted scaling law and CI band per language")
    p.add_argument("--fits", nargs="+", required=True, metavar="FIT.json")
    _common(p, langs=False)
    p.set_defaults(func=cmd_plot_scaling)
