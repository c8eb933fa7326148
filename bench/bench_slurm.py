"""What running through Slurm costs, measured side by side with the local executor in one run.

Two workloads, each run with `--profile workflow/profiles/local` and `--profile
workflow/profiles/slurm` on the single-node test cluster (tests/cluster/start-slurm.sh):

- probe: N independent jobs that record when they start and sleep S seconds. Printed: the time
  from starting `snakemake` to the first job running (local vs Slurm, and the ratio), the wall
  time of both runs, and the per-job overhead of Slurm = (wall_slurm - wall_local) * slots / N,
  where slots = jobs that run at once (the cluster's CPUs = the local cores).
- demo (--demo): one model's branch of the test demo DAG (tests/config.test.yaml, demo data to
  the scores of coit/far/100, as in the cluster tests): wall times, ratio, and the per-job
  overhead as above over its sbatch jobs.

Status checks start after 2 s (--slurm-init-seconds-before-status-checks 2) as in the cluster
tests; the profile's default (20 s) suits real clusters. Needs root and scripts/install-slurm.sh.

    .venv/bin/python bench/bench_slurm.py [--jobs 8] [--sleep 2] [--demo]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FAST_STATUS = ["--slurm-init-seconds-before-status-checks", "2"]

PROBE = """
rule all:
    input: expand("started/{i}.txt", i=range(%N%))
rule probe:
    output: "started/{i}.txt"
    resources: runtime=5, mem_mb=100
    shell: "date +%s.%N > {output}.tmp; sleep %SLEEP%; mv {output}.tmp {output}"
"""


def start_cluster() -> dict:
    start = subprocess.run([str(REPO / "tests/cluster/start-slurm.sh")], capture_output=True, text=True)
    if start.returncode != 0:
        sys.exit(f"bench_slurm: no cluster: {start.stderr.strip()}")
    conf = start.stdout.strip().splitlines()[-1].split("=", 1)[1]
    return {**os.environ, "SLURM_CONF": conf, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def cluster_cpus(env) -> int:
    out = subprocess.run(["sinfo", "-h", "-o", "%c"], env=env, capture_output=True, text=True).stdout
    return int(out.split()[0])


def snakemake(cwd: Path, env: dict, *args) -> tuple[float, float, str]:
    """(start time, wall seconds, log) of one run; exits on failure."""
    t0 = time.time()
    run = subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if run.returncode != 0:
        sys.exit(f"bench_slurm: snakemake {' '.join(args)} failed in {cwd}:\n{run.stderr[-3000:]}")
    return t0, wall, run.stderr


def probe(env: dict, executor: str, n: int, sleep: float, slots: int) -> dict:
    cwd = Path(tempfile.mkdtemp(prefix=f"bench-slurm-{executor}-"))
    (cwd / "Snakefile").write_text(PROBE.replace("%SLEEP%", str(sleep)).replace("%N%", str(n)))
    args = ["--profile", str(REPO / f"workflow/profiles/{executor}")]
    args += FAST_STATUS if executor == "slurm" else ["--cores", str(slots)]
    t0, wall, log = snakemake(cwd, env, *args)
    starts = sorted(float((cwd / f"started/{i}.txt").read_text()) for i in range(n))
    shutil.rmtree(cwd, ignore_errors=True)
    result = {"first_job": starts[0] - t0, "wall": wall}
    if executor == "slurm":  # when Slurm started the first job (1 s resolution), before the job's own Snakemake
        run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
        out = subprocess.run(
            ["squeue", "--states=all", "-h", "--name", run_id, "-o", "%S"], env=env, capture_output=True, text=True
        ).stdout.split()
        first = min(time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%S")) for t in out)
        result["first_allocation"] = first - t0
    return result


DEMO_TARGET = "results/scores/coit/far/100.csv"
# Memory requests that fit the test node (the rules default to the paper's sizes).
DEMO_OVERLAY = "generate: {mem_mb: 2000}\neval: {mem_mb: 2000}\ntranslate: {mem_mb: 2000}\n"


def demo(env: dict, executor: str) -> dict:
    """One model's branch of the test demo DAG (demo data to scores), from nothing."""
    cwd = Path(tempfile.mkdtemp(prefix=f"bench-slurm-demo-{executor}-"))
    for name in ("Snakefile", "config.yaml", "config.demo.yaml"):
        shutil.copy(REPO / name, cwd / name)
    for name in ("workflow", "envs"):
        shutil.copytree(REPO / name, cwd / name)
    (cwd / "tests").mkdir()
    shutil.copy(REPO / "tests/config.test.yaml", cwd / "tests/config.test.yaml")
    (cwd / "overlay.yaml").write_text(DEMO_OVERLAY)
    args = [
        DEMO_TARGET,
        "--profile",
        f"workflow/profiles/{executor}",
        "--configfile",
        "tests/config.test.yaml",
        "overlay.yaml",
    ]
    args += FAST_STATUS if executor == "slurm" else ["--cores", "2"]
    _, wall, log = snakemake(cwd, env, *args)
    jobs = len(re.findall(r"^Finished jobid: \d+ \(Rule: ", log, re.M))
    remote = len(re.findall(r"has been submitted with SLURM jobid", log))
    shutil.rmtree(cwd, ignore_errors=True)
    return {"wall": wall, "jobs": jobs, "remote": remote}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=8, help="probe jobs")
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds each probe job sleeps")
    parser.add_argument("--demo", action="store_true", help="also run the test demo DAG both ways")
    args = parser.parse_args()
    env = start_cluster()
    slots = cluster_cpus(env)
    local = probe(env, "local", args.jobs, args.sleep, slots)
    slurm = probe(env, "slurm", args.jobs, args.sleep, slots)
    print(f"probe: {args.jobs} jobs of sleep {args.sleep:g} s, {slots} at a time")
    print(
        f"  start -> first job running   local {local['first_job']:6.2f} s   slurm {slurm['first_job']:6.2f} s"
        f"   ratio slurm/local {slurm['first_job'] / local['first_job']:.1f}x"
    )
    print(
        f"    of which: Slurm started the first job at {slurm['first_allocation']:.0f} s, its shell began "
        f"{slurm['first_job'] - slurm['first_allocation']:.0f} s later (Snakemake starting inside the job)"
    )
    print(
        f"  wall                         local {local['wall']:6.2f} s   slurm {slurm['wall']:6.2f} s"
        f"   ratio slurm/local {slurm['wall'] / local['wall']:.1f}x"
    )
    per_job = (slurm["wall"] - local["wall"]) * slots / args.jobs
    print(
        f"  slurm overhead per job       {per_job:.1f} s  ({per_job / args.sleep:.1f}x the job's own {args.sleep:g} s)"
    )
    if args.demo:
        local_d, slurm_d = demo(env, "local"), demo(env, "slurm")
        per_job = (slurm_d["wall"] - local_d["wall"]) * slots / max(slurm_d["remote"], 1)
        print(
            f"demo ({DEMO_TARGET} on tests/config.test.yaml): {local_d['jobs']} jobs, "
            f"{slurm_d['remote']} of them sbatch jobs"
        )
        print(
            f"  wall                         local {local_d['wall']:6.1f} s   slurm {slurm_d['wall']:6.1f} s"
            f"   ratio slurm/local {slurm_d['wall'] / local_d['wall']:.1f}x"
        )
        print(f"  slurm overhead per job       {per_job:.1f} s")


if __name__ == "__main__":
    main()
