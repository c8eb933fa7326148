"""The training loop: one code path for a CPU demo process and for FSDP across GPUs.

One process runs plain PyTorch (no wrapper: the demo trains many tiny models on a laptop); under
``accelerate launch`` with several processes the model is sharded with FSDP2
(``xllm.train.distributed``), on GPUs or, for the tests, on CPUs. The loss of a step is the mean over every response token of the global
batch (summed per micro-batch, divided by the global token count), so it does not depend on how
the batch is split into micro-batches, processes or packed rows.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import atomic_dir, write_json
from ..errors import UserError
from ..prompts import STYLE_FILE, prompt_style
from ..provenance import provenance
from . import batches, checkpoint, weights
from .distributed import Runtime
from .examples import IGNORE, encode_rows

MANIFEST = "train_manifest.json"


@dataclass
class TrainConfig:
    base: str
    data: str
    out: str
    checkpoint_dir: str
    epochs: float = 3
    learning_rate: float = 2e-5
    global_batch_size: int = 128
    per_device_batch_size: int = 4
    max_seq_length: int = 512
    seed: int = 0
    precision: str = "fp32"
    packing: bool = False
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    clean_checkpoints: bool = False
    gradient_checkpointing: bool = False
    metrics_file: str | None = None
    max_steps: int | None = None
    log_with: str = "none"
    log_every: int = 10
    threads: int | None = None
    compile: bool = False
    max_shard_size: str = "5GB"  # the final model's safetensors files (save_pretrained's default)


def _check(cfg: TrainConfig) -> None:
    if cfg.precision not in ("fp32", "bf16"):
        raise UserError(f"--precision: {cfg.precision!r} is not fp32 or bf16")
    if not Path(cfg.base, "config.json").exists():
        raise UserError(f"{cfg.base}: not a model directory (no config.json)")
    if not Path(cfg.data).is_file():
        raise UserError(f"{cfg.data}: no such training data file")
    if cfg.epochs <= 0 or cfg.learning_rate <= 0 or cfg.max_seq_length < 2:
        raise UserError("--epochs and --learning-rate must be positive and --max-seq-length at least 2")
    if not 0 <= cfg.warmup_ratio < 1:
        raise UserError(f"--warmup-ratio {cfg.warmup_ratio} is not in [0, 1)")
    if cfg.log_with not in ("none", "tensorboard", "wandb"):
        raise UserError(f"--log-with: {cfg.log_with!r} is not none, tensorboard or wandb")


def file_sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}: line {n}: not JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise UserError(f"{path}: line {n}: not a JSON object")
            rows.append(row)
    return rows


def build_model(base: str, packing: bool, gradient_checkpointing: bool, empty: bool = False):
    """The fp32 model of ``base``; ``empty``: its parameters on the meta device, no weights read
    (FSDP: each rank reads only its shards once the model is sharded, ``weights.load_local_shards``)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    from .attention import register

    attn = register() if packing else "sdpa"
    if empty:
        from transformers.integrations.accelerate import init_empty_weights

        with init_empty_weights(include_buffers=False):  # buffers (rotary frequencies) are computed, not read
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base), dtype=torch.float32,
                                                     attn_implementation=attn)
        model.tie_weights()  # from_config leaves meta parameters untied; from_pretrained ties them
        if Path(base, "generation_config.json").exists():
            model.generation_config = GenerationConfig.from_pretrained(base)
    else:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation=attn)
    model.config.use_cache = False
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def make_optimizer(model, cfg: TrainConfig, device):
    import torch

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=device.type == "cuda")


def micro_batch_loss(model, batch: dict, packing: bool, device, autocast):
    """Summed token cross-entropy of one micro-batch (fp32 logits)."""
    import torch

    if packing:
        kwargs = {"input_ids": batch["input_ids"].to(device), "position_ids": batch["position_ids"].to(device),
                  "cu_seq_lens_q": batch["cu_seq_lens"].to(device), "cu_seq_lens_k": batch["cu_seq_lens"].to(device),
                  "max_length_q": batch["max_length"], "max_length_k": batch["max_length"]}
    else:
        kwargs = {"input_ids": batch["input_ids"].to(device), "attention_mask": batch["attention_mask"].to(device)}
    with autocast:
        logits = model(**kwargs, use_cache=False).logits
    targets = batch["targets"].to(device)
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )


class _Trackers:
    def __init__(self, kind: str, cfg: TrainConfig, is_main: bool):
        self.kind, self.writer = (kind if is_main else "none"), None
        if self.kind == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UserError("--log-with tensorboard: the tensorboard package is not installed") from None
            self.writer = SummaryWriter(str(Path(cfg.checkpoint_dir) / "tensorboard"))
        elif self.kind == "wandb":
            try:
                import wandb
            except ImportError:
                raise UserError("--log-with wandb: the wandb package is not installed") from None
            self.writer = wandb.init(project=os.environ.get("WANDB_PROJECT", "xllm"), config=asdict(cfg), resume="allow")

    def log(self, row: dict) -> None:
        if self.kind == "tensorboard":
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"train/{key}", value, row["step"])
        elif self.kind == "wandb":
            self.writer.log(row, step=row["step"])

    def close(self) -> None:
        if self.writer is not None:
            (self.writer.close if self.kind == "tensorboard" else self.writer.finish)()


def train(cfg: TrainConfig, stop_after: int | None = None) -> dict | None:
    """Train ``cfg.base`` on ``cfg.data`` into ``cfg.out``; returns the manifest (None if stopped).

    ``stop_after`` ends the process's work after that many steps (after checkpointing), as a
    killed job would: the resume test uses it.
    """
    _check(cfg)
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer, get_scheduler

    started = time.time()
    rt = Runtime(cfg.precision, cfg.threads)
    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    style = prompt_style(cfg.base)
    examples, stats = encode_rows(_read_rows(cfg.data), tokenizer, style, cfg.max_seq_length, source=cfg.data)
    accum = batches.grad_accumulation(cfg.global_batch_size, cfg.per_device_batch_size, rt.world)
    if rt.is_main:
        print(f"{cfg.data}: {stats.rows} rows -> {stats.examples} examples, {stats.tokens} tokens "
              f"({stats.target_tokens} trained); {stats.truncated} truncated to {cfg.max_seq_length}, "
              f"{stats.dropped_all_masked} dropped (prompt fills the max length)", file=sys.stderr)
    per_epoch = batches.steps_per_epoch(len(examples), cfg.global_batch_size)
    if per_epoch == 0:
        raise UserError(f"{cfg.data}: {len(examples)} usable examples, fewer than one global batch ({cfg.global_batch_size})")
    total = math.ceil(cfg.epochs * per_epoch)
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    warmup = math.ceil(cfg.warmup_ratio * total)

    model = rt.wrap(build_model(cfg.base, cfg.packing, cfg.gradient_checkpointing, empty=rt.fsdp))
    if rt.fsdp:
        weights.load_local_shards(model, cfg.base)
    optimizer = make_optimizer(model, cfg, rt.device)
    scheduler = get_scheduler(cfg.lr_scheduler, optimizer, num_warmup_steps=warmup, num_training_steps=total)
    if cfg.compile:
        model = torch.compile(model, dynamic=True)

    # What a checkpoint's step means: resuming under anything else would silently train on other data,
    # so checkpoints of another run (the mixture was rebuilt, the seed changed...) are dropped.
    run = {"data_sha256": file_sha256(cfg.data), "examples": len(examples), "global_batch_size": cfg.global_batch_size,
           "seed": cfg.seed, "steps": total, "packing": cfg.packing, "max_seq_length": cfg.max_seq_length}
    start, state = 0, {"tokens": 0, "target_tokens": 0, "train_seconds": 0.0, "loss": None, "run": run}
    resume_from = checkpoint.latest(cfg.checkpoint_dir)
    if resume_from is not None:
        saved = json.loads((resume_from / checkpoint.STATE_FILE).read_text()).get("run", {})
        changed = sorted(k for k in run if saved.get(k) != run[k])
        if changed:
            if rt.is_main:
                print(f"{cfg.checkpoint_dir}: checkpoints of another run ({', '.join(changed)} changed): "
                      "starting afresh", file=sys.stderr)
                checkpoint.remove_all(cfg.checkpoint_dir)
            rt.barrier()
            resume_from = None
    if resume_from is not None:
        state = checkpoint.load(rt, resume_from, model, optimizer, scheduler)
        start = state["step"]
        if rt.is_main:
            print(f"resuming from {resume_from} (step {start}/{total})", file=sys.stderr)

    metrics = None
    if cfg.metrics_file and rt.is_main:
        Path(cfg.metrics_file).parent.mkdir(parents=True, exist_ok=True)
        metrics = open(cfg.metrics_file, "a", encoding="utf-8")
    trackers = _Trackers(cfg.log_with, cfg, rt.is_main)
    bar = tqdm(total=total, initial=start, disable=not rt.is_main, file=sys.stderr, desc="train",
               dynamic_ncols=True, mininterval=2.0)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    autocast = rt.autocast()
    model.train()
    try:
        for step in range(start, total):
            t0 = time.perf_counter()
            micro = batches.step_micro_batches(len(examples), cfg.seed, step, cfg.global_batch_size,
                                               cfg.per_device_batch_size, rt.rank, rt.world)
            local_targets = sum(examples[i].n_targets for mb in micro for i in mb)
            local_tokens = sum(len(examples[i]) for mb in micro for i in mb)
            global_targets, _ = rt.all_sum([float(local_targets), 0.0])
            loss_sum = 0.0
            for mb in micro:
                group = [examples[i] for i in mb]
                batch = batches.collate_packed(group) if cfg.packing else batches.collate_padded(group, pad_id)
                loss = micro_batch_loss(model, batch, cfg.packing, rt.device, autocast)
                scaled = loss * (rt.world / global_targets)
                scaled.backward()
                loss_sum += loss.item()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            if hasattr(grad_norm, "full_tensor"):  # a DTensor under FSDP2
                grad_norm = grad_norm.full_tensor()
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_total, tokens = rt.all_sum([loss_sum, float(local_tokens)])
            seconds = time.perf_counter() - t0
            step_loss = loss_total / global_targets
            if not math.isfinite(step_loss):
                raise RuntimeError(f"non-finite loss {step_loss} at step {step + 1}")
            state["tokens"] += int(tokens)
            state["target_tokens"] += int(global_targets)
            state["train_seconds"] += seconds
            state["loss"] = step_loss
            row = {"step": step + 1, "epoch": round((step + 1) / per_epoch, 4), "loss": round(step_loss, 6),
                   "lr": lr, "grad_norm": round(float(grad_norm), 6), "tokens": int(tokens),
                   "tokens_per_s": round(tokens / seconds, 1)}
            if metrics:
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
            trackers.log(row)
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.4f}", refresh=False)
            if rt.is_main and ((step + 1) % cfg.log_every == 0 or step + 1 == total):
                bar.write(f"step {step + 1}/{total} loss {step_loss:.4f} lr {lr:.3g} "
                          f"grad_norm {float(grad_norm):.3f} tokens/s {tokens / seconds:.0f}", file=sys.stderr)
            done = step + 1
            if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done < total:
                checkpoint.save(rt, cfg.checkpoint_dir, done, model, optimizer, scheduler, state, cfg.keep_checkpoints)
            if stop_after is not None and done >= stop_after and done < total:
                rt.close()
                return None
    finally:
        bar.close()
        trackers.close()
        if metrics:
            metrics.close()

    manifest = {
        "base": cfg.base, "data": cfg.data, "data_sha256": run["data_sha256"], "hyperparameters": asdict(cfg),
        "world_size": rt.world, "gradient_accumulation": accum, "steps": total, "steps_per_epoch": per_epoch,
        "warmup_steps": warmup, "final_loss": state["loss"], "tokens": state["tokens"],
        "target_tokens": state["target_tokens"], "train_seconds": round(state["train_seconds"], 3),
        "tokens_per_s": round(state["tokens"] / max(state["train_seconds"], 1e-9), 1),
        "examples": stats.as_dict(), "resumed_from_step": start or None,
        "wall_seconds": round(time.time() - started, 3),
        "provenance": provenance(config=asdict(cfg), seed=cfg.seed),
    }
    save_final(rt, model, tokenizer, cfg, manifest)
    if cfg.clean_checkpoints and rt.is_main:  # the final model is complete: resuming is moot
        checkpoint.remove_all(cfg.checkpoint_dir)
    rt.close()
    return manifest


def save_final(rt, model, tokenizer, cfg: TrainConfig, manifest: dict) -> None:
    """Safetensors (in files of at most ``max_shard_size``, with an index) + tokenizer + prompt style
    + manifest, renamed into place at once. A sharded model is gathered tensor by tensor
    (``weights.save_gathered``): rank 0 never holds the whole model."""
    import contextlib

    model = getattr(model, "_orig_mod", model)
    state_dict = None if rt.fsdp else rt.full_state_dict(model)
    model = rt.unwrap(model)
    if state_dict is not None and getattr(model.config, "tie_word_embeddings", False):
        for key in getattr(model, "_tied_weights_keys", None) or ():  # saved once, as the embedding
            state_dict.pop(key, None)
    model.config.use_cache = True
    model.config._attn_implementation = "sdpa"  # the packing attention is a training detail
    # every rank enters: gathering a sharded model is a collective; only rank 0 writes
    with atomic_dir(cfg.out) if rt.is_main else contextlib.nullcontext() as tmp:
        if rt.fsdp:
            weights.save_gathered(model, tmp, cfg.max_shard_size, rt.is_main)
            if rt.is_main:  # what save_pretrained writes besides the weights
                model.config.dtype = "float32"
                model.config.architectures = [type(model).__name__.removeprefix("FSDP")]
                model.config.save_pretrained(tmp)
                if model.can_generate():
                    model.generation_config.save_pretrained(tmp)
        elif rt.is_main:
            model.save_pretrained(tmp, state_dict=state_dict, safe_serialization=True,
                                  max_shard_size=cfg.max_shard_size)
        if rt.is_main:
            tokenizer.save_pretrained(tmp)
            write_json(tmp / STYLE_FILE, {"style": prompt_style(cfg.base)})
            write_json(tmp / MANIFEST, manifest)
    rt.barrier()
