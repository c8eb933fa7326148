"""The workflow on a real (single-node) Slurm cluster: `snakemake --profile slurm` submits every
non-local job of one model's branch of the test demo DAG with its rule's resources and gives the
local run's results; a cancelled training job resumes from its last checkpoint; a job killed at
its time limit is retried with more time.

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
# One model's branch of the test demo DAG runs both ways: it has every kind of cluster job after
# the demo's base model (corpus and test-set preparation, translation, mixture, training,
# generation, scoring); the whole DAG would take far longer through the scheduler on 2 cores.
MODEL = "coit/far/100"
TARGET = (f"results/scores/{MODEL}.csv",)
SCORES = TARGET
# Built by the local run only and copied to the cluster run (the costliest part: pretraining).
SEEDED = ("results/demo", "results/downloads")
SEEDED_RULES = {"make_demo_data", "make_demo_base", "make_demo_english", "pretrain_demo_base", "download_file"}
# Checkpoints every 5 steps (both runs), so the resume test can cancel training mid-way; memory
# requests that fit the test node (the rules default to the paper's sizes, e.g. 32 GB to generate).
OVERLAY = "cluster-overlay.yaml"
OVERLAY_TEXT = (
    "train: {checkpoint_every: 5}\ngenerate: {mem_mb: 2000}\neval: {mem_mb: 2000}\ntranslate: {mem_mb: 2000}\n"
)


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
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
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
    """Each job a (non-quiet) Snakemake run printed: rule, local or not, wildcards, threads, resources."""
    blocks = []
    for match in re.finditer(r"^(local)?rule (\w+):\n((?:    .*\n)+)", log, re.M):
        fields = dict(re.findall(r"^    (\w+): (.*)$", match.group(3), re.M))
        res = dict(kv.split("=", 1) for kv in fields.get("resources", "").split(", ") if "=" in kv)
        wildcards = dict(kv.split("=", 1) for kv in fields.get("wildcards", "").split(", ") if "=" in kv)
        blocks.append(
            {
                "local": bool(match.group(1)),
                "rule": match.group(2),
                "wildcards": wildcards,
                "threads": int(fields.get("threads", 1)),
                "resources": res,
            }
        )
    return blocks


def slurm_comment(block: dict) -> str:
    """The plugin's job comment: rule_<rule>[_wildcards_<values joined by _, / as _>]."""
    values = "_".join(block["wildcards"].values()).replace("/", "_")
    return f"rule_{block['rule']}" + (f"_wildcards_{values}" if values else "")


def read_scores(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return sorted(rows, key=lambda row: tuple(row.values()))


@dataclass
class Runs:
    local_dir: Path
    slurm_dir: Path
    local_log: str
    slurm_log: str
    command: list


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> Runs:
    """TARGET built by the local profile and by the Slurm profile, each in its own copy."""
    root = tmp_path_factory.mktemp("dag")
    local_dir, slurm_dir = workflow_copy(root / "local"), workflow_copy(root / "slurm")
    for cwd in (local_dir, slurm_dir):
        (cwd / OVERLAY).write_text(OVERLAY_TEXT)
    configs = ["--configfile", TEST_CONFIG, OVERLAY]
    local = snakemake(cluster, local_dir, *TARGET, "--profile", profile(local_dir, "local"), "--cores", "2", *configs)
    assert local.returncode == 0, local.stderr[-4000:]
    # The cluster run starts from the local run's demo data, downloads and pretrained base model
    # (same files, same times, same Snakemake metadata), so pretraining is not paid twice.
    for seeded in SEEDED:
        shutil.copytree(local_dir / seeded, slurm_dir / seeded, symlinks=True)
    shutil.copytree(local_dir / ".snakemake/metadata", slurm_dir / ".snakemake/metadata")
    command = [*TARGET, "--profile", profile(slurm_dir, "slurm"), *FAST_STATUS, *configs]
    slurm = snakemake(cluster, slurm_dir, *command)
    assert slurm.returncode == 0, slurm.stderr[-4000:]
    return Runs(local_dir, slurm_dir, local.stderr, slurm.stderr, command)


@pytest.mark.slow
def test_every_non_local_job_is_an_sbatch_job_with_its_rules_resources(cluster, runs):
    ran = job_blocks(runs.slurm_log)
    assert not {b["rule"] for b in ran} & SEEDED_RULES, "the seeded demo data or base model was rebuilt"
    expected = [b for b in job_blocks(runs.local_log) if b["rule"] not in SEEDED_RULES | {"all"}]
    local_rules = {b["rule"] for b in ran if b["local"]}
    submitted = {}
    for job in cluster.jobs(run_id(runs.slurm_log)):
        assert job["JobState"] == "COMPLETED", job
        assert job["Comment"] not in submitted, f"{job['Comment']} submitted twice"
        submitted[job["Comment"]] = job
    remote = [b for b in expected if b["rule"] not in local_rules]
    assert {"train_model", "generate_model", "score_model"} <= {b["rule"] for b in remote}
    assert {slurm_comment(b) for b in remote} == set(submitted)
    for block in remote:
        job, res = submitted[slurm_comment(block)], block["resources"]
        where = f"{slurm_comment(block)}: "
        assert minutes(job["TimeLimit"]) == int(res["runtime"]), where + job["TimeLimit"]
        assert megabytes(job["MinMemoryNode"]) == int(res["mem_mb"]), where + job["MinMemoryNode"]
        assert int(job["CPUs/Task"]) == int(res.get("cpus_per_task", block["threads"])), where + job["CPUs/Task"]
        assert int(job["NumNodes"]) == int(res.get("nodes", 1)), where + job["NumNodes"]
        assert int(job["NumTasks"]) == 1, where + job["NumTasks"]
        gpus = int(res.get("gpu", 0))
        assert (f"gres:gpu:{gpus}" in job.get("TresPerJob", "")) == (gpus > 0), where + str(job.get("TresPerJob"))


@pytest.mark.slow
def test_slurm_results_equal_the_local_runs(runs):
    for score_file in SCORES:
        local = read_scores(runs.local_dir / score_file)
        assert local and read_scores(runs.slurm_dir / score_file) == local, score_file


def checkpoints(cwd: Path) -> list[Path]:
    return sorted((cwd / "results/checkpoints" / MODEL).glob("step-*"))


def train_job(cluster: Cluster) -> str | None:
    """The running training job of MODEL, found by its comment (rule and wildcards)."""
    comment = "rule_train_model_wildcards_" + MODEL.replace("/", "_")
    for line in cluster.run("squeue", "--noheader", "--states=RUNNING", "--format=%i %k").stdout.splitlines():
        job_id, _, job_comment = line.partition(" ")
        if job_comment.strip() == comment:
            return job_id
    return None


@pytest.mark.slow
def test_cancelled_training_job_resumes_from_its_last_checkpoint(cluster, runs, tmp_path):
    """scancel the training job once it has checkpointed, with Snakemake told to stop (so that it
    does not retry it at once, as it would with the profile's retries); the same command again
    resumes from that checkpoint, repeats no step before it, and ends with the uninterrupted run's
    weights."""
    import torch
    from safetensors.torch import load_file

    cwd = runs.slurm_dir
    model_dir, metrics = cwd / "results/models" / MODEL, cwd / f"results/logs/train_model/{MODEL}.metrics.jsonl"
    reference = {p.name: load_file(p) for p in model_dir.glob("*.safetensors")}
    assert reference
    shutil.move(model_dir, tmp_path / "reference")
    shutil.rmtree(cwd / "results/checkpoints" / MODEL, ignore_errors=True)
    metrics.unlink(missing_ok=True)
    target = ["results/models/" + MODEL, *runs.command[len(TARGET) :], "--rerun-triggers", "mtime"]

    first_log = tmp_path / "first.log"
    with open(first_log, "w") as log:
        first = subprocess.Popen(
            [str(BIN / "snakemake"), *target],
            cwd=cwd,
            env=cluster.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline, job_id = time.time() + 600, None
        while time.time() < deadline and first.poll() is None:
            job_id = job_id or train_job(cluster)
            if job_id and any((c / "trainer_state.json").exists() for c in checkpoints(cwd)):
                break
            time.sleep(0.1)
        assert job_id and first.poll() is None, "training ended before it could be cancelled"
        # SIGTERM: Snakemake submits nothing more (no retry) and waits for its jobs; then the scancel.
        os.killpg(first.pid, signal.SIGTERM)
        cluster.run("scancel", job_id)
        first.wait(timeout=180)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert cluster.job(job_id)["JobState"] == "CANCELLED", first_log.read_text()[-3000:]
    assert not model_dir.exists(), "the cancelled job left an output that looks complete"
    done_first = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    resumable = [c for c in checkpoints(cwd) if (c / "trainer_state.json").exists()]
    assert resumable and done_first

    again = snakemake(cluster, cwd, *target)
    assert again.returncode == 0, again.stderr[-4000:]
    resumed_at = int(re.search(r"step-0*(\d+)", resumable[-1].name).group(1))
    train_log = (cwd / f"results/logs/train_model/{MODEL}.log").read_text()
    assert re.search(rf"resuming from \S*step-0*{resumed_at}\b", train_log), train_log[-2000:]
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    second = steps[len(done_first) :]
    assert done_first == list(range(1, len(done_first) + 1)) and len(done_first) >= resumed_at
    assert second == list(range(resumed_at + 1, resumed_at + 1 + len(second))) and second
    assert all(steps.count(step) == 1 for step in range(1, resumed_at + 1))  # not repeated
    assert json.loads((model_dir / "train_manifest.json").read_text())["resumed_from_step"] == resumed_at
    resumed = {p.name: load_file(p) for p in model_dir.glob("*.safetensors")}
    assert resumed.keys() == reference.keys()
    for name, tensors in reference.items():
        assert tensors.keys() == resumed[name].keys()
        assert all(torch.equal(tensors[k], resumed[name][k]) for k in tensors), name


def test_job_over_its_time_limit_is_retried_with_more_time(cluster, tmp_path):
    """100 one-second work units under a 1-minute limit: Slurm kills attempt 1 (TIMEOUT); the
    profile retries it with runtime = 2 * attempt minutes... and it resumes where it stopped. A
    failed attempt leaves no output behind (attempt 2 records any it finds)."""
    (tmp_path / "Snakefile").write_text(
        "rule slow:\n"
        '    output: "done.txt"\n'
        "    resources: runtime=lambda wildcards, attempt: attempt, mem_mb=100\n"
        "    shell:\n"
        '        "if [ -e {output} ]; then echo found >> leftover.txt; fi; echo started > {output}; "\n'
        '        "for i in $(seq 1 100); do grep -qx $i units.txt 2>/dev/null '
        '|| {{ sleep 1; echo $i >> units.txt; }}; done; "\n'
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
