"""Issue 3's targets: the demo's wall time (<= 5 min on 2 cores) with the time of each stage from
Snakemake's benchmark files, and `snakemake -n all` on the paper's config (<= 10 s).

    .venv/bin/python bench/bench_workflow.py [--config config.demo.yaml] [--skip-demo]
                                             [--without-preload]

Runs in a fresh copy of the workflow (nothing of results/ is reused). Beside each absolute time it
prints the same machine's `snakemake --version` start-up time, measured in the same run, so a
reader can tell a slow machine from a slow workflow. With ``--without-preload`` the demo runs a
second time, in another fresh copy, with ``preload_imports=false`` (every job imports torch
itself), and the ratio of the two wall times is printed. The preload servers of each run live in
a temporary folder of the run's own, so their logs count that run's server starts and commands.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# The rules whose jobs load a model (each process pays the torch + transformers import once).
MODEL_RULES = {
    "train_model",
    "generate_model",
    "measure_similarity",
    "analyze_alignment",
    "pretrain_demo_base",
    "make_demo_base",
}
IMPORTS = "import torch, transformers; from transformers import AutoModelForCausalLM, AutoTokenizer"


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{run.stderr[-3000:]}")
    return time.perf_counter() - start


def copy_workflow(dest: Path, config: str) -> None:
    for name in ("Snakefile", "config.yaml", "config.demo.yaml"):
        shutil.copy(REPO / name, dest / name)
    shutil.copy(REPO / config, dest / Path(config).name)
    for folder in ("workflow", "envs"):
        shutil.copytree(REPO / folder, dest / folder)


def stage_times(results: Path) -> dict[str, tuple[int, float, float]]:
    """rule -> (jobs, summed wall seconds, summed CPU seconds) from results/benchmarks."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in (results / "benchmarks").rglob("*.tsv"):
        rel = path.relative_to(results / "benchmarks")
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        with open(path) as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        totals[rule][0] += 1
        totals[rule][1] += float(row["s"])
        totals[rule][2] += float(row["cpu_time"]) if row["cpu_time"] not in ("", "NA", "-") else 0.0
    return {rule: (int(v[0]), v[1], v[2]) for rule, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.demo.yaml")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument(
        "--without-preload",
        action="store_true",
        help="also run the demo with preload_imports=false and print the ratio",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp) / "plan"
        cwd.mkdir()
        copy_workflow(cwd, args.config)
        startup = min(timed([SNAKEMAKE, "--version"], cwd) for _ in range(3))
        plan = min(timed([SNAKEMAKE, "-n", "all", "--configfile", "config.yaml", "--quiet"], cwd) for _ in range(3))
        print(
            f"snakemake -n all (paper config): {plan:.1f} s (target <= 10 s); "
            f"snakemake --version: {startup:.1f} s; ratio {plan / startup:.1f}x"
        )
        if args.skip_demo:
            return
        wall = demo(Path(tmp) / "demo", args, preload=True)
        if args.without_preload:
            plain = demo(Path(tmp) / "demo-without-preload", args, preload=False)
            print(f"demo without / with preloaded imports: {plain:.0f} s / {wall:.0f} s = {plain / wall:.2f}x")


def demo(folder: Path, args, preload: bool) -> float:
    """Run the demo in a fresh copy; print its wall time, stage times, start-up cost and fits."""
    cwd, private_tmp = folder / "workflow", folder / "tmp"
    cwd.mkdir(parents=True)
    private_tmp.mkdir()
    copy_workflow(cwd, args.config)
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    (cwd / "preload.yaml").write_text(f"preload_imports: {str(preload).lower()}\n")  # --config passes strings
    cmd = [SNAKEMAKE, "--cores", args.cores, "--configfile", Path(args.config).name, "preload.yaml"]
    wall = timed(cmd, cwd, env)
    print(f"demo ({args.config}, {args.cores} cores, preload_imports={preload}): {wall:.0f} s wall (target <= 300 s)")
    print(f"{'rule':24} {'jobs':>5} {'wall s':>9} {'cpu s':>9}")
    stages = stage_times(cwd / "results")
    for rule, (jobs, seconds, cpu) in sorted(stages.items(), key=lambda kv: -kv[1][1]):
        print(f"{rule:24} {jobs:5d} {seconds:9.1f} {cpu:9.1f}")
    print(
        f"{'sum of jobs':24} {sum(v[0] for v in stages.values()):5d} "
        f"{sum(v[1] for v in stages.values()):9.1f} {sum(v[2] for v in stages.values()):9.1f}"
    )
    imports = min(timed([sys.executable, "-c", IMPORTS], cwd) for _ in range(3))
    jobs = sum(stages[r][0] for r in MODEL_RULES if r in stages)
    if preload:
        logs = "".join(p.read_text() for p in private_tmp.glob("xllm-preload-*/*.log"))
        starts, commands = logs.count(" ready: "), logs.count(" runs: ")
        print(
            f"start-up: {starts} preload servers x {imports:.1f} s of imports for {commands} commands "
            f"({jobs} of them load a model); the cpu column counts only the callers, the work is "
            f"done by processes forked from the servers"
        )
    else:
        total = sum(v[1] for v in stages.values())
        print(
            f"start-up: {jobs} model jobs x {imports:.1f} s of imports = {jobs * imports:.0f} s, "
            f"{jobs * imports / total:.0%} of the jobs' summed wall time"
        )
    fits(cwd / "results")
    return wall


def fits(results: Path) -> None:
    """The demo's scaling fits: whether they mean something is part of the target."""
    import json

    for path in sorted((results / "scaling").glob("*.json")):
        fit = json.loads(path.read_text())
        points = sorted(fit["points"], key=lambda p: p["pairs"])
        scores = " / ".join(f"{p['score']:.1f}" for p in points)
        print(
            f"{path.stem}: {fit.get('metric', '')} at {[int(p['pairs']) for p in points]} "
            f"pairs: {scores}; beta {fit['beta']:.3f}, gamma {fit['gamma']:.4f}, R2 {fit['r2']:.3f}"
        )


if __name__ == "__main__":
    main()
