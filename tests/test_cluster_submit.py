"""What `snakemake --profile slurm` asks Slurm for a 2-node, 8-GPU-per-node training job, read as
text: the real workflow, profile and executor plugin submit through a stand-in `sbatch` that
records its arguments (no cluster needed), and the rule's launcher prints the srun command each
node runs (`xllm launch-train --dry-run`)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xllm import config as xllm_config
from xllm.plan import train_launch

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
BIN = Path(sys.executable).parent
JOB_ID = "4242"

# Stand-ins for the Slurm commands the plugin runs: sbatch records its argv (NUL-separated) and
# answers a job id; squeue reports that job failed, so the run ends right after submitting.
FAKE_SLURM = {
    "sbatch": f'printf "%s\\0" "$@" > "$XLLM_SBATCH_RECORD"; echo {JOB_ID}\n',
    "squeue": f'echo "{JOB_ID}|FAILED"\n',
    "sinfo": 'printf "PARTITION\\nxllm*\\n"\n',
    "scontrol": 'echo "MinJobAge               = 600 sec"\n',
    "sacctmgr": "echo proj\n",
    "sshare": "echo proj\n",
    "sacct": "exit 1\n",
    "scancel": "exit 0\n",
}


@pytest.fixture
def fake_slurm(tmp_path):
    bindir = tmp_path / "fake-slurm-bin"
    bindir.mkdir()
    for name, body in FAKE_SLURM.items():
        (bindir / name).write_text("#!/bin/sh\n" + body)
        (bindir / name).chmod(0o755)
    return bindir


def multinode_workflow(dest: Path) -> Path:
    """The workflow with the test config switched to 2 nodes x 8 GPUs, and one model's inputs."""
    dest.mkdir()
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, dest / name)
    for name in ("workflow", "envs"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, dest / name)
    config = yaml.safe_load((REPO / "tests/config.test.yaml").read_text())
    (dest / "fsdp.yaml").write_text("distributed_type: FSDP\n")
    config["demo"]["languages"] = {k: v for k, v in config["demo"]["languages"].items() if k in config["languages"]}
    config["train"].update(
        nodes=2, gpus_per_node=8, cpus_per_task=16, mem_mb=200000, runtime_min=600, accelerate_config="fsdp.yaml"
    )
    (dest / "multinode.yaml").write_text(yaml.safe_dump(config))
    (dest / "results/mixtures/alpaca-en").mkdir(parents=True)
    (dest / "results/mixtures/alpaca-en/train.jsonl").write_text("")
    (dest / "results/tokens/alpaca-en").mkdir(parents=True)  # tokenized (a CPU job) before training
    (dest / config["base_model"]).mkdir(parents=True)
    return dest


def test_two_node_eight_gpu_training_job_as_submitted(tmp_path, fake_slurm):
    cwd = multinode_workflow(tmp_path / "wf")
    record = tmp_path / "sbatch.argv"
    env = {
        **os.environ,
        "PATH": f"{fake_slurm}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "XLLM_SBATCH_RECORD": str(record),
        "XLLM_SLURM_PARTITION": "gpu",
        "XLLM_SLURM_ACCOUNT": "proj",
    }
    run = subprocess.run(
        [
            str(BIN / "snakemake"),
            "results/models/alpaca-en",
            "--profile",
            str(REPO / "workflow/profiles/slurm"),
            "--configfile",
            "multinode.yaml",
            "--retries",
            "0",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--allowed-rules",
            "train_model",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert record.exists(), run.stderr[-4000:]
    argv = record.read_text().split("\0")[:-1]
    assert argv[0] == "--parsable"
    flags = set(argv)
    wrap = next(a for a in argv if a.startswith("--wrap="))
    assert {"-p", "gpu", "-A", "proj", "-t", "600", "--mem", "200000", "--nodes=2", "--cpus-per-task=16"} <= flags
    assert "rule_train_model_wildcards_alpaca-en" in argv  # the job's comment names rule and wildcards
    assert argv[argv.index("--job-name") + 1].startswith("xllm_")
    # 8 GPUs on each of the 2 nodes, one task per node (accelerate launch starts the 8 workers).
    assert flags & {"--gres=gpu:8", "--gpus-per-node=8"}, argv
    assert flags & {"--ntasks=2", "--ntasks-per-node=1"}, argv
    assert not [a for a in argv if a.startswith(("--ntasks-per-gpu", "--gpus="))], argv
    assert "--executor slurm-jobstep" in wrap and re.search(r"--target-jobs '?train_model:model=alpaca-en", wrap)

    # What the job runs: the rule's launcher; each node's task runs accelerate launch once.
    dry = subprocess.run(
        [
            str(BIN / "snakemake"),
            "results/models/alpaca-en",
            "-n",
            "-p",
            "--configfile",
            "multinode.yaml",
            "--allowed-rules",
            "train_model",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    shell = re.search(r"^(?:Shell command: )?(xllm launch-train .*)$", dry.stdout + dry.stderr, re.M).group(1)
    shell = shell.split(" > ")[0].replace("launch-train", f"launch-train --dry-run --job-id {JOB_ID}", 1)
    # The job's environment as the workflow's shell prefix sets it (workflow/rules/common.smk).
    job_config = xllm_config.prepare(yaml.safe_load((cwd / "multinode.yaml").read_text()), SCHEMA)
    env = {**env, "XLLM_TRAIN_LAUNCH": json.dumps(train_launch(job_config))}
    launched = subprocess.run(shell, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    assert launched.returncode == 0, launched.stderr
    cmd = shlex.split(launched.stdout)
    assert cmd[:6] == ["srun", "--nodes", "2", "--ntasks-per-node", "1", "bash"]
    inner = cmd[-1]
    assert re.search(
        r"accelerate launch --config_file fsdp.yaml --num_machines 2 --num_processes 16 "
        rf"--main_process_port {20000 + int(JOB_ID)} ",
        inner,
    ), inner
    assert '--machine_rank "$SLURM_PROCID"' in inner
    assert '--main_process_ip "$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"' in inner
    assert "-m xllm train --base" in inner
