"""``xllm train`` and ``xllm launch-train``."""

from __future__ import annotations

import argparse


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", required=True, help="model directory to fine-tune (safetensors + tokenizer)")
    p.add_argument("--data", required=True, help="mixture JSONL: {instruction,input,output} or {text} rows")
    p.add_argument("--out", required=True, help="final model directory (written atomically at the end)")
    p.add_argument("--checkpoint-dir", required=True, help="step-N checkpoints; a restart resumes from the latest")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--learning-rate", type=float, default=2e-5)
    p.add_argument("--global-batch-size", type=int, default=128)
    p.add_argument("--per-device-batch-size", type=int, default=4)
    p.add_argument("--max-seq-length", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--packing", action="store_true", help="flatten each micro-batch into one row (no padding)")
    p.add_argument("--lr-scheduler", default="cosine", choices=("cosine", "linear", "constant_with_warmup"))
    p.add_argument("--warmup-ratio", type=float, default=0.03)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints (0: none)")
    p.add_argument("--keep-checkpoints", type=int, default=2, help="newest checkpoints kept during training")
    p.add_argument("--clean-checkpoints", action="store_true", help="delete the checkpoints once the model is written")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--metrics-file", help="JSONL of loss, lr, grad norm, tokens/s per step (appended)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--log-with", choices=("none", "tensorboard", "wandb"), default="none")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, help="CPU threads (default: all this process may use)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")


def cmd_train(args) -> int:
    from .loop import TrainConfig, train

    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    manifest = train(cfg)
    if manifest is not None and manifest["provenance"] and _is_main():
        print(f"trained {manifest['steps']} steps, final loss {manifest['final_loss']:.4f}, "
              f"{manifest['tokens_per_s']:.0f} tokens/s -> {cfg.out}")
    return 0


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def cmd_launch_train(args) -> int:
    import os
    import shlex

    from .launch import launch_command

    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    cmd = launch_command(args.nodes, args.gpus_per_node, args.accelerate_config, train_args, args.job_id)
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    if cmd[:2] == ["xllm", "train"]:
        from ..cli import main

        return main(cmd[1:])
    os.execvp(cmd[0], cmd)
    return 0  # unreachable


def register(sub) -> None:
    p = sub.add_parser("train", help="full-parameter fine-tuning (one process, or FSDP under accelerate)")
    _train_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("launch-train", help="run `xllm train` on 0 GPUs, one node or several (srun)")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--gpus-per-node", type=int, default=0)
    p.add_argument("--accelerate-config", help="accelerate config file (FSDP) for GPU runs")
    p.add_argument("--job-id", help="Slurm job id (default: $SLURM_JOB_ID); sets the rendezvous port")
    p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the `xllm train` arguments")
    p.set_defaults(func=cmd_launch_train)
