"""Processes, devices and FSDP: one process runs the model as is; several shard it with FSDP2.

``accelerate launch`` (or torchrun/srun) starts the processes and exports the launch config as
environment variables (``ACCELERATE_USE_FSDP``, ``FSDP_*``); the sharding itself is done here with
PyTorch's ``fully_shard`` (one unit per decoder layer, then the root), so the same code shards
on GPUs (NCCL) and on CPUs (gloo) — which lets the test suite run real FSDP on a laptop; the
accelerate wrapper refuses FSDP without an accelerator. Checkpoints of a sharded model are
``torch.distributed.checkpoint`` directories (each rank writes its shards). Under FSDP the model is
built on the meta device and each rank reads only its shards of the weights, and the final model is
gathered one tensor at a time into sharded safetensors (``xllm.train.weights``): no process ever
holds the whole model, so it may exceed one GPU and the host memory of one process.
"""

from __future__ import annotations

import contextlib
import os


def cpu_threads(threads: int | None = None) -> int:
    """--threads, else what the scheduler granted (Slurm, OMP_NUM_THREADS), else this process's CPUs.

    Oversubscribing (two jobs each using every core) makes OpenMP spin: measured 8x slower here.
    """
    for value in (threads, os.environ.get("SLURM_CPUS_PER_TASK"), os.environ.get("OMP_NUM_THREADS")):
        if value and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0))


def _env_flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes")


def wrap_classes(model) -> set[str]:
    """The layer classes sharded one FSDP unit each: FSDP_TRANSFORMER_CLS_TO_WRAP if the launch config
    names them, else the model's own ``_no_split_modules`` (its decoder layer: LlamaDecoderLayer,
    Qwen2DecoderLayer, GPTNeoXLayer...), so one accelerate config serves every architecture."""
    names = os.environ.get("FSDP_TRANSFORMER_CLS_TO_WRAP", "").replace(",", " ").split()
    if names:
        return set(names)
    found = model._get_no_split_modules("auto") if hasattr(model, "_get_no_split_modules") else None
    return set(found or getattr(model, "_no_split_modules", None) or ())


class Runtime:
    """Rank, world, device and how the model is wrapped (nothing, FSDP2 or DDP)."""

    def __init__(self, precision: str = "fp32", threads: int | None = None):
        import torch
        import torch.distributed as dist

        self.precision = precision
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and not _env_flag("ACCELERATE_USE_CPU")
        if cuda:
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
            torch.set_num_threads(cpu_threads(threads))
        self.fsdp = self.world > 1 and _env_flag("ACCELERATE_USE_FSDP", True)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo", device_id=self.device if cuda else None)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def all_sum(self, values: list[float]) -> list[float]:
        if not self.distributed:
            return values
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def autocast(self):
        """bf16 compute for the unsharded model (FSDP casts parameters itself)."""
        import torch

        if self.precision == "bf16" and not self.fsdp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def wrap(self, model):
        """Shard (FSDP2: each decoder layer, then the root) or replicate (DDP) across processes.

        A model on the meta device (built without weights, for FSDP) gets empty storage for its
        local shards only; ``weights.load_local_shards`` fills them.
        """
        import torch

        if not self.distributed:
            return model.to(self.device)
        if not self.fsdp:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [self.device] if self.device.type == "cuda" else None
            return DistributedDataParallel(model.to(self.device), device_ids=device_ids)
        from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard

        reshard = os.environ.get("FSDP_SHARDING_STRATEGY", "FULL_SHARD").upper() not in ("SHARD_GRAD_OP", "2")
        kwargs = {"reshard_after_forward": reshard}
        if self.precision == "bf16":
            kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        offload = _env_flag("FSDP_OFFLOAD_PARAMS")
        if offload:
            kwargs["offload_policy"] = CPUOffloadPolicy()
        on_meta = any(p.is_meta for p in model.parameters())
        if not on_meta:
            model.to(self.device)
        names = wrap_classes(model)
        layers = [m for m in model.modules() if type(m).__name__ in names]
        if not layers:
            from ..errors import UserError

            raise UserError(
                f"FSDP layers to wrap ({','.join(sorted(names)) or 'none declared'}): "
                f"no such layer in {type(model).__name__}"
            )
        for layer in layers:
            fully_shard(layer, **kwargs)
        fully_shard(model, **kwargs)
        if on_meta:
            from .weights import materialize

            materialize(model, "cpu" if offload else self.device, buffer_device=self.device)
        return model

    def unwrap(self, model):
        return getattr(model, "module", model)

    # --- checkpoints of sharded/replicated models
    def save_sharded(self, path, model, optimizer) -> None:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict

        msd, osd = get_state_dict(model, optimizer)
        dcp.save({"model": msd, "optimizer": osd}, checkpoint_id=str(path))

    def load_sharded(self, path, model, optimizer) -> None:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

        msd, osd = get_state_dict(model, optimizer)
        state = {"model": msd, "optimizer": osd}
        dcp.load(state, checkpoint_id=str(path))
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])

    def full_state_dict(self, model) -> dict | None:
        """The whole model's weights on rank 0 (CPU); every rank must call this."""
        if not self.distributed:
            return None
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
