"""``xllm train`` and ``xllm launch-train``."""

from __future__ import annotations

import argparse

from ..args import add_settings_arguments, settings_from_args


def cmd_train(args) -> int:
    from .loop import TrainConfig, train

    cfg = settings_from_args(args, TrainConfig)
    manifest = train(cfg)
    if manifest is not None and manifest["provenance"] and _is_main():
        print(
            f"trained {manifest['steps']} steps, final loss {manifest['final_loss']:.4f}, "
            f"{manifest['tokens_per_s']:.0f} tokens/s -> {cfg.out}"
        )
    return 0


def cmd_tokenize(args) -> int:
    from .tokenize import TokenizeConfig, tokenize

    tokenize(settings_from_args(args, TokenizeConfig))
    return 0


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


LAUNCH_ENV = "XLLM_TRAIN_LAUNCH"


def launch_settings(args) -> dict:
    """nodes, gpus_per_node, accelerate_config and ``train`` (the runtime settings of TrainConfig:
    checkpointing, gradient checkpointing, shard size, logging): flags, else the workflow's
    ``$XLLM_TRAIN_LAUNCH`` (JSON). They change how training runs, not what it writes, so the
    workflow passes them through the environment rather than as params that would retrain."""
    import json
    import os

    env = json.loads(os.environ.get(LAUNCH_ENV) or "{}")
    out = {"nodes": 1, "gpus_per_node": 0, "accelerate_config": None, **env}
    out["train"] = dict(env.get("train") or {})
    out.update({k: v for k, v in vars(args).items() if k in out and v is not None})
    if args.checkpoint_every is not None:
        out["train"]["checkpoint_every"] = args.checkpoint_every
    return out


def runtime_flags(settings: dict, given: list[str]) -> list[str]:
    """``xllm train`` flags for runtime settings the command line does not already give."""
    flags = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if value is None or flag in given or f"--no-{flag[2:]}" in given:
            continue
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        else:
            flags += [flag, str(value)]
    return flags


def cmd_launch_train(args) -> int:
    import os
    import shlex

    from .launch import launch_command

    settings = launch_settings(args)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    train_args = [*train_args, *runtime_flags(settings["train"], train_args)]
    cmd = launch_command(
        settings["nodes"], settings["gpus_per_node"], settings["accelerate_config"], train_args, args.job_id
    )
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    if cmd[:2] == ["xllm", "train"]:  # one process: train here (an exec would leave a preloaded fork)
        return cmd_train(_train_parser().parse_args(cmd[2:]))
    os.execvp(cmd[0], cmd)
    return 0  # unreachable


def _train_parser() -> argparse.ArgumentParser:
    from .loop import TrainConfig

    parser = argparse.ArgumentParser(prog="xllm train")
    add_settings_arguments(parser, TrainConfig)
    return parser


def register(sub) -> None:
    from .loop import TrainConfig

    p = sub.add_parser("train", help="full-parameter fine-tuning (one process, or FSDP under accelerate)")
    add_settings_arguments(p, TrainConfig)
    p.set_defaults(func=cmd_train)

    from .tokenize import TokenizeConfig

    p = sub.add_parser("tokenize", help="tokenize a mixture once, to a directory every training process maps")
    add_settings_arguments(p, TokenizeConfig)
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser("launch-train", help="run `xllm train` on 0 GPUs, one node or several (srun)")
    p.add_argument("--nodes", type=int, help="default: $XLLM_TRAIN_LAUNCH's, else 1")
    p.add_argument("--gpus-per-node", type=int, help="default: $XLLM_TRAIN_LAUNCH's, else 0 (CPU)")
    p.add_argument("--accelerate-config", help="accelerate config file (FSDP) for GPU runs")
    p.add_argument("--checkpoint-every", type=int, help="passed on to `xllm train` (default: $XLLM_TRAIN_LAUNCH's)")
    p.add_argument("--job-id", help="Slurm job id (default: $SLURM_JOB_ID); sets the rendezvous port")
    p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the `xllm train` arguments")
    p.set_defaults(func=cmd_launch_train)
