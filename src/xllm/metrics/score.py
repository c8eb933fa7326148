"""Scoring a model's generations into rows of the long score table (DESIGN.md).

One row per (plan item, metric): the corpus score, the number of segments, a seeded bootstrap
percentile interval over segments, and the metric's signature. ``gather`` concatenates per-model
tables into ``results/scores.csv``, checking their columns.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..atomic import atomic_open, write_json
from ..errors import UserError
from ..mixture.recipes import parse_model_id
from ..provenance import provenance
from . import registry
from .bootstrap import confidence_interval
from .generations import load_item, load_plan

COLUMNS = ("model", "recipe", "lang", "scale", "budget", "alloc", "task", "direction",
           "metric", "value", "n", "ci_low", "ci_high", "signature")
SORT_KEY = ("model", "task", "direction", "metric")


def _fmt(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def score_row(meta: dict, gen, metric: str, scored, n_boot: int, seed: int) -> dict:
    """One row over COLUMNS for a plan item's ``scored`` metric, with its bootstrap interval."""
    low, high = confidence_interval(scored, n_boot, seed)
    return {**meta, "lang": gen.lang, "task": gen.task, "direction": gen.direction, "metric": metric,
            "value": _fmt(scored.score), "n": scored.n, "ci_low": _fmt(low), "ci_high": _fmt(high),
            "signature": scored.signature}


def score_generations(gen_dir, plan_path, model_id: str, mt_metrics: list[str], qa_metrics: list[str],
                      options: registry.MetricOptions, n_boot: int = 1000, seed: int = 0):
    """Rows (dicts over COLUMNS) and per-row details (counts over max length, etc.)."""
    meta = parse_model_id(model_id).columns()
    plan = load_plan(plan_path)
    rows, details = [], []
    for item in plan:
        gen = load_item(gen_dir, item, need_sources="comet" in mt_metrics)
        names = mt_metrics if gen.kind == "mt" else qa_metrics
        for name in names:
            scored = registry.compute(name, gen.hyps, gen.refs, srcs=gen.srcs, lang=gen.target_lang, options=options)
            rows.append(score_row(meta, gen, name, scored, n_boot, seed))
            details.append({"task": gen.task, "direction": gen.direction, "metric": name, **scored.info})
    return rows, details


def write_scores(path, rows, sidecar: dict | None = None) -> None:
    rows = sorted(rows, key=lambda r: tuple(str(r[k]) for k in SORT_KEY))
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    if sidecar is not None:
        write_json(f"{path}.json", sidecar)


def read_scores(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise UserError(f"{path}: columns {reader.fieldnames} are not the score table's {list(COLUMNS)}")
        return list(reader)


def gather(inputs, out) -> int:
    rows = []
    for path in inputs:
        rows.extend(read_scores(path))
    seen = set()
    for row in rows:
        key = tuple(row[k] for k in SORT_KEY)
        if key in seen:
            raise UserError(f"duplicate score {'/'.join(key)} across the inputs")
        seen.add(key)
    write_scores(out, rows, {"inputs": [str(p) for p in inputs], "rows": len(rows), "provenance": provenance()})
    return len(rows)


def run(args) -> int:
    options = registry.MetricOptions(
        spm_model=args.spm_model, comet_model=args.comet_model, comet_encoder=args.comet_encoder,
        bleurt_model=args.bleurt_model, batch_size=args.batch_size, device=args.device,
    )
    mt = registry.parse_list(args.mt_metrics, "mt")
    qa = registry.parse_list(args.qa_metrics, "qa")
    rows, details = score_generations(args.generations_dir, args.plan, args.model, mt, qa, options,
                                      n_boot=args.bootstrap, seed=args.seed)
    sidecar = {
        "model": args.model, "generations_dir": str(args.generations_dir), "plan": str(args.plan),
        "mt_metrics": mt, "qa_metrics": qa, "bootstrap": args.bootstrap, "ci_level": 0.95,
        "metric_models": {"spm_model": args.spm_model, "comet_model": args.comet_model,
                          "comet_encoder": args.comet_encoder, "bleurt_model": args.bleurt_model},
        "details": details,
        "provenance": provenance(seed=args.seed, signatures=sorted({r["signature"] for r in rows})),
    }
    write_scores(Path(args.out), rows, sidecar)
    over = [d for d in details if d.get("n_over_max_length")]
    for d in over:
        print(f"{d['task']}/{d['direction']} {d['metric']}: {d['n_over_max_length']} inputs over "
              f"the model's maximum length ({d['max_length']} tokens) were truncated", flush=True)
    print(f"wrote {len(rows)} scores to {args.out}")
    return 0
