"""The command that starts training: plain on CPU, accelerate on one node, srun across nodes.

Across nodes every task runs ``accelerate launch`` once (``--ntasks-per-node 1``) with its node
rank from ``$SLURM_PROCID`` and the first host of the allocation as rendezvous; both are expanded
by each task's shell, not here. The port is derived from the job id so that two jobs sharing a
node do not collide.
"""

from __future__ import annotations

import os
import shlex

from ..errors import UserError


def rendezvous_port(job_id: str | int) -> int:
    try:
        return 20000 + int(job_id) % 20000
    except ValueError:
        raise UserError(f"--job-id {job_id!r} is not a number") from None


def launch_command(
    nodes: int, gpus_per_node: int, accelerate_config: str | None, train_args: list[str], job_id: str | None = None
) -> list[str]:
    if nodes < 1 or gpus_per_node < 0:
        raise UserError(f"--nodes {nodes} / --gpus-per-node {gpus_per_node}: need nodes >= 1, gpus >= 0")
    if gpus_per_node == 0:
        if nodes > 1:
            raise UserError("--nodes > 1 needs --gpus-per-node > 0")
        return ["xllm", "train", *train_args]
    if not accelerate_config:
        raise UserError("--accelerate-config is required with GPUs")
    if not os.path.exists(accelerate_config):
        raise UserError(f"{accelerate_config}: no such accelerate config")
    launch = ["accelerate", "launch", "--config_file", accelerate_config]
    if nodes == 1:
        return [*launch, "--num_processes", str(gpus_per_node), "-m", "xllm", "train", *train_args]
    job_id = job_id or os.environ.get("SLURM_JOB_ID")
    if not job_id:
        raise UserError("multi-node training needs a Slurm job (--job-id or $SLURM_JOB_ID)")
    inner = shlex.join(
        [
            *launch,
            "--num_machines",
            str(nodes),
            "--num_processes",
            str(nodes * gpus_per_node),
            "--main_process_port",
            str(rendezvous_port(job_id)),
        ]
    )
    inner += (
        ' --machine_rank "$SLURM_PROCID"'
        ' --main_process_ip "$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"'
    )
    inner += " " + shlex.join(["-m", "xllm", "train", *train_args])
    return ["srun", "--nodes", str(nodes), "--ntasks-per-node", "1", "bash", "-c", inner]
