"""The workflow on a real (single-node) Slurm cluster: `snakemake --profile slurm` submits every
non-local job with its rule's resources and gives the local run's results; a cancelled training
job resumes from its last checkpoint; a job killed at its time limit is retried with more time.

The cluster is tests/cluster/start-slurm.sh (Debian's slurm-wlm + munge, installed by
scripts/install-slurm.sh); these tests skip only where it cannot run (not installed, not root).
What Slurm granted each job is read back with `scontrol show job` (the test cluster keeps finished
jobs for MinJobAge = 600 s; there is no accounting database).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEST_CONFIG = "tests/config.test.yaml"
SLURM_TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel")
# Status checks every few seconds instead of the profile's 20 s: the demo's jobs take seconds.
FAST_STATUS = ("--slurm-init-seconds-before-status-checks", "2")


def why_no_slurm() -> str | None:
    missing = [tool for tool in SLURM_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} missing; scripts/install-slurm.sh installs it as root)"
    if os.geteuid() != 0:
        return "the test cluster's daemons (tests/cluster/start-slurm.sh) must run as root"
    return None


@dataclass
class Cluster:
    env: dict

    def run(self, *cmd, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, **kw)

    def jobs(self, run_id: str) -> list[dict]:
        """Every Slurm job of one Snakemake run (job name = run id), as `scontrol show job` fields."""
        ids = self.run("squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i").stdout.split()
        return [self.job(i) for i in sorted(ids, key=int)]

    def job(self, job_id: str) -> dict:
        out = self.run("scontrol", "show", "job", "--oneliner", str(job_id)).stdout
        return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


@pytest.fixture(scope="module")
def cluster():
    reason = why_no_slurm()
    if reason:
        pytest.skip(reason)
    start = subprocess.run([str(REPO / "tests/cluster/start-slurm.sh")], capture_output=True, text=True)
    if start.returncode != 0:
        pytest.fail(f"tests/cluster/start-slurm.sh failed: {start.stderr.strip()}")
    conf = start.stdout.strip().splitlines()[-1].split("=", 1)[1]
    env = {**os.environ, "SLURM_CONF": conf, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for var in ("XLLM_SLURM_PARTITION", "XLLM_SLURM_ACCOUNT", "XLLM_SLURM_QOS"):
        env.pop(var, None)
    yield Cluster(env=env)
    if "already running" not in start.stdout:  # leave a cluster someone else started
        subprocess.run([str(REPO / "tests/cluster/stop-slurm.sh")], capture_output=True, text=True)


def workflow_copy(dest: Path) -> Path:
    """The repository's working tree (tracked and untracked, not ignored files) in a fresh
    directory, so each run writes its own results/ and .snakemake/."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        src, dst = REPO / name, dest / name
        if src.is_symlink() or src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)
    return dest


def profile(cwd: Path, name: str) -> str:
    """`--profile slurm` literally where the repository root carries the profile link."""
    return name if (cwd / name).exists() else f"workflow/profiles/{name}"


def snakemake(cluster: Cluster, cwd: Path, *args, timeout=900) -> subprocess.CompletedProcess:
    return cluster.run(str(BIN / "snakemake"), *args, cwd=cwd, timeout=timeout)


def run_id(output: str) -> str:
    match = re.search(r"SLURM run ID: (\S+)", output)
    assert match, output[-3000:]
    return match.group(1)


def minutes(limit: str) -> int:
    """Slurm's [D-]HH:MM:SS as minutes."""
    days, _, hms = limit.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + (1 if s else 0)


def megabytes(mem: str) -> int:
    unit = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}[mem[-1]]
    return round(float(mem[:-1]) * unit)


def job_blocks(log: str) -> list[dict]:
    """Each job a (non-quiet) Snakemake run printed: rule, local or not, wildcards, resources."""
    blocks = []
    for match in re.finditer(r"^(local)?rule (\w+):\n((?:    .*\n)+)", log, re.M):
        fields = dict(re.findall(r"^    (\w+): (.*)$", match.group(3), re.M))
        res = dict(kv.split("=", 1) for kv in fields.get("resources", "").split(", ") if "=" in kv)
        wildcards = dict(kv.split("=", 1) for kv in fields.get("wildcards", "").split(", ") if "=" in kv)
        blocks.append({"local": bool(match.group(1)), "rule": match.group(2), "wildcards": wildcards,
                       "resources": res})
    return blocks


def slurm_comment(block: dict) -> str:
    """The plugin's job comment: rule_<rule>[_wildcards_<values joined by _, / as _>]."""
    values = "_".join(block["wildcards"].values()).replace("/", "_")
    return f"rule_{block['rule']}" + (f"_wildcards_{values}" if values else "")


def read_scores(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    key = lambda r: tuple(r.get(c, "") for c in ("model", "task", "direction", "lang", "metric"))  # noqa: E731
    return sorted(rows, key=key)


@pytest.mark.slow
def test_demo_dag_on_slurm_submits_every_job_with_its_resources_and_equals_local(cluster, tmp_path):
    local_dir, slurm_dir = workflow_copy(tmp_path / "local"), workflow_copy(tmp_path / "slurm")
    local = snakemake(cluster, local_dir, "--profile", profile(local_dir, "local"), "--configfile", TEST_CONFIG,
                      "--cores", "2", "all")
    assert local.returncode == 0, local.stderr[-4000:]
    slurm = snakemake(cluster, slurm_dir, "--profile", profile(slurm_dir, "slurm"), "--configfile", TEST_CONFIG,
                      *FAST_STATUS, "all")
    assert slurm.returncode == 0, slurm.stderr[-4000:]

    # Every job the local run ran is, on the cluster, a local rule or exactly one sbatch job.
    expected = [b for b in job_blocks(local.stderr) if b["rule"] != "all"]
    local_rules = {b["rule"] for b in job_blocks(slurm.stderr) if b["local"]}
    submitted = {}
    for job in cluster.jobs(run_id(slurm.stderr)):
        assert job["JobState"] == "COMPLETED", job
        assert job["Comment"] not in submitted, f"{job['Comment']} submitted twice"
        submitted[job["Comment"]] = job
    remote = [b for b in expected if b["rule"] not in local_rules]
    assert remote and {slurm_comment(b) for b in remote} == set(submitted)
    for block in remote:
        job, res = submitted[slurm_comment(block)], block["resources"]
        where = f"{slurm_comment(block)}: "
        assert minutes(job["TimeLimit"]) == int(res["runtime"]), where + job["TimeLimit"]
        assert megabytes(job["MinMemoryNode"]) == int(res["mem_mb"]), where + job["MinMemoryNode"]
        cpus = int(res.get("cpus_per_task") or res.get("_cores", 1))
        assert int(job["CPUs/Task"]) == cpus, where + job["CPUs/Task"]
        assert int(job["NumNodes"]) == int(res.get("nodes", 1)), where + job["NumNodes"]
        gpus = int(res.get("gpu", 0))
        assert (f"gres:gpu:{gpus}" in job.get("TresPerJob", "")) == (gpus > 0), where + str(job.get("TresPerJob"))
        assert int(job["NumTasks"]) == 1, where + job["NumTasks"]

    local_scores = read_scores(local_dir / "results/scores.csv")
    assert local_scores and read_scores(slurm_dir / "results/scores.csv") == local_scores


def test_job_over_its_time_limit_is_retried_with_more_time(cluster, tmp_path):
    """100 one-second work units under a 1-minute limit: Slurm kills attempt 1 (TIMEOUT); the
    profile retries it with runtime = 2 * attempt minutes... and it resumes where it stopped. A
    failed attempt leaves no output behind (attempt 2 records any it finds)."""
    (tmp_path / "Snakefile").write_text(
        'rule slow:\n'
        '    output: "done.txt"\n'
        '    resources: runtime=lambda wildcards, attempt: attempt, mem_mb=100\n'
        '    shell:\n'
        '        "if [ -e {output} ]; then echo found >> leftover.txt; fi; echo started > {output}; "\n'
        '        "for i in $(seq 1 100); do grep -qx $i units.txt 2>/dev/null || {{ sleep 1; echo $i >> units.txt; }}; done; "\n'
        '        "echo done > {output}"\n'
    )
    cwd = tmp_path
    run = snakemake(cluster, cwd, "--profile", str(REPO / "workflow/profiles/slurm"), *FAST_STATUS, timeout=400)
    assert run.returncode == 0, run.stderr[-4000:]
    jobs = cluster.jobs(run_id(run.stderr))
    assert [(j["JobState"], minutes(j["TimeLimit"])) for j in jobs] == [("TIMEOUT", 1), ("COMPLETED", 2)]
    assert (cwd / "done.txt").read_text() == "done\n"
    assert not (cwd / "leftover.txt").exists(), "the timed-out attempt left its output behind"
    units = (cwd / "units.txt").read_text().split()
    assert units == [str(i) for i in range(1, 101)]  # no unit done twice
