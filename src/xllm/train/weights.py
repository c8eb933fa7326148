"""Weights of a sharded (FSDP2) model without a whole copy per process: read by shard, written by file.

Loading: every rank builds the model on the meta device, shards it, then reads from the
safetensors files only the rows of each parameter it keeps (plain reads of those bytes: a memory
map would leave every page read resident in the process until the file is closed). A node thus
holds about one copy of the weights in all instead of one per process, and no rank ever holds the
whole model. Older ``pytorch_model*.bin`` checkpoints are read through a memory map instead.

Saving: the parameters are gathered one at a time (a collective: every rank takes part) and rank 0
writes them out file by file in the Hugging Face sharded layout (``model-0000i-of-0000n.safetensors``
plus ``model.safetensors.index.json``, or one ``model.safetensors`` if it fits one file), so rank 0
holds at most one file's worth of weights, never the whole model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
BIN, BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"  # older checkpoints


def checkpoint_files(base: str | os.PathLike) -> dict[str, Path]:
    """Tensor name -> safetensors file of the model directory ``base``."""
    base = Path(base)
    if (base / INDEX).exists():
        weight_map = json.loads((base / INDEX).read_text())["weight_map"]
        return {name: base / file for name, file in weight_map.items()}
    if (base / SINGLE).exists():
        return {name: base / SINGLE for name in _header(base / SINGLE)[0] if name != "__metadata__"}
    if (base / BIN_INDEX).exists():
        weight_map = json.loads((base / BIN_INDEX).read_text())["weight_map"]
        return {name: base / file for name, file in weight_map.items()}
    if (base / BIN).exists():
        return {name: base / BIN for name in _BinRows(base / BIN).state}
    raise UserError(f"{base}: no weights ({SINGLE}, {INDEX}, {BIN} or {BIN_INDEX})")


def _header(path: Path) -> tuple[dict, int]:
    """The safetensors header (name -> dtype, shape, data_offsets) and where the data starts."""
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        return json.loads(handle.read(size)), 8 + size


_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


class _Rows:
    """Reads row ranges of the tensors of one safetensors file with plain reads, not a memory map:
    mapped pages would count in the process's resident memory until the file is closed."""

    def __init__(self, path: Path):
        self.path = path
        self.header, self.data_start = _header(path)
        self.handle = open(path, "rb", buffering=0)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.header[name]["shape"])

    def read(self, name: str, start: int = 0, end: int | None = None):
        import torch

        entry = self.header[name]
        dtype = getattr(torch, _DTYPES[entry["dtype"]])
        shape = list(entry["shape"])
        begin, stop = entry["data_offsets"]
        if shape:
            end = shape[0] if end is None else end
            row = (stop - begin) // shape[0] if shape[0] else 0
            begin, stop, shape[0] = begin + start * row, begin + end * row, end - start
        out = torch.empty(shape, dtype=dtype)
        view = memoryview(out.reshape(-1).view(torch.uint8).numpy())
        self.handle.seek(self.data_start + begin)
        got = 0
        while got < stop - begin:
            n = self.handle.readinto(view[got:])
            if not n:
                raise UserError(f"{self.path}: truncated in {name}")
            got += n
        return out

    def close(self) -> None:
        self.handle.close()


class _BinRows:
    """Row ranges of a ``torch.save`` checkpoint (``pytorch_model*.bin``), memory-mapped: only the
    pages of the rows read are touched, though they stay resident until the file is closed."""

    def __init__(self, path: Path):
        import torch

        self.state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.state[name].shape)

    def read(self, name: str, start: int = 0, end: int | None = None):
        tensor = self.state[name]
        return tensor[start:end].clone() if tensor.ndim else tensor.clone()

    def close(self) -> None:
        self.state = {}


def _rows(length: int, parts: int, index: int) -> tuple[int, int]:
    """Rows [start, end) of part ``index`` when ``length`` rows are split as ``torch.chunk`` does (FSDP2's Shard(0))."""
    size = -(-length // parts) if length else 0
    start = min(index * size, length)
    return start, min(start + size, length)


def materialize(model, device, buffer_device=None) -> None:
    """Give the meta parameters of a sharded model real (uninitialized) storage on ``device``.

    ``to_empty`` also replaces the buffers, which were built for real (rotary frequencies are
    computed, not loaded; they go to ``buffer_device`` when the parameters are offloaded to the
    CPU), and gives each module of a tied parameter (embedding and output layer)
    its own tensor: the buffers are put back and the ties restored (to the first module's tensor,
    the one FSDP tracks).
    """
    kept = [
        (module, name, buf)
        for module in model.modules()
        for name, buf in module._buffers.items()
        if buf is not None and not buf.is_meta
    ]
    owners: dict[int, list] = {}
    for module in model.modules():
        for name, param in module._parameters.items():
            if param is not None:
                owners.setdefault(id(param), []).append((module, name))
    model.to_empty(device=device)
    for module, name, buf in kept:
        module._buffers[name] = buf.to(buffer_device or device)
    for (first, first_name), *others in owners.values():
        for module, name in others:
            module._parameters[name] = first._parameters[first_name]


def load_local_shards(model, base: str | os.PathLike) -> None:
    """Fill every parameter's local shard (and the persistent buffers) of ``model`` from ``base``.

    A tied parameter (one tensor under several names) is read under
    whichever name the files have.
    """
    import torch

    files = checkpoint_files(base)
    names: dict[int, list[str]] = {}
    tensors: dict[int, object] = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        names.setdefault(id(tensor), []).append(name)
        tensors[id(tensor)] = tensor
    params = {id(p) for p in model.parameters()}
    by_file: dict[Path, list[tuple[str, object]]] = {}
    for key, tensor in tensors.items():
        found = [n for n in names[key] if n in files]
        if not found and key not in params:
            continue  # a persistent buffer the checkpoint lacks keeps the value the model computed
        if not found:
            raise UserError(f"{base}: no weights for {' / '.join(names[key])}")
        by_file.setdefault(files[found[0]], []).append((found[0], tensor))
    with torch.no_grad():
        for path, entries in by_file.items():
            reader = _Rows(path) if path.name.endswith(".safetensors") else _BinRows(path)
            try:
                for name, tensor in entries:
                    _read_local(reader, name, tensor, base)
            finally:
                reader.close()


def _read_local(reader: _Rows | _BinRows, name: str, tensor, base) -> None:
    """Copy into ``tensor`` (a DTensor sharded on dim 0, or a plain tensor) its rows of ``name``."""
    shape = reader.shape(name)
    if shape != tuple(tensor.shape):
        raise UserError(f"{base}: {name} has shape {shape}, the model expects {tuple(tensor.shape)}")
    if not hasattr(tensor, "device_mesh") or not shape:
        tensor.copy_(reader.read(name))
        return
    mesh, placements = tensor.device_mesh, tensor.placements
    if mesh.ndim != 1 or len(placements) != 1 or not placements[0].is_shard(0):
        raise NotImplementedError(f"sharded loading expects FSDP2's Shard(0) on a 1-D mesh, got {placements} on {mesh}")
    local = tensor.to_local()
    start, end = _rows(shape[0], mesh.size(), mesh.get_local_rank())
    if local.shape[0] != end - start:
        raise AssertionError(f"{name}: the local shard has {local.shape[0]} rows, expected {end - start}")
    if end > start:
        local.copy_(reader.read(name, start, end))


def _size_to_int(size: str | int) -> int:
    if isinstance(size, int):
        return size
    from transformers.utils.hub import convert_file_size_to_int

    try:
        return convert_file_size_to_int(size)
    except ValueError:
        raise UserError(f"max_shard_size {size!r}: not a size such as '5GB' or '500MB'") from None


def plan_files(entries: list[tuple[str, int]], max_shard_size: str | int) -> list[list[str]]:
    """Split (name, bytes) in order into files of at most ``max_shard_size`` (a larger tensor gets one alone)."""
    limit = _size_to_int(max_shard_size)
    files, current, size = [], [], 0
    for name, nbytes in entries:
        if current and size + nbytes > limit:
            files.append(current)
            current, size = [], 0
        current.append(name)
        size += nbytes
    if current:
        files.append(current)
    return files


def save_gathered(model, out_dir: str | os.PathLike | None, max_shard_size: str | int, is_main: bool) -> None:
    """Write the full weights of a sharded ``model`` as (sharded) safetensors; every rank must call this.

    ``out_dir`` matters on rank 0 only. Tied parameters are written once, under their first name (the input
    embedding), as ``save_pretrained`` does.
    """
    import torch
    from safetensors.torch import save_file

    seen, entries = set(), []
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        entries.append((name, tensor))
    plan = plan_files([(n, t.numel() * t.element_size()) for n, t in entries], max_shard_size)
    by_name = dict(entries)
    total = len(plan)
    weight_map, total_size = {}, 0
    if is_main:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        for i, names in enumerate(plan, 1):
            chunk = {}
            for name in names:
                tensor = by_name[name]
                full = tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
                if is_main:
                    chunk[name] = full.detach().to("cpu").contiguous()
                del full
            if is_main:
                filename = SINGLE if total == 1 else f"model-{i:05d}-of-{total:05d}.safetensors"
                save_file(chunk, str(Path(out_dir) / filename), metadata={"format": "pt"})
                for name, t in chunk.items():
                    weight_map[name] = filename
                    total_size += t.numel() * t.element_size()
            chunk.clear()
    if is_main and total > 1:
        with open(Path(out_dir) / INDEX, "w", encoding="utf-8") as handle:
            json.dump({"metadata": {"total_size": total_size}, "weight_map": weight_map}, handle, indent=2)
            handle.write("\n")
