"""Rehearse the paper's whole grid at its data sizes on a CPU (config.rehearsal.yaml).

Generates the raw files at ``--scale`` times the paper's sizes (xllm.demo.rehearsal) into the
config's mirror, builds the tiny base model (xllm demo-base), runs Snakemake through the real
rules, then prints jobs, wall time and peak RSS per rule (results/benchmarks/*.tsv), disk written
(du of results/) and the total time. Each run's figures and benchmark files are kept in
results/rehearsal-runs/scale-<S>/ (kept across runs; everything else under results/ is removed
first unless --keep), and ``--compare A B`` prints the peak RSS per rule of two kept runs side by
side (is a data stage's memory flat in the corpus size?).

    PYTHONPATH=src .venv/bin/python bench/rehearse.py --scale 0.05
    PYTHONPATH=src .venv/bin/python bench/rehearse.py --scale 1 --stop-at 23:30
    PYTHONPATH=src .venv/bin/python bench/rehearse.py --compare 0.05 1
    PYTHONPATH=src .venv/bin/python bench/rehearse.py --scale 1 --estimate   # the estimate beside it
    PYTHONPATH=src .venv/bin/python bench/rehearse.py --flatness   # each rule's smallest and largest job

The whole grid, fits and what follows them included (two optimizer steps teach the tiny model
nothing, so the fits would refuse its flat scores; ``--inject-law`` gives the scaling models'
translations scores that grow with their pairs, see ``inject_law``):

    PYTHONPATH=src .venv/bin/python bench/rehearse.py --scale 1 -- --omit-from fit_scaling_law
    PYTHONPATH=src .venv/bin/python bench/rehearse.py --scale 1 --keep --inject-law
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "config.rehearsal.yaml"
RUNS = ROOT / "results" / "rehearsal-runs"
BPE_SAMPLE = 5000  # lines of each WikiMatrix file the tokenizer is trained on
DATA_RULES = (
    "download_file",
    "prepare_corpus",
    "subset_corpus",
    "subset_monolingual",
    "prepare_alpaca",
    "prepare_flores",
    "prepare_xquad",
    "prepare_mlqa",
    "translate_alpaca",
    "merge_alpaca",
    "build_mixture",
    "corpus_stats",
)


def run_dir(scale: float) -> Path:
    return RUNS / f"scale-{scale:g}"


def du(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            p = Path(dirpath, name)
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def count_files(path: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(path))


def rule_of(bench: Path, root: Path) -> str:
    rel = bench.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def per_rule(bench_root: Path) -> dict:
    """rule -> jobs, summed and max wall seconds, peak max_rss (MB), and the job of the peak."""
    rules: dict = defaultdict(lambda: {"jobs": 0, "wall_s": 0.0, "max_wall_s": 0.0, "max_rss_mb": 0.0, "peak_job": ""})
    for path in sorted(bench_root.rglob("*.tsv")):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        r = rules[rule_of(path, bench_root)]
        wall = float(row["s"])
        rss = float(row["max_rss"]) if row.get("max_rss") not in (None, "", "NA", "-") else 0.0
        r["jobs"] += 1
        r["wall_s"] += wall
        r["max_wall_s"] = max(r["max_wall_s"], wall)
        if rss >= r["max_rss_mb"]:
            r["max_rss_mb"], r["peak_job"] = rss, str(path.relative_to(bench_root))
    return dict(rules)


def print_table(rules: dict, out=sys.stdout) -> None:
    print("| rule | jobs | wall s (sum) | wall s (max job) | peak RSS MB | peak job |", file=out)
    print("|---|---:|---:|---:|---:|---|", file=out)
    for name, r in sorted(rules.items(), key=lambda kv: -kv[1]["wall_s"]):
        print(
            f"| {name} | {r['jobs']} | {r['wall_s']:.1f} | {r['max_wall_s']:.1f} | {r['max_rss_mb']:.0f} "
            f"| {r['peak_job']} |",
            file=out,
        )
    jobs = sum(r["jobs"] for r in rules.values())
    wall = sum(r["wall_s"] for r in rules.values())
    print(
        f"| **all** | {jobs} | {wall:.1f} | | {max((r['max_rss_mb'] for r in rules.values()), default=0):.0f} | |",
        file=out,
    )


def generate(scale: float, seed: int) -> float:
    from xllm.demo.rehearsal import make_rehearsal_data, unpinned_sources
    from xllm.workflow_hooks import load_config_file

    config = load_config_file(str(ROOT / CONFIG))
    mirror = ROOT / config["data"]["mirror"]
    mono_dirs = {str(Path(p).parent) for p in config["mixture"]["monolingual"].values()}
    (mono_dir,) = mono_dirs
    unpinned_sources(ROOT / "workflow/sources.yaml", ROOT / config["data"]["sources"])
    start = time.time()
    counts = make_rehearsal_data(
        mirror, ROOT / "results/demo/languages", ROOT / mono_dir, config["languages"], scale, seed
    )
    (mirror / "counts.json").write_text(json.dumps(counts, indent=1))
    took = time.time() - start
    print(
        f"generated the raw data at scale {scale:g} in {took:.0f} s ({du(mirror) / 1e6:.0f} MB in {mirror})", flush=True
    )
    # The tokenizer learns every language's script from a sample of the corpora (an English-only
    # BPE would split Arabic or Chinese into bytes, several times a real tokenizer's token count).
    sample = ROOT / "results/rehearsal/bpe-sample.tsv.gz"
    with gzip.open(sample, "wt", encoding="utf-8") as out:
        for path in sorted(mirror.glob("WikiMatrix.*.tsv.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                out.writelines(itertools.islice(handle, BPE_SAMPLE))
    base = ROOT / config["base_model"]
    start = time.time()
    subprocess.run(
        [
            sys.executable, "-m", "xllm", "demo-base", "--out", str(base), "--hidden-size", "64", "--layers", "2",
            "--heads", "4", "--max-length", "1024", "--vocab-size", "4096", "--seed", str(seed),
            "--texts", str(mirror / "alpaca_data.json"), str(sample),
        ],
        check=True,
        cwd=ROOT,
    )  # fmt: skip
    print(f"tiny base model in {base} ({time.time() - start:.0f} s)", flush=True)
    return took


def scaled_config(scale: float, out: Path) -> str:
    """config.rehearsal.yaml itself at scale 1; else a copy whose scales, budgets and max_pairs
    shrink with the data (a proportional miniature of the grid), written to ``out``."""
    if scale == 1:
        return CONFIG
    import yaml

    from xllm.workflow_hooks import load_config_file

    config = load_config_file(str(ROOT / CONFIG))

    def shrink(n):
        return n if n == "full" else max(1, round(n * scale))

    config["scales"] = [shrink(s) for s in config["scales"]]
    config["muit_scale"] = shrink(config["muit_scale"])
    config["budgets"] = {k: shrink(v) for k, v in config["budgets"].items()}
    config["max_pairs"] = {k: shrink(v) for k, v in config["max_pairs"].items()}
    out.write_text(
        f"# {CONFIG} with its data sizes times {scale:g} (bench/rehearse.py)\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return str(out.relative_to(ROOT))


def run_snakemake(
    cores: int, config: str, stop_at: dt.datetime | None, log: Path, extra: list[str]
) -> tuple[int, float, bool]:
    cmd = [
        str(Path(sys.executable).parent / "snakemake"), "--cores", str(cores), "--configfile", config,
        "--keep-going", "--rerun-incomplete", *extra,
    ]  # fmt: skip
    print("running:", " ".join(cmd), f"(log: {log})", flush=True)
    start = time.time()
    stopped = False
    with open(log, "w") as handle:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        while proc.poll() is None:
            time.sleep(5)
            if stop_at and dt.datetime.now() >= stop_at and not stopped:
                print(f"stop time {stop_at:%H:%M} reached: interrupting Snakemake", flush=True)
                stopped = True
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait()
    return rc, time.time() - start, stopped


def failures(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    return [line.strip() for line in lines if line.startswith("Error in rule") or "error:" in line.lower()][:50]


# The law the injected scores follow (--inject-law): 100 - S is 80 at 10k pairs and 55 at 200k
# for gamma = 0.4; each language's gamma is the rehearsal's own measurement (similarity/{lang}.json).
INJECTED_LAW = {"alpha": 225.0, "beta": -0.125}
KEEP_POWER = 0.4  # corpus BLEU of references with a fraction q of words kept is about q^2.5


def _words(text: str) -> list[str]:
    return text.split() if len(text.split()) > 1 else list(text)


def inject_law(config_path: str, seed: int) -> list[dict]:
    """Give the scaling models' FLORES translations scores that grow with their pairs.

    Two optimizer steps teach the tiny model nothing: every BLEU is 0.0, and the fits refuse the
    flat points, correctly, so the allocation, the optimized budget models and the tables and
    report behind them would never run at full size. This rewrites each scaling model's
    ``flores/en-{lang}.jsonl`` predictions: word j of segment i is the reference's where
    u_ij < keep(X), else the word at that place in the next segment's reference; u is drawn once
    per language, so a larger scale keeps every word a smaller one kept; keep(X) =
    (S(X)/100)^KEEP_POWER with S the law of INJECTED_LAW and the language's measured gamma.
    Snakemake then scores the rewritten files (their directory is newer than the scores), and
    every job after that is the real one. A benchmark device, named in the run's summary; the
    library never does this."""
    import random

    from xllm.atomic import read_json, read_jsonl, write_jsonl
    from xllm.scaling.law import law_score
    from xllm.workflow_hooks import load_config_file

    config = load_config_file(str(ROOT / config_path))
    recipe = config["mixture"]["x_recipes"][0]
    injected = []
    for lang in config["languages"]:
        gamma = read_json(ROOT / f"results/similarity/{lang}.json", "a language's similarity")["gamma"]
        rng = random.Random(f"{seed}:{lang}")
        draws: dict = {}
        for scale in (s for s in config["scales"] if s != "full"):
            model_dir = ROOT / f"results/generations/{recipe}/{lang}/{scale}"
            path = model_dir / f"flores/en-{lang}.jsonl"
            if not path.is_file():
                raise SystemExit(f"--inject-law: {path} is missing: run the grid up to the fits first")
            rows = read_jsonl(path)
            target = float(law_score(INJECTED_LAW["alpha"], INJECTED_LAW["beta"], gamma, scale))
            keep = max(0.0, target / 100) ** KEEP_POWER
            for i, row in enumerate(rows):
                ref, other = _words(row["reference"]), _words(rows[(i + 1) % len(rows)]["reference"])
                u = draws.setdefault(i, [rng.random() for _ in range(len(ref))])
                words = [w if u[j] < keep else (other[j] if j < len(other) else "x") for j, w in enumerate(ref)]
                row["prediction"] = (" " if len(row["reference"].split()) > 1 else "").join(words)
            write_jsonl(path, rows)
            for stamp in (model_dir / ".snakemake_timestamp", model_dir):  # Snakemake's mtime of a directory
                if stamp.exists():
                    os.utime(stamp)
            injected.append({"model": f"{recipe}/{lang}/{scale}", "gamma": gamma, "law_score": round(target, 2)})
    print(f"--inject-law: rewrote the FLORES translations of {len(injected)} scaling models", flush=True)
    return injected


def compare(a: float, b: float) -> None:
    ra = json.loads((run_dir(a) / "summary.json").read_text())["rules"]
    rb = json.loads((run_dir(b) / "summary.json").read_text())["rules"]
    print(f"| rule | peak RSS MB at {a:g} | at {b:g} | ratio | wall s (max job) at {a:g} | at {b:g} |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in sorted(set(ra) | set(rb), key=lambda n: (n not in DATA_RULES, n)):
        x, y = ra.get(name), rb.get(name)
        if not x or not y:
            print(f"| {name} | {x and round(x['max_rss_mb'])} | {y and round(y['max_rss_mb'])} | | | |")
            continue
        ratio = y["max_rss_mb"] / x["max_rss_mb"] if x["max_rss_mb"] else float("nan")
        tag = " (data)" if name in DATA_RULES else ""
        print(
            f"| {name}{tag} | {x['max_rss_mb']:.0f} | {y['max_rss_mb']:.0f} | {ratio:.2f} | "
            f"{x['max_wall_s']:.1f} | {y['max_wall_s']:.1f} |"
        )


def _job_size(rule: str, job: str) -> float | None:
    """What a job's memory could grow with, in MB: its output (a data stage) or its tokens."""
    results = ROOT / "results"
    paths = {
        "build_mixture": lambda: results / "mixtures" / job / "train.jsonl",
        "subset_corpus": lambda: results / "corpora" / job.rsplit("-", 1)[0] / f"scale-{job.rsplit('-', 1)[1]}.jsonl",
        "subset_monolingual": lambda: (
            results / "monolingual" / job.rsplit("-", 1)[0] / f"scale-{job.rsplit('-', 1)[1]}.jsonl"
        ),
        "prepare_corpus": lambda: results / "corpora" / job / "clean.parquet",
        "tokenize_mixture": lambda: results / "tokens" / job / "ids.bin",
        "train_model": lambda: results / "tokens" / job / "ids.bin",
    }
    if rule not in paths:
        return None
    path = paths[rule]()
    return path.stat().st_size / 1e6 if path.exists() else None


def flatness() -> None:
    """Per rule, the peak RSS of its smallest and its largest job (by what it reads or writes):
    a stage that streams has the same peak whatever the size."""
    bench = ROOT / "results/benchmarks"
    print("| rule | smallest job | MB | peak RSS MB | largest job | MB | peak RSS MB | RSS ratio | size ratio |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    for rule_dir in sorted(p for p in bench.iterdir() if p.is_dir()):
        jobs = []
        for path in rule_dir.rglob("*.tsv"):
            job = str(path.relative_to(rule_dir))[: -len(".tsv")]
            size = _job_size(rule_dir.name, job)
            with open(path, newline="") as handle:
                rss = float(list(csv.DictReader(handle, delimiter="\t"))[-1]["max_rss"])
            if size:
                jobs.append((size, rss, job))
        if len(jobs) < 2:
            continue
        (s0, r0, j0), (s1, r1, j1) = min(jobs), max(jobs)
        cells = [rule_dir.name, j0, f"{s0:.0f}", f"{r0:.0f}", j1, f"{s1:.0f}", f"{r1:.0f}", f"{r1 / r0:.2f}"]
        print("| " + " | ".join([*cells, f"{s1 / s0:.0f}"]) + " |")


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares of seconds = start-up + tokens / throughput: (start-up s, tokens/s)."""
    import numpy as np

    x, y = np.array(points, dtype=float).T
    if np.ptp(x) == 0:
        return float(y.mean()), float("inf")
    slope, start = np.polyfit(x, y, 1)
    start = max(float(start), 0.0)
    return start, (1 / slope if slope > 0 else float("inf"))


def estimate_vs_measured(scale: float) -> None:
    """The estimate's tokens beside the tokenized mixtures' (results/tokens/*/tokens.json), and
    each training job's estimated time beside its benchmark: start-up and tokens/s fitted on one
    job in three (the calibration, "the CPU throughput measured there"), the others predicted."""
    import statistics

    from xllm.estimate.cost import estimate
    from xllm.workflow_hooks import load_config_file

    os.chdir(ROOT)
    config_path = scaled_config(scale, run_dir(scale) / "config.yaml")
    result = estimate(load_config_file(config_path), config_path)
    bench = ROOT / "results/benchmarks"
    ratios = []
    for row in (r for r in result["jobs"] if r["rule"] == "tokenize_mixture"):
        meta = ROOT / "results/tokens" / row["job"] / "tokens.json"
        if meta.exists():
            ratios.append((json.loads(meta.read_text())["tokens"] / row["tokens"], row["job"]))
    if ratios:
        values = sorted(r for r, _ in ratios)
        print(
            f"tokens, measured / estimated, {len(values)} mixtures: median {statistics.median(values):.2f}, "
            f"min {values[0]:.2f} ({min(ratios)[1]}), max {values[-1]:.2f} ({max(ratios)[1]})"
        )
    for rule in ("train_model", "generate_model"):
        jobs = []
        for row in (r for r in result["jobs"] if r["rule"] == rule):
            path = bench / rule / f"{row['job']}.tsv"
            if path.exists():
                with open(path, newline="") as handle:
                    jobs.append(
                        (row["job"], row["tokens"], float(list(csv.DictReader(handle, delimiter="\t"))[-1]["s"]))
                    )
        if len(jobs) < 6:
            continue
        jobs.sort()
        calibration, held_out = jobs[::3], [j for i, j in enumerate(jobs) if i % 3]
        start, tput = _fit([(tokens, seconds) for _, tokens, seconds in calibration])
        predicted = [(start + tokens / tput, seconds) for _, tokens, seconds in held_out]
        errors = sorted(abs(p - m) / m for p, m in predicted)
        total_p, total_m = sum(p for p, _ in predicted), sum(m for _, m in predicted)
        print(
            f"{rule}: calibrated on {len(calibration)} jobs: start-up {start:.1f} s, {tput:.3g} tokens/s; "
            f"{len(held_out)} others: estimated {total_p:.0f} s, measured {total_m:.0f} s "
            f"(measured / estimated {total_m / total_p:.2f}); per job |error| median "
            f"{statistics.median(errors):.0%}, 90th percentile {errors[int(0.9 * (len(errors) - 1))]:.0%}, "
            f"within 30%: {sum(e <= 0.3 for e in errors)}/{len(errors)}"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's data sizes")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", action="store_true", help="keep results/ (resume a run) and the generated data")
    p.add_argument("--stop-at", help="HH:MM: interrupt Snakemake then, and report what it reached")
    p.add_argument("--compare", nargs=2, type=float, metavar=("A", "B"), help="compare two kept runs' RSS per rule")
    p.add_argument("--estimate", action="store_true", help="the estimate beside the kept run's measurements")
    p.add_argument("--flatness", action="store_true", help="peak RSS of each rule's smallest and largest job")
    p.add_argument(
        "--inject-law",
        action="store_true",
        help="with --keep, after a run with `-- --omit-from fit_scaling_law`: give the scaling models' "
        "translations law-shaped scores (inject_law), then run the rest of the grid",
    )
    p.add_argument("snakemake_args", nargs="*", help="passed to Snakemake after --")
    args = p.parse_args(argv)
    if args.compare:
        compare(*args.compare)
        return 0
    if args.estimate:
        estimate_vs_measured(args.scale)
        return 0
    if args.flatness:
        flatness()
        return 0
    os.chdir(ROOT)
    stop_at = None
    if args.stop_at:
        hh, mm = map(int, args.stop_at.split(":"))
        stop_at = dt.datetime.now().replace(hour=hh, minute=mm, second=0, microsecond=0)
    out = run_dir(args.scale)
    t0 = time.time()
    results = ROOT / "results"
    if not args.keep:
        for child in results.iterdir() if results.exists() else []:
            if child != RUNS:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        if out.exists():
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    gen_s = (
        0.0 if args.keep and (results / "rehearsal/mirror/counts.json").exists() else generate(args.scale, args.seed)
    )
    mirror_bytes = du(results / "rehearsal")
    config = scaled_config(args.scale, out / "config.yaml")
    previous = (
        json.loads((out / "summary.json").read_text()).get("phases", []) if (out / "summary.json").exists() else []
    )
    log = out / f"snakemake-{len(previous) + 1}.log"  # one per phase (a --keep run adds a phase)
    injected = inject_law(config, args.seed) if args.inject_law else None
    rc, snake_s, stopped = run_snakemake(args.cores, config, stop_at, log, args.snakemake_args)
    phase = {"args": args.snakemake_args, "returncode": rc, "snakemake_s": round(snake_s, 1), "stopped": stopped}
    if injected is not None:
        phase["injected_law"] = {**INJECTED_LAW, "keep_power": KEEP_POWER, "models": injected}
    phases = [*previous, phase]
    total_s = time.time() - t0
    bench_root = results / "benchmarks"
    if bench_root.exists():
        shutil.copytree(bench_root, out / "benchmarks", dirs_exist_ok=True)
    rules = per_rule(bench_root) if bench_root.exists() else {}
    written = du(results) - du(RUNS) - mirror_bytes
    summary = {
        "scale": args.scale,
        "returncode": rc,
        "stopped_at_deadline": stopped,
        "generate_s": round(gen_s, 1),
        "snakemake_s": round(snake_s, 1),
        "total_s": round(total_s, 1),
        "generated_bytes": mirror_bytes,
        "written_bytes": written,
        "files_written": count_files(results) - count_files(RUNS) - count_files(results / "rehearsal"),
        "rules": rules,
        "phases": phases,
        "snakemake_s_all_phases": round(sum(p["snakemake_s"] for p in phases), 1),
        "failures": [line for path in sorted(out.glob("snakemake*.log")) for line in failures(path)],
        "finished": datetime_now(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    with open(out / "table.md", "w") as handle:
        print_table(rules, handle)
    print_table(rules)
    print(
        f"\nscale {args.scale:g}: snakemake rc {rc}{' (stopped at the deadline: partial)' if stopped else ''}; "
        f"jobs {sum(r['jobs'] for r in rules.values())}; generation {gen_s:.0f} s; Snakemake {snake_s:.0f} s; "
        f"total {total_s:.0f} s ({total_s / 60:.1f} min); Snakemake over {len(phases)} phase(s): "
        f"{summary['snakemake_s_all_phases']:.0f} s\n"
        f"disk: generated inputs {mirror_bytes / 1e9:.2f} GB, written by the workflow {written / 1e9:.2f} GB "
        f"in {summary['files_written']} files"
    )
    for line in summary["failures"]:
        print("failure:", line)
    return 0 if rc == 0 else 1


def datetime_now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


if __name__ == "__main__":
    raise SystemExit(main())
