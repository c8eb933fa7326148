"""What the training tests share: a mixture file, a training spec over a tiny base, the weights
of a trained model directory (one safetensors file or shards with an index)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_mixture(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def train_spec(base, data, root: Path, name: str, **overrides) -> dict:
    """The settings every training test starts from (one epoch, packed, 1 thread, seed 5), as a
    dict of ``TrainConfig`` fields; a test names only what it changes."""
    spec = dict(
        base=str(base),
        data=str(data),
        out=str(root / name / "model"),
        checkpoint_dir=str(root / name / "ck"),
        epochs=1,
        learning_rate=3e-3,
        global_batch_size=8,
        per_device_batch_size=4,
        max_seq_length=64,
        seed=5,
        packing=True,
        warmup_ratio=0.2,
        checkpoint_every=2,
        threads=1,
        log_every=100,
    )
    spec.update(overrides)
    return spec


def model_weights(model_dir) -> dict:
    from safetensors.torch import load_file

    index = Path(model_dir, "model.safetensors.index.json")
    files = (
        sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    )
    out = {}
    for name in files:
        out.update(load_file(os.path.join(model_dir, name)))
    return out
