"""The training loop: one code path for a CPU demo process and for FSDP across GPUs.

One process runs plain PyTorch (no wrapper: the demo trains many tiny models on a laptop); under
``accelerate launch`` with several processes the model is sharded with FSDP2
(``xllm.train.distributed``), on GPUs or, for the tests, on CPUs.

The loss of a step (``loss_normalization``): ``micro_batch`` (the authors', HF Trainer's) is the
mean over the response tokens of each micro-batch, averaged over the micro-batches of every
process, so short and long examples weigh by the micro-batch they land in; ``token`` is the mean
over every response token of the global batch, which does not depend on how the batch is split
into micro-batches, processes or packed rows.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..args import setting
from ..atomic import atomic_dir, file_sha256, iter_jsonl, write_json
from ..errors import UserError
from ..prompts import STYLE_FILE, check_style
from ..provenance import provenance
from . import batches, checkpoint, weights
from .distributed import Runtime
from .examples import IGNORE, EncodeStats, ExampleStore, encode_rows
from .tokenize import style_of, token_settings
from .tokens import PAD_POLICIES, apply_pad_policy

MANIFEST = "train_manifest.json"
LOSS_NORMALIZATIONS = ("micro_batch", "token")


@dataclass
class TrainConfig:
    """Every setting of a training job, declared once: the CLI and the config's ``train`` section fill it."""

    base: str = setting(help="model directory to fine-tune (safetensors + tokenizer)")
    data: str = setting(
        help="mixture JSONL ({instruction,input,output} or {text} rows), or its `xllm tokenize` directory"
    )
    out: str = setting(help="final model directory (written atomically at the end)")
    checkpoint_dir: str = setting(help="step-N checkpoints; a restart resumes from the latest")
    epochs: float = setting(3)
    learning_rate: float = setting(2e-5)
    global_batch_size: int = setting(128)
    per_device_batch_size: int = setting(4)
    max_seq_length: int = setting(512)
    seed: int = setting(0)
    precision: str = setting("fp32", choices=("fp32", "bf16"))
    packing: bool = setting(False, help="flatten each micro-batch into one row (no padding)")
    lr_scheduler: str = setting("cosine", choices=("cosine", "linear", "constant_with_warmup"))
    warmup_ratio: float = setting(0.03)
    weight_decay: float = setting(0.0)
    max_grad_norm: float = setting(1.0)
    checkpoint_every: int = setting(0, runtime=True, help="steps between checkpoints (0: none)")
    keep_checkpoints: int = setting(2, runtime=True, help="newest checkpoints kept during training")
    clean_checkpoints: bool = setting(False, runtime=True, help="delete the checkpoints once the model is written")
    gradient_checkpointing: bool = setting(False, runtime=True, help="recompute activations (memory for time)")
    metrics_file: str | None = setting(None, runtime=True, help="JSONL of loss, lr, grad norm, tokens/s per step")
    max_steps: int | None = setting(None, help="stop after this many optimizer steps")
    log_with: str = setting("none", runtime=True, choices=("none", "tensorboard", "wandb"))
    log_every: int = setting(10, runtime=True)
    # CPU results depend on the thread count (reductions split differently), so it is an output setting.
    threads: int | None = setting(None, help="CPU threads (default: all this process may use)")
    compile: bool = setting(False, runtime=True, help="torch.compile the model (GPU)")
    # The authors' protocol by default; each alternative is ours (see the README's fidelity table).
    prompt_format: str | None = setting(
        None,
        choices=("authors", "ours", "compact"),
        help="authors | ours | compact (default: the base's xllm_prompt.json, else authors)",
    )
    loss_normalization: str = setting(
        "micro_batch",
        choices=("micro_batch", "token"),
        help="micro_batch: mean per micro-batch, averaged (the authors' HF Trainer); "
        "token: mean over every response token of the global batch",
    )
    pad_token: str = setting(
        "add",
        choices=("add", "eos"),
        help='add: "<pad>" with a mean-initialized embedding row (the authors); eos: pad with EOS',
    )
    max_shard_size: str = setting(
        "5GB", runtime=True, help="largest file of the final model's safetensors (save_pretrained's default)"
    )


def train_style(cfg: TrainConfig) -> str:
    return style_of(cfg.prompt_format, cfg.base)


def _check(cfg: TrainConfig) -> None:
    if cfg.precision not in ("fp32", "bf16"):
        raise UserError(f"--precision: {cfg.precision!r} is not fp32 or bf16")
    if not Path(cfg.base, "config.json").exists():
        raise UserError(f"{cfg.base}: not a model directory (no config.json)")
    if not Path(cfg.data).exists():
        raise UserError(f"{cfg.data}: no such training data file or tokenized directory")
    if cfg.epochs <= 0 or cfg.learning_rate <= 0 or cfg.max_seq_length < 2:
        raise UserError("--epochs and --learning-rate must be positive and --max-seq-length at least 2")
    if not 0 <= cfg.warmup_ratio < 1:
        raise UserError(f"--warmup-ratio {cfg.warmup_ratio} is not in [0, 1)")
    if cfg.loss_normalization not in LOSS_NORMALIZATIONS:
        raise UserError(
            f"--loss-normalization: {cfg.loss_normalization!r} is not one of {', '.join(LOSS_NORMALIZATIONS)}"
        )
    if cfg.pad_token not in PAD_POLICIES:
        raise UserError(f"--pad-token: {cfg.pad_token!r} is not one of {', '.join(PAD_POLICIES)}")
    try:
        check_style(train_style(cfg), "--prompt-format")
    except ValueError as err:
        raise UserError(str(err)) from None
    if cfg.log_with not in ("none", "tensorboard", "wandb"):
        raise UserError(f"--log-with: {cfg.log_with!r} is not none, tensorboard or wandb")


def training_examples(cfg: TrainConfig, tokenizer, style: str) -> tuple[ExampleStore, str]:
    """The examples (mapped from an ``xllm tokenize`` directory, else tokenized here, in memory)
    and the sha256 of the mixture they come from. A directory tokenized under other settings than
    this run's is refused: it would train on other examples than the config says."""
    if not Path(cfg.data).is_dir():
        store, stats = encode_rows(iter_jsonl(cfg.data), tokenizer, style, cfg.max_seq_length, source=cfg.data)
        store.meta["stats"] = stats.as_dict()
        return store, file_sha256(cfg.data)
    store = ExampleStore.open(cfg.data)
    wanted = {**token_settings(style, cfg.max_seq_length), "vocab_size": len(tokenizer)}
    differ = {k: (store.meta.get(k), v) for k, v in wanted.items() if store.meta.get(k) != v}
    if differ:
        said = "; ".join(f"{k} {was!r} there, {now!r} here" for k, (was, now) in differ.items())
        raise UserError(f"{cfg.data}: tokenized under other settings ({said}): run `xllm tokenize` again")
    return store, store.meta["data_sha256"]


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
            model = AutoModelForCausalLM.from_config(
                AutoConfig.from_pretrained(base), dtype=torch.float32, attn_implementation=attn
            )
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
        kwargs = {
            "input_ids": batch["input_ids"].to(device),
            "position_ids": batch["position_ids"].to(device),
            "cu_seq_lens_q": batch["cu_seq_lens"].to(device),
            "cu_seq_lens_k": batch["cu_seq_lens"].to(device),
            "max_length_q": batch["max_length"],
            "max_length_k": batch["max_length"],
        }
    else:
        kwargs = {"input_ids": batch["input_ids"].to(device), "attention_mask": batch["attention_mask"].to(device)}
    with autocast:
        logits = model(**kwargs, use_cache=False).logits
    targets = batch["targets"].to(device)
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )


def loss_scale(normalization: str, mb_targets: int, n_micro: int, global_targets: float, world: int) -> float:
    """The factor of a micro-batch's summed loss in the step's gradient.

    ``token``: 1 / (response tokens of the global batch). ``micro_batch`` (HF Trainer's
    ``loss / gradient_accumulation_steps`` of a per-micro-batch mean): 1 / (the micro-batch's
    response tokens x this process's micro-batches); a micro-batch without any (a Trainer would
    divide by zero) adds nothing. ``world`` undoes FSDP's average of gradients over processes
    for ``token``; for ``micro_batch`` that average is the Trainer's (DDP) average."""
    if normalization == "token":
        return world / global_targets
    return 1.0 / (mb_targets * n_micro) if mb_targets else 0.0


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
            project = os.environ.get("WANDB_PROJECT", "xllm")
            self.writer = wandb.init(project=project, config=asdict(cfg), resume="allow")

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
    style = train_style(cfg)
    examples, data_sha256 = training_examples(cfg, tokenizer, style)
    accum = batches.grad_accumulation(cfg.global_batch_size, cfg.per_device_batch_size, rt.world)
    stats = EncodeStats(**examples.meta["stats"])
    if rt.is_main:
        print(
            f"{cfg.data}: {stats.rows} rows -> {stats.examples} examples, {stats.tokens} tokens "
            f"({stats.target_tokens} trained); {stats.truncated} truncated to {cfg.max_seq_length}, "
            f"{stats.dropped_all_masked} dropped (prompt fills the max length)",
            file=sys.stderr,
        )
    per_epoch = batches.steps_per_epoch(len(examples), cfg.global_batch_size)
    if per_epoch == 0:
        raise UserError(
            f"{cfg.data}: {len(examples)} usable examples, fewer than one global batch ({cfg.global_batch_size})"
        )
    total = math.ceil(cfg.epochs * per_epoch)
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    warmup = math.ceil(cfg.warmup_ratio * total)

    model = build_model(cfg.base, cfg.packing, cfg.gradient_checkpointing)
    pad_id = apply_pad_policy(model, tokenizer, cfg.pad_token)  # before sharding: it may resize
    model = rt.wrap(model)
    optimizer = make_optimizer(model, cfg, rt.device)
    scheduler = get_scheduler(cfg.lr_scheduler, optimizer, num_warmup_steps=warmup, num_training_steps=total)
    if cfg.compile:
        model = torch.compile(model, dynamic=True)

    # What a checkpoint's step means: resuming under anything else would silently train on other data,
    # so checkpoints of another run (the mixture was rebuilt, the seed changed...) are dropped.
    run = {
        "data_sha256": data_sha256,
        "examples": len(examples),
        "global_batch_size": cfg.global_batch_size,
        "seed": cfg.seed,
        "steps": total,
        "packing": cfg.packing,
        "max_seq_length": cfg.max_seq_length,
        "loss_normalization": cfg.loss_normalization,
        "pad_token": cfg.pad_token,
        "prompt_format": style,
    }
    start, state = 0, {"tokens": 0, "target_tokens": 0, "train_seconds": 0.0, "loss": None, "run": run}
    resume_from = checkpoint.latest(cfg.checkpoint_dir)
    if resume_from is not None:
        saved = json.loads((resume_from / checkpoint.STATE_FILE).read_text()).get("run", {})
        changed = sorted(k for k in run if saved.get(k) != run[k])
        if changed:
            if rt.is_main:
                print(
                    f"{cfg.checkpoint_dir}: checkpoints of another run ({', '.join(changed)} changed): starting afresh",
                    file=sys.stderr,
                )
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
    bar = tqdm(
        total=total,
        initial=start,
        disable=not rt.is_main,
        file=sys.stderr,
        desc="train",
        dynamic_ncols=True,
        mininterval=2.0,
    )
    autocast = rt.autocast()
    model.train()
    try:
        for step in range(start, total):
            t0 = time.perf_counter()
            micro = batches.step_micro_batches(
                len(examples), cfg.seed, step, cfg.global_batch_size, cfg.per_device_batch_size, rt.rank, rt.world
            )
            local_targets = sum(examples.n_targets(i) for mb in micro for i in mb)
            local_tokens = sum(examples.n_tokens(i) for mb in micro for i in mb)
            global_targets, _ = rt.all_sum([float(local_targets), 0.0])
            loss_sum, mean_sum = 0.0, 0.0
            for mb in micro:
                group = [examples[i] for i in mb]
                batch = batches.collate_packed(group) if cfg.packing else batches.collate_padded(group, pad_id)
                loss = micro_batch_loss(model, batch, cfg.packing, rt.device, autocast)
                # the authors' per-micro-batch mean or ours over the global batch (see loss_scale)
                scaled = loss * loss_scale(
                    cfg.loss_normalization, sum(e.n_targets for e in group), len(micro), global_targets, rt.world
                )
                scaled.backward()
                loss_sum += loss.item()
                mean_sum += loss.item() / max(sum(e.n_targets for e in group), 1)
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            if hasattr(grad_norm, "full_tensor"):  # a DTensor under FSDP2
                grad_norm = grad_norm.full_tensor()
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_total, tokens, means, n_micro = rt.all_sum(
                [loss_sum, float(local_tokens), mean_sum, float(len(micro))]
            )
            seconds = time.perf_counter() - t0
            step_loss = loss_total / global_targets if cfg.loss_normalization == "token" else means / n_micro
            if not math.isfinite(step_loss):
                raise RuntimeError(f"non-finite loss {step_loss} at step {step + 1}")
            state["tokens"] += int(tokens)
            state["target_tokens"] += int(global_targets)
            state["train_seconds"] += seconds
            state["loss"] = step_loss
            row = {
                "step": step + 1,
                "epoch": round((step + 1) / per_epoch, 4),
                "loss": round(step_loss, 6),
                "lr": lr,
                "grad_norm": round(float(grad_norm), 6),
                "tokens": int(tokens),
                "tokens_per_s": round(tokens / seconds, 1),
            }
            if metrics:
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
            trackers.log(row)
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.4f}", refresh=False)
            if rt.is_main and ((step + 1) % cfg.log_every == 0 or step + 1 == total):
                bar.write(
                    f"step {step + 1}/{total} loss {step_loss:.4f} lr {lr:.3g} "
                    f"grad_norm {float(grad_norm):.3f} tokens/s {tokens / seconds:.0f}",
                    file=sys.stderr,
                )
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
        "base": cfg.base,
        "data": cfg.data,
        "data_sha256": run["data_sha256"],
        "hyperparameters": asdict(cfg),
        "world_size": rt.world,
        "gradient_accumulation": accum,
        "steps": total,
        "steps_per_epoch": per_epoch,
        "warmup_steps": warmup,
        "final_loss": state["loss"],
        "tokens": state["tokens"],
        "target_tokens": state["target_tokens"],
        "train_seconds": round(state["train_seconds"], 3),
        "tokens_per_s": round(state["tokens"] / max(state["train_seconds"], 1e-9), 1),
        "examples": stats.as_dict(),
        "resumed_from_step": start or None,
        "prompt_format": style,
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
            model.save_pretrained(
                tmp, state_dict=state_dict, safe_serialization=True, max_shard_size=cfg.max_shard_size
            )
        if rt.is_main:
            tokenizer.save_pretrained(tmp)
            write_json(tmp / STYLE_FILE, {"style": train_style(cfg)})
            write_json(tmp / MANIFEST, manifest)
    rt.barrier()
