"""Scoring a model's generations into rows of the long score table (DESIGN.md).

One row per (plan item, metric): the corpus score, the number of segments and the metric's
signature; the per-segment statistics go beside the table (``segments.py``). ``gather``
concatenates per-model tables into ``results/scores.csv``, checking their columns, and adds each
row's seeded bootstrap percentile interval over segments: the number of resamples is a setting of
gathering, so changing it re-scores nothing.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ..args import setting
from ..atomic import atomic_open, write_json
from ..errors import UserError
from ..mixture.recipes import parse_model_id
from ..provenance import provenance
from . import registry, segments
from .bootstrap import confidence_interval
from .columns import COLUMNS
from .generations import load_item, load_plan

SORT_KEY = ("model", "task", "direction", "metric")


def _fmt(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def score_row(meta: dict, gen, metric: str, scored, n_boot: int = 0, seed: int = 0) -> dict:
    """One row over COLUMNS for a plan item's ``scored`` metric; an interval only with ``n_boot``
    (scoring leaves it to gather-scores, which reads the segment statistics)."""
    low, high = confidence_interval(scored, n_boot, seed)
    return {
        **meta,
        "lang": gen.lang,
        "task": gen.task,
        "direction": gen.direction,
        "metric": metric,
        "value": _fmt(scored.score),
        "n": scored.n,
        "ci_low": _fmt(low),
        "ci_high": _fmt(high),
        "signature": scored.signature,
    }


@dataclass(frozen=True)
class ScoreConfig:
    """Which metrics score a model's generations (metric models: ``registry.MetricOptions``)."""

    mt_metrics: list[str] = setting(default_factory=lambda: ["bleu", "chrf"], help="translation metrics")
    qa_metrics: list[str] = setting(default_factory=lambda: ["em", "f1", "contains", "match"], help="QA metrics")

    def __post_init__(self):
        registry.check_names(self.mt_metrics, "mt")
        registry.check_names(self.qa_metrics, "qa")


def score_generations(gen_dir, plan_path, model_id: str, config: ScoreConfig, options: registry.MetricOptions):
    """Rows (dicts over COLUMNS, no interval yet), per-row details, and the Scored of each row."""
    meta = parse_model_id(model_id).columns()
    plan = load_plan(plan_path)
    rows, details, scored_items = [], [], []
    for item in plan:
        if "prompts" in item:  # open instructions (MI-Eval): no reference, judged pairwise only
            continue
        gen = load_item(gen_dir, item, need_sources="comet" in config.mt_metrics)
        names = config.mt_metrics if gen.kind == "mt" else config.qa_metrics
        for name in names:
            scored = registry.compute(name, gen.hyps, gen.refs, srcs=gen.srcs, lang=gen.target_lang, options=options)
            rows.append(score_row(meta, gen, name, scored))
            details.append({"task": gen.task, "direction": gen.direction, "metric": name, **scored.info})
            scored_items.append((gen.task, gen.direction, gen.target_lang, scored))
    return rows, details, scored_items


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


def gather(inputs, out, n_boot: int = 1000, seed: int = 0) -> int:
    """Concatenate per-model tables; intervals from each table's segment statistics where it has them."""
    rows = []
    for path in inputs:
        table = read_scores(path)
        stats_path = segments.segments_path(path)
        stats = segments.load(stats_path) if stats_path.exists() else {}
        for row in table:
            scored = stats.get((row["task"], row["direction"], row["metric"]))
            if scored is not None:
                low, high = confidence_interval(scored, n_boot, seed)
                row["ci_low"], row["ci_high"] = _fmt(low), _fmt(high)
        rows.extend(table)
    seen = set()
    for row in rows:
        key = tuple(row[k] for k in SORT_KEY)
        if key in seen:
            raise UserError(f"duplicate score {'/'.join(key)} across the inputs")
        seen.add(key)
    write_scores(
        out,
        rows,
        {
            "inputs": [str(p) for p in inputs],
            "rows": len(rows),
            "bootstrap": n_boot,
            "ci_level": 0.95,
            "provenance": provenance(seed=seed),
        },
    )
    return len(rows)


def run(gen_dir, plan_path, model_id: str, out, config: ScoreConfig, options: registry.MetricOptions) -> int:
    """Score one model: its table at ``out``, the segment statistics and a JSON sidecar beside it."""
    rows, details, scored_items = score_generations(gen_dir, plan_path, model_id, config, options)
    sidecar = {
        "model": model_id,
        "generations_dir": str(gen_dir),
        "plan": str(plan_path),
        "mt_metrics": config.mt_metrics,
        "qa_metrics": config.qa_metrics,
        "metric_models": {
            "spm_model": options.spm_model,
            "comet_model": options.comet_model,
            "comet_encoder": options.comet_encoder,
            "bleurt_model": options.bleurt_model,
        },
        "details": details,
        "provenance": provenance(signatures=sorted({r["signature"] for r in rows})),
    }
    segments.save(segments.segments_path(out), scored_items)
    write_scores(Path(out), rows, sidecar)
    for d in details:
        if d.get("n_over_max_length"):
            print(
                f"{d['task']}/{d['direction']} {d['metric']}: {d['n_over_max_length']} inputs over "
                f"the model's maximum length ({d['max_length']} tokens) were truncated",
                flush=True,
            )
    print(f"wrote {len(rows)} scores to {out}")
    return len(rows)
