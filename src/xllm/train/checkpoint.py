"""Checkpoints during training: model, optimizer, scheduler, RNG and the step reached.

A checkpoint is a directory ``step-<N>`` that appears only once complete (written under a
temporary name, renamed last), so the latest ``step-*`` is always safe to resume from; a killed
job leaves at most a ``.step-*.tmp`` that is ignored and cleaned up. One process saves plain
``torch.save`` files; several processes (FSDP) a sharded ``torch.distributed.checkpoint``. The data
position is the step itself: the example order is a pure function of (seed, epoch).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path

STATE_FILE = "trainer_state.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def latest(checkpoint_dir: str | Path) -> Path | None:
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return None
    found = [
        (int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and (p / STATE_FILE).exists()
    ]
    return max(found)[1] if found else None


def remove_all(checkpoint_dir: str | Path) -> None:
    root = Path(checkpoint_dir)
    if root.is_dir():
        for p in root.iterdir():
            if _STEP_DIR.match(p.name) or p.name.startswith(".step-"):
                shutil.rmtree(p, ignore_errors=True)


def _rng_state() -> dict:
    import torch

    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    import torch

    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(rt, checkpoint_dir: str | Path, step: int, model, optimizer, scheduler, state: dict, keep: int = 2) -> Path:
    """Write ``step-<step>`` (every rank calls this); keep the newest ``keep`` checkpoints."""
    import torch

    root = Path(checkpoint_dir)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.tmp"
    if rt.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    rt.barrier()
    if rt.distributed:
        rt.save_sharded(tmp / "sharded", model, optimizer)
    else:
        torch.save(model.state_dict(), tmp / "model.pt")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(_rng_state(), tmp / f"rng-{rt.rank}.pt")
    if rt.is_main:
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=2))
    rt.barrier()
    if rt.is_main:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        older = sorted(p for p in root.iterdir() if _STEP_DIR.match(p.name) and p != final)
        for old in older[: max(0, len(older) - (keep - 1))]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in root.glob(".step-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    rt.barrier()
    return final


def load(rt, path: Path, model, optimizer, scheduler) -> dict:
    """Restore everything saved by :func:`save`; returns the trainer state (with ``step``)."""
    import torch

    if rt.distributed:
        rt.load_sharded(path / "sharded", model, optimizer)
    else:
        model.load_state_dict(torch.load(path / "model.pt", map_location=rt.device, weights_only=True))
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=rt.device, weights_only=True))
    rng = path / f"rng-{rt.rank}.pt"
    if rng.exists():  # a restart on more processes than saved keeps the fresh seeds
        _set_rng_state(torch.load(rng, weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    return json.loads((path / STATE_FILE).read_text())
