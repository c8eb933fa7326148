"""Scaling commands: fit laws, compute language similarity γ, allocate budgets, Table 4, Figure 5 data."""

from __future__ import annotations

import argparse
import math
import re
import zipfile
from pathlib import Path

from ..atomic import read_json
from ..errors import UserError

MAX_PAIRS = 10**12  # far above any parallel corpus; larger numbers are typos (and overflow int64 sums)
_SUFFIX = {"": 1, "k": 10**3, "K": 10**3, "m": 10**6, "M": 10**6}


def resamples(text: str) -> int:
    """--bootstrap: a count of resamples, 0 for none."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (0: no bootstrap)")
    return value


def parse_budget(text: str) -> int:
    """``1200000``, ``1.2M`` or ``300k`` → integer pairs."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmM]?)\s*", str(text))
    if not match:
        raise UserError(f"--budget: {text!r} is not a number of pairs (e.g. 1200000, 1.2M, 300k)")
    value = float(match.group(1)) * _SUFFIX[match.group(2)]
    if not math.isfinite(value) or abs(value - round(value)) > 1e-6:
        raise UserError(f"--budget: {text!r} is not a whole number of pairs")
    if not 1 <= value <= MAX_PAIRS:
        raise UserError(f"--budget: {text!r} is not between 1 pair and {MAX_PAIRS:.0e} (more than any corpus)")
    return int(round(value))


def _fit_and_write(pairs, scores, gamma, out, n_boot, seed, extra: dict, segments=None) -> int:
    """Fit and write the law's JSON; with ``segments`` (one ``Scored`` per point) the intervals come
    from the segment bootstrap, else from resampling the points."""
    from ..atomic import write_json
    from ..provenance import provenance
    from .law import FitError, fit_scaling_law

    try:
        if segments is not None:
            from .bootstrap import fit_segment_bootstrap

            fit = fit_segment_bootstrap(list(zip(pairs, segments)), gamma, n_boot=n_boot, seed=seed)
        else:
            fit = fit_scaling_law(pairs, scores, gamma, n_boot=n_boot, seed=seed)
    except FitError as err:
        write_json(
            out,
            {
                "ok": False,
                "reason": str(err),
                **extra,
                "gamma": gamma,
                "points": [{"pairs": p, "score": s} for p, s in zip(pairs, scores)],
                "provenance": provenance(seed=seed),
            },
        )
        raise UserError(f"{out}: scaling-law fit failed: {err}") from None
    record = {**fit.to_json(), **extra, "provenance": provenance(seed=seed, n_bootstrap=n_boot)}
    write_json(out, record)
    ci = fit.ci
    print(
        f"{out}: alpha={fit.law.alpha:.4g} beta={fit.law.beta:.4g} (gamma={gamma:.4g}, "
        f"{len(pairs)} points, R2={fit.r2 if fit.r2 is None else round(fit.r2, 4)}, "
        f"beta CI={[round(v, 4) for v in ci.get('beta', [])]} by {fit.ci_method})"
    )
    for flag in fit.flags:
        print(f"{out}: warning: {flag['message']}")
    return 0


def cmd_fit(args) -> int:
    from .points import read_points_csv

    if not 0 < args.gamma <= 1:
        raise UserError(f"--gamma must be in (0, 1], got {args.gamma}")
    pairs, scores = read_points_csv(args.points)
    return _fit_and_write(pairs, scores, args.gamma, args.out, args.bootstrap, args.seed, {"source": str(args.points)})


def gamma_from_similarity(path: str) -> float:
    obj = read_json(path, "a similarity file")
    gamma = obj.get("gamma")
    if not isinstance(gamma, (int, float)) or not 0 < gamma <= 1:
        raise UserError(f"{path}: 'gamma' must be a number in (0, 1], got {gamma!r}")
    return float(gamma)


def cmd_fit_scores(args) -> int:
    from .points import direction_of, read_score_points

    gamma = gamma_from_similarity(args.similarity)
    points = read_score_points(
        args.scores, args.lang, args.task, args.metric, args.direction, recipe=args.recipe or None
    )
    direction = direction_of(args.lang, args.direction)
    extra = {
        "lang": args.lang,
        "task": args.task,
        "metric": args.metric,
        "direction": direction,
        "recipe": args.recipe,
        "similarity": str(args.similarity),
        "models": [p["model"] for p in points],
    }
    segments = None
    if args.segments:
        if len(args.segments) != len(args.scores):
            raise UserError(
                f"--segments: {len(args.segments)} file(s) for {len(args.scores)} --scores file(s); "
                "give one per scores file, in the same order"
            )
        segments = point_segments(points, args.segments, args.task, direction, args.metric)
        extra["segments"] = [str(args.segments[p["source"]]) for p in points]
    return _fit_and_write(
        [p["pairs"] for p in points],
        [p["score"] for p in points],
        gamma,
        args.out,
        args.bootstrap,
        args.seed,
        extra,
        segments=segments,
    )


def point_segments(points: list[dict], paths: list[str], task: str, direction: str, metric: str) -> list:
    """Each point's per-segment statistics, from the segments file beside its scores file."""
    from ..metrics import segments as segment_files

    loaded, out = {}, []
    for point in points:
        path = str(paths[point["source"]])
        if path not in loaded:
            try:
                loaded[path] = segment_files.load(path)
            except (OSError, ValueError, zipfile.BadZipFile) as err:
                raise UserError(f"{path}: cannot read segment statistics ({err})") from None
        scored = loaded[path].get((task, direction, metric))
        if scored is None:
            raise UserError(f"{path}: no segment statistics for {task} {direction} {metric} (model {point['model']})")
        out.append(scored)
    return out


def _laws_and_caps(obj: dict, path: str):
    from .law import law_from_json

    laws, caps = {}, {}
    for lang, entry in obj.items():
        if not isinstance(entry, dict):
            raise UserError(f"{path}: {lang}: expected an object with alpha, beta, gamma, max_pairs")
        try:
            laws[lang] = law_from_json(entry, f"{path}: {lang}")
        except ValueError as err:
            raise UserError(str(err)) from None
        if "max_pairs" not in entry:
            raise UserError(f"{path}: {lang}: missing key 'max_pairs'")
        cap = entry["max_pairs"]
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not 0 < cap <= MAX_PAIRS or cap != int(cap):
            raise UserError(f"{path}: {lang}: max_pairs {cap!r} is not a whole number of pairs in 1..{MAX_PAIRS:.0e}")
        caps[lang] = int(cap)
    return laws, caps


def allocate_record(
    laws, caps, budget: int, where: str, replicates: dict | None = None, objective: str = "point"
) -> dict:
    """The allocation JSON; with every language's bootstrap replicates, also the chosen split's gain
    over uniform per replicate (``uncertainty``), and ``objective`` may use them to choose the split."""
    from .allocate import AllocationError, optimal_allocation, parse_objective, uncertain_allocation, uniform_allocation

    try:
        kind, _ = parse_objective(objective)
        if kind != "point" and not (replicates and all(replicates.get(k) for k in laws)):
            missing = [k for k in laws if not (replicates or {}).get(k)]
            raise AllocationError(f"objective {objective!r} needs bootstrap replicates; none for {', '.join(missing)}")
        uncertainty = None
        if replicates and all(replicates.get(k) for k in laws):
            best, uniform, uncertainty = uncertain_allocation(laws, caps, budget, replicates, objective)
        else:
            best = optimal_allocation(laws, caps, budget)
            uniform = uniform_allocation(laws, caps, budget)
    except AllocationError as err:
        raise UserError(f"{where}: {err}") from None
    for name, split in (("optimized", best), ("uniform", uniform)):
        bad = {k: v for k, v in split.predicted.items() if v is None or v < 0}
        if bad:
            lang, value = next(iter(bad.items()))
            raise UserError(
                f"{where}: budget {budget} is too small for these laws: the {name} split gives {lang} "
                f"{split.pairs[lang]} pairs, where its law predicts "
                f"{'nothing (no pairs)' if value is None else f'{value:.0f}'}, outside the 0-100 it "
                f"was fitted on"
            )
    record = {"budget": budget, **best.to_json(), "uniform": uniform.to_json(), "objective": objective}
    if uncertainty is not None:
        record["uncertainty"] = uncertainty
    if best.mean_predicted is not None and uniform.mean_predicted is not None:
        record["gain_over_uniform"] = best.mean_predicted - uniform.mean_predicted
    record["max_pairs"] = {k: int(v) for k, v in caps.items()}
    record["laws"] = {k: {"alpha": v.alpha, "beta": v.beta, "gamma": v.gamma} for k, v in laws.items()}
    return record


def _report_allocation(out, record) -> None:
    pairs = ", ".join(f"{k}={v}" for k, v in record["allocation"].items())
    mean = record["mean_predicted"]
    print(
        f"{out}: {pairs} (mean predicted {mean if mean is None else round(mean, 3)}, "
        f"uniform {record['uniform']['mean_predicted']})"
    )
    unc = record.get("uncertainty")
    if unc:
        lo, hi = unc["gain"]["ci"]
        print(
            f"{out}: gain over uniform {lo:+.3f} to {hi:+.3f} (95%, {unc['n_replicates']} replicates), "
            f"P(optimized better) = {unc['p_optimized_better']:.2f}, objective {unc['objective']}"
        )


def cmd_allocate(args) -> int:
    from ..atomic import write_json
    from ..provenance import provenance

    budget = parse_budget(args.budget)
    laws, caps = _laws_and_caps(read_json(args.laws, "language -> law"), args.laws)
    record = allocate_record(laws, caps, budget, args.laws)
    record["provenance"] = provenance(laws=str(args.laws))
    write_json(args.out, record)
    _report_allocation(args.out, record)
    return 0


def parse_max_pairs(text: str) -> dict[str, int]:
    caps = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        lang, sep, value = item.partition("=")
        if not sep or not lang:
            raise UserError(f"--max-pairs: {item!r} is not LANG=N")
        try:
            caps[lang.strip()] = int(parse_budget(value))
        except UserError:
            raise UserError(f"--max-pairs: {lang}: {value!r} is not a whole number of pairs") from None
    return caps


def configured_caps(args) -> dict[str, int]:
    """--max-pairs, lowered to the pairs left after cleaning where --corpus-manifests are given."""
    from ..data.stats import cleaned_caps

    caps = parse_max_pairs(args.max_pairs)
    if args.corpus_manifests:
        cleaned = cleaned_caps(caps, args.corpus_manifests)
        caps = {lang: cleaned[lang] for lang in caps}
    return caps


def cmd_split_uniform(args) -> int:
    from ..atomic import write_json
    from ..provenance import provenance
    from .allocate import uniform_split

    budget = parse_budget(args.budget)
    caps = configured_caps(args)
    split = uniform_split(caps, budget)
    write_json(
        args.out,
        {"budget": budget, "kind": "uniform", "allocation": split, "max_pairs": caps, "provenance": provenance()},
    )
    print(f"uniform split of {budget} pairs: {split} -> {args.out}")
    return 0


def cmd_allocate_fits(args) -> int:
    from ..atomic import write_json
    from ..provenance import provenance
    from .law import law_from_json

    budget = parse_budget(args.budget)
    caps_all = configured_caps(args)
    laws, measured, replicates, methods = {}, {}, {}, {}
    for path in args.fits:
        fit = read_json(path, "a scaling-law fit")
        lang = fit.get("lang") or Path(path).stem
        if fit.get("ok") is False:
            raise UserError(f"{path}: the fit for {lang} failed ({fit.get('reason', 'no reason given')})")
        if lang in laws:
            raise UserError(f"{path}: a second fit for language {lang}")
        what = {k: fit[k] for k in ("task", "metric") if k in fit}
        if measured and what and what != measured:
            raise UserError(f"{path}: fitted on {what}, the other fits on {measured}; laws must share a metric")
        measured = measured or what
        try:
            laws[lang] = law_from_json(fit, path)
        except ValueError as err:
            raise UserError(str(err)) from None
        replicates[lang] = fit.get("bootstrap") or []
        methods[lang] = fit.get("ci_method", "point-bootstrap" if replicates[lang] else None)
    missing = [lang for lang in laws if lang not in caps_all]
    if missing:
        raise UserError(f"--max-pairs: no value for {', '.join(missing)}")
    caps = {lang: caps_all[lang] for lang in laws}
    record = allocate_record(laws, caps, budget, "--budget/--max-pairs", replicates, args.objective)
    record["ci_methods"] = methods
    record["budget_name"] = args.budget_name or Path(args.out).stem
    record.update(measured)
    record["fits"] = [str(p) for p in args.fits]
    record["provenance"] = provenance()
    write_json(args.out, record)
    _report_allocation(args.out, record)
    return 0


def cmd_similarity(args) -> int:
    from ..atomic import write_json
    from .similarity import similarity_record

    record = similarity_record(
        args.lang,
        args.base,
        args.en,
        args.x,
        gamma=args.gamma,
        layer=args.layer,
        max_sentences=args.max_sentences,
        batch_size=args.batch_size,
    )
    write_json(args.out, record)
    print(f"{args.out}: gamma({args.lang}) = {record['gamma']:.4f} ({record['gamma_source']})")
    return 0


def cmd_alignment(args) -> int:
    from ..atomic import write_json
    from .alignment import alignment_record, alignment_summary, parse_named

    models = parse_named(args.model, "--model")
    xs = parse_named(args.x, "--x")
    record = alignment_record(
        models, args.en, xs, max_sentences=args.max_sentences, batch_size=args.batch_size, seed=args.seed
    )
    write_json(args.out, record)
    print(f"{args.out}: {alignment_summary(record)}")
    return 0


def cmd_allocation_table(args) -> int:
    from .table import table_command

    return table_command(
        args.allocations,
        args.scores,
        args.out,
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()],
        task=args.task,
        generations_root=args.generations_root,
        paper_tables=args.paper_tables,
        n_boot=args.bootstrap,
        seed=args.seed,
    )


def _manifests_flag(p) -> None:
    p.add_argument(
        "--corpus-manifests",
        nargs="+",
        help="prepare-corpus manifests: each cap becomes min(max pairs, pairs left after cleaning)",
    )


def register(sub) -> None:
    p = sub.add_parser("fit", help="fit S(X) = 100 - alpha*(gamma*X)^beta to a pairs,score CSV")
    p.add_argument("--points", required=True, help="CSV with columns pairs,score")
    p.add_argument("--gamma", type=float, required=True, help="language similarity in (0, 1]")
    p.add_argument("--bootstrap", type=resamples, default=200, help="bootstrap resamples for the CIs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("fit-scores", help="fit one language's law from the long scores table")
    p.add_argument("--scores", nargs="+", action="extend", required=True, help="score CSVs (long format)")
    p.add_argument("--lang", required=True)
    p.add_argument("--task", default="flores")
    p.add_argument("--metric", default="comet")
    p.add_argument("--direction", default="en-x", help="en-x, x-en or an explicit pair like en-ar")
    p.add_argument("--recipe", default="coit", help="recipe whose models give the points ('' = any)")
    p.add_argument("--similarity", required=True, help="JSON with the language's gamma")
    p.add_argument(
        "--segments",
        nargs="+",
        action="extend",
        default=None,
        help="per-segment statistics (.segments.npz), one per --scores file in the same order: "
        "intervals by the segment bootstrap instead of resampling the points",
    )
    p.add_argument("--bootstrap", type=resamples, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_fit_scores)

    p = sub.add_parser("allocate", help="split a budget of pairs over languages (exact KKT optimum)")
    p.add_argument("--laws", required=True, help="JSON: language -> {alpha, beta, gamma, max_pairs}")
    p.add_argument("--budget", required=True, help="pairs in total, e.g. 1200000 or 1.2M")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser("split-uniform", help="the uniform split of a budget (no scaling law needed)")
    p.add_argument("--max-pairs", required=True, help="LANG=N,LANG=N,... pairs available per language")
    _manifests_flag(p)
    p.add_argument("--budget", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_split_uniform)

    p = sub.add_parser("allocate-fits", help="allocate a budget using per-language fit JSONs")
    p.add_argument("--fits", nargs="+", action="extend", required=True)
    p.add_argument("--max-pairs", required=True, help="LANG=N,LANG=N,... pairs available per language")
    _manifests_flag(p)
    p.add_argument("--budget", required=True)
    p.add_argument("--budget-name", default=None, help="name of the budget (default: the output's stem)")
    p.add_argument(
        "--objective",
        default="point",
        help="point (the fitted laws), expected (mean over the fits' bootstrap replicates) or "
        "quantile:Q (the Q-quantile over replicates of the mean score, e.g. quantile:0.1)",
    )
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_allocate_fits)

    p = sub.add_parser("similarity", help="language similarity gamma from a base model on parallel text")
    p.add_argument("--base", required=True, help="base model directory")
    p.add_argument("--en", required=True, help="English sentences, one per line")
    p.add_argument("--x", required=True, help="the same sentences in the language, line-aligned")
    p.add_argument("--lang", required=True)
    p.add_argument("--gamma", type=float, default=None, help="fixed gamma (from the config): wins")
    p.add_argument("--layer", default="middle", help="middle, last or a layer index")
    p.add_argument("--max-sentences", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_similarity)

    p = sub.add_parser("alignment", help="per-layer alignment of parallel sentences (Figure 5 data)")
    p.add_argument("--model", nargs="+", action="extend", required=True, metavar="NAME=DIR")
    p.add_argument("--en", required=True)
    p.add_argument("--x", nargs="+", action="extend", required=True, metavar="LANG=FILE")
    p.add_argument("--max-sentences", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_alignment)

    p = sub.add_parser("allocation-table", help="the paper's Table 4: uniform vs optimized allocation")
    p.add_argument("--allocations", nargs="+", action="extend", required=True)
    p.add_argument("--scores", required=True)
    p.add_argument("--generations-root", default=None, help="for the paired-bootstrap significance")
    p.add_argument("--metrics", default="comet,bleurt,bleu,chrf")
    p.add_argument("--task", default="flores")
    p.add_argument("--paper-tables", default=None)
    p.add_argument("--bootstrap", type=resamples, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_allocation_table)
