"""``xllm plot-*`` and ``xllm scores-summary``: the report's figures and tables."""

from __future__ import annotations


def _names(args):
    from .inputs import lang_names

    return lang_names(args.lang_name)


def _langs(args):
    return [code for code in (args.langs or "").split(",") if code] or None


def cmd_plot_scaling(args) -> int:
    from .scaling_plot import plot_scaling

    out = plot_scaling(args.fits, args.out, langs=_langs(args), names=_names(args))
    print(f"scaling-law plot of {len(args.fits)} fit(s): {out}")
    return 0


def _common(p) -> None:
    p.add_argument(
        "--lang-name",
        action="append",
        default=[],
        metavar="CODE=NAME",
        help="display name of a language (built-in languages are named already)",
    )
    p.add_argument("--langs", help="comma-separated languages, in this order (default: all found, as found)")
    p.add_argument("--out", required=True)


def register_scaling(sub) -> None:
    p = sub.add_parser("plot-scaling", help="Figure 3: points, fitted scaling law and CI band per language")
    p.add_argument("--fits", nargs="+", required=True, metavar="FIT.json")
    _common(p)
    p.set_defaults(func=cmd_plot_scaling)


def cmd_plot_x_vs_m(args) -> int:
    from .x_vs_m import plot_x_vs_m

    out = plot_x_vs_m(
        args.scores,
        args.task,
        args.metric,
        args.out,
        x_recipe=args.x_recipe,
        m_recipe=args.m_recipe,
        baseline=args.baseline,
        langs=_langs(args),
        names=_names(args),
    )
    print(f"x- vs m-model plot ({args.task}, {args.metric}): {out}")
    return 0


def register_x_vs_m(sub) -> None:
    p = sub.add_parser("plot-x-vs-m", help="Figure 4: x-model vs m-model vs baseline per language")
    p.add_argument("--scores", required=True, help="results/scores.csv")
    p.add_argument("--task", default="flores", help="task, or comma-separated tasks side by side (flores,xquad)")
    p.add_argument("--metric", default="chrf", help="metric, or one per task (chrf,f1)")
    p.add_argument("--x-recipe", default="coit")
    p.add_argument("--m-recipe", default="muit")
    p.add_argument("--baseline", default="alpaca-en")
    _common(p)
    p.set_defaults(func=cmd_plot_x_vs_m)


def cmd_plot_allocation(args) -> int:
    from .allocation_plot import plot_allocation

    out = plot_allocation(
        args.allocations,
        args.out,
        scores=args.scores,
        task=args.task,
        metric=args.metric,
        langs=_langs(args),
        names=_names(args),
    )
    print(f"allocation plot of {len(args.allocations)} budget(s): {out}")
    return 0


def register_allocation(sub) -> None:
    p = sub.add_parser("plot-allocation", help="uniform vs optimized allocation: pairs, predicted and measured scores")
    p.add_argument("--allocations", nargs="+", required=True, metavar="ALLOC.json")
    p.add_argument("--scores", help="results/scores.csv (measured scores of the budget m-models, optional)")
    p.add_argument("--task", default="flores")
    p.add_argument("--metric", help="metric of the measured scores (default: the fits' metric, else comet, chrf, ...)")
    _common(p)
    p.set_defaults(func=cmd_plot_allocation)


def cmd_plot_alignment(args) -> int:
    from .alignment_plot import plot_alignment

    out = plot_alignment(args.alignment, args.out, langs=_langs(args), names=_names(args))
    print(f"alignment plot: {out}")
    return 0


def register_alignment(sub) -> None:
    p = sub.add_parser("plot-alignment", help="Figure 5: layer-wise cosine of parallel sentences and a 2-D projection")
    p.add_argument("--alignment", required=True, help="results/analysis/alignment.json")
    _common(p)
    p.set_defaults(func=cmd_plot_alignment)


def cmd_plot_ablation(args) -> int:
    from .ablation_plot import plot_ablation

    out = plot_ablation(
        args.scores,
        args.out,
        lang=args.lang,
        models=args.models,
        task=args.task,
        metric=args.metric,
        paper_tables=args.paper_tables,
        names=_names(args),
    )
    print(f"ablation plot ({args.task}, {args.metric}, {args.lang}): {out}")
    return 0


def register_ablation(sub) -> None:
    p = sub.add_parser("plot-ablation", help="Figure 6: the ablation models' QA score in the ablation language")
    p.add_argument("--scores", required=True, help="results/scores.csv")
    p.add_argument("--lang", required=True, help="the ablation language (mixture.ablation_lang)")
    p.add_argument("--models", nargs="+", required=True, help="model ids, in bar order")
    p.add_argument("--task", default="xquad")
    p.add_argument("--metric", default="judge")
    p.add_argument("--paper-tables", help="workflow/paper_tables.yaml (the paper's bars, for zh)")
    _common(p)
    p.set_defaults(func=cmd_plot_ablation)


def cmd_plot_cpt(args) -> int:
    from .cpt_plot import plot_cpt

    out = plot_cpt(
        args.scores,
        args.out,
        task=args.task,
        metric=args.metric,
        kind=args.direction,
        langs=_langs(args),
        names=_names(args),
    )
    print(f"CPT vs CoIT plot ({args.task}, {args.metric}, {args.direction}): {out}")
    return 0


def register_cpt(sub) -> None:
    p = sub.add_parser("plot-cpt", help="Figure 7: score vs data size, continued pre-training vs CoIT")
    p.add_argument("--scores", required=True, help="results/scores.csv")
    p.add_argument("--task", default="flores")
    p.add_argument("--metric", default="bleu", help="the scaling laws' metric (scaling.metric)")
    p.add_argument("--direction", choices=["en-x", "x-en"], default="en-x")
    _common(p)
    p.set_defaults(func=cmd_plot_cpt)


def cmd_plot_mieval(args) -> int:
    from .mieval_plot import plot_mieval

    out = plot_mieval(args.results, args.out, names=_names(args))
    print(f"MI-Eval win/tie/lose plot of {len(args.results)} language(s): {out}")
    return 0


def register_mieval(sub) -> None:
    p = sub.add_parser("plot-mieval", help="Figure 4 (right): m-model vs x-model win/tie/lose on MI-Eval")
    p.add_argument("--results", nargs="+", required=True, metavar="LANG.json", help="judge-pairwise results (a: x)")
    _common(p)
    p.set_defaults(func=cmd_plot_mieval)


def cmd_scores_summary(args) -> int:
    from .summary import summarize

    out = summarize(
        args.scores,
        args.out,
        paper_tables=args.paper_tables,
        langs=_langs(args),
        names=_names(args),
        ci=args.ci,
        fits=args.fits,
        generations=args.generations,
        judge=args.judge,
    )
    print(f"scores summary: {out}")
    return 0


def register_summary(sub) -> None:
    p = sub.add_parser("scores-summary", help="markdown tables of all scores, the paper's numbers beside ours")
    p.add_argument("--scores", required=True, help="results/scores.csv")
    p.add_argument("--paper-tables", help="workflow/paper_tables.yaml (the paper's published numbers)")
    p.add_argument("--ci", action="store_true", help="show bootstrap confidence intervals in the cells")
    p.add_argument("--fits", nargs="+", metavar="FIT.json", help="results/scaling/*.json: add the fitted laws' table")
    p.add_argument(
        "--generations",
        nargs="+",
        metavar="generation.json",
        help="results/generations/{model}/generation.json: add the table of prompts cut to fit",
    )
    p.add_argument(
        "--judge",
        choices=["on", "off"],
        help="whether the LLM judge ran (eval.judge): off says Table 2, Figure 6 and MI-Eval were not run",
    )
    _common(p)
    p.set_defaults(func=cmd_scores_summary)


def register(sub) -> None:
    register_scaling(sub)
    register_x_vs_m(sub)
    register_allocation(sub)
    register_alignment(sub)
    register_ablation(sub)
    register_cpt(sub)
    register_mieval(sub)
    register_summary(sub)
