"""Estimated beside measured: each estimated job's wall time from Snakemake's benchmark files.

A benchmark file (``results/benchmarks/{rule}/{wildcards}.tsv``) holds the job's wall seconds
(``s``); GPU-hours measured are seconds × the GPUs the job asked for. A CPU job (no GPUs) is
compared in wall hours against the estimate's tokens at its throughput.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..atomic import atomic_open

BENCHMARK_NAME = {  # estimate job name -> the benchmark file's stem
    "tokenize_mixture": lambda job: job,
    "train_model": lambda job: job,
    "generate_model": lambda job: job,
    "translate_alpaca": lambda job: job.replace("/", "-"),
}


def wall_seconds(path: Path) -> float | None:
    """The last run's wall seconds of a benchmark file (None: unreadable)."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        return float(rows[-1]["s"])
    except (OSError, KeyError, IndexError, ValueError):
        return None


def compare(result: dict, benchmarks: str | Path) -> dict:
    """Per rule: jobs estimated, jobs measured, estimated and measured hours of the measured jobs."""
    out = {}
    for row in result["jobs"]:
        name = BENCHMARK_NAME.get(row["rule"])
        if name is None:
            continue
        entry = out.setdefault(
            row["rule"],
            {
                "jobs": 0,
                "measured_jobs": 0,
                "estimated_h": 0.0,
                "measured_h": 0.0,
                "unit": "GPU-hours" if row["gpus"] else "wall hours",
            },
        )
        entry["jobs"] += 1
        seconds = wall_seconds(Path(benchmarks) / row["rule"] / f"{name(row['job'])}.tsv")
        if seconds is None:
            continue
        entry["measured_jobs"] += 1
        if row["gpus"]:
            entry["estimated_h"] += row["gpu_hours"]
            entry["measured_h"] += seconds / 3600 * row["gpus"]
        else:  # the tokens at the stage's throughput on one process, plus its overhead
            entry["estimated_h"] += row["wall_s"] / 3600
            entry["measured_h"] += seconds / 3600
    for entry in out.values():
        entry["ratio"] = entry["measured_h"] / entry["estimated_h"] if entry["estimated_h"] else None
    return out


def write_table(path: str | Path, comparison: dict, total_gpu_hours: float) -> None:
    lines = [
        "# Cost: estimated before launch beside measured",
        "",
        f"Estimated for the whole grid: {total_gpu_hours:.1f} GPU-hours (`xllm estimate`). Below, per rule, "
        "the jobs that have run: their estimate and their benchmark files' wall time (× GPUs).",
        "",
        "| Rule | Jobs | Measured | Unit | Estimated | Measured | Measured / estimated |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for rule, e in comparison.items():
        ratio = f"{e['ratio']:.2f}" if e["ratio"] is not None else "–"
        lines.append(
            f"| {rule} | {e['jobs']} | {e['measured_jobs']} | {e['unit']} | {e['estimated_h']:.4g} | "
            f"{e['measured_h']:.4g} | {ratio} |"
        )
    with atomic_open(path) as handle:
        handle.write("\n".join(lines) + "\n")
