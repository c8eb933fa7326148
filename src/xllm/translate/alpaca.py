"""Translate Alpaca items field by field, in contiguous shards, checkpointing as it goes.

``instruction``, ``input`` and ``output`` are translated separately (empty stays empty), each cut
into sentences (``segment``) with code, URLs, numbers and placeholders protected (``protect``).
Identical units are translated once. A shard appends finished items to ``<out>.partial.jsonl``
every ``chunk`` items; a killed job resumes from there, and only the finished shard is written,
atomically, under its real name.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from ..atomic import write_json
from ..errors import UserError
from .protect import pieces, protect
from .segment import join_parts, split_field

FIELDS = ("instruction", "input", "output")


def shard_range(n_items: int, shard: int, num_shards: int) -> tuple[int, int]:
    """Contiguous slice [start, end) of shard ``shard`` of ``num_shards`` (sizes differ by <= 1)."""
    if num_shards < 1:
        raise UserError(f"--num-shards {num_shards}: must be >= 1")
    if not 0 <= shard < num_shards:
        raise UserError(f"--shard {shard}: must be in 0..{num_shards - 1}")
    return shard * n_items // num_shards, (shard + 1) * n_items // num_shards


def read_items(path: str | os.PathLike) -> list[dict]:
    """Alpaca items with ids; JSON list or JSONL."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            items = json.loads(text)
        else:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not a JSON list nor JSONL ({err.msg})") from err
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise UserError(f"{path}: item {n} has no 'id'")
        for field in FIELDS:
            if not isinstance(item.get(field, ""), str):
                raise UserError(f"{path}: item {item['id']}: {field!r} is not a string")
    return items


class UnitTranslator:
    """Translate the fields of many items with one backend call per round (so batches can sort)."""

    def __init__(self, backend, split_chars: int = 200):
        self.backend = backend
        self.split_chars = split_chars
        self.stats = {"units": 0, "unique_units": 0, "marker_fallbacks": 0}

    def count_sources(self, items: Iterable[dict]) -> int:
        """How many texts one ``translate_items(items)`` call sends to the backend (for progress)."""
        units = {
            p for item in items for f in FIELDS for flag, p in split_field(item.get(f, ""), self.split_chars) if flag
        }
        return len({protect(u).text for u in units})

    def translate_items(self, items: list[dict], on_batch=None) -> list[dict]:
        layouts = [{f: split_field(item.get(f, ""), self.split_chars) for f in FIELDS} for item in items]
        units = {piece for layout in layouts for parts in layout.values() for flag, piece in parts if flag}
        self.stats["units"] += sum(flag for layout in layouts for parts in layout.values() for flag, _ in parts)
        self.stats["unique_units"] += len(units)
        translations = self.translate_units(sorted(units), on_batch)
        out = []
        for item, layout in zip(items, layouts):
            new = dict(item)
            for field in FIELDS:
                if field in item:
                    new[field] = join_parts(layout[field], translations)
            out.append(new)
        return out

    def translate_units(self, units: list[str], on_batch=None) -> dict[str, str]:
        """Unit -> translation, with protected spans restored (piecewise where markers got lost)."""
        protected = {u: protect(u) for u in units}
        sources = sorted({p.text for p in protected.values()})
        result = dict(zip(sources, self.backend.translate(sources, on_batch)))
        out, retry = {}, {}
        for unit, prot in protected.items():
            restored = prot.restore(result[prot.text])
            if restored is None:
                retry[unit] = pieces(unit)
            else:
                out[unit] = restored
        if retry:
            self.stats["marker_fallbacks"] += len(retry)
            texts = sorted({p for parts in retry.values() for flag, p in parts if flag})
            done = dict(zip(texts, self.backend.translate(texts)))
            for unit, parts in retry.items():
                out[unit] = _join_pieces(parts, done)
        return out


def _join_pieces(parts: list[tuple[bool, str]], done: dict[str, str]) -> str:
    """Join translated pieces and the spans between them, keeping the source's spacing at the seams."""
    out = []
    for flag, piece in parts:
        if not flag:
            out.append(piece)
            continue
        lead = piece[: len(piece) - len(piece.lstrip())]
        trail = piece[len(piece.rstrip()) :]
        out.append(lead + done[piece].strip() + trail)
    return "".join(out)


def _settings_key(settings: dict, ids: list) -> str:
    blob = json.dumps({"settings": settings, "ids": ids}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def partial_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial.jsonl")


def load_partial(path: Path, key: str, ids: list) -> list[dict]:
    """Finished items from a previous run with the same settings (a torn last line is dropped)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        return []
    if header.get("key") != key:
        print(f"{path}: written with other settings or inputs; starting over", file=sys.stderr)
        return []
    done = []
    for line in lines[1:-1]:  # the last element is "" after a complete final line, else torn
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            break
        if len(done) >= len(ids) or item.get("id") != ids[len(done)]:
            break
        done.append(item)
    return done


def translate_shard(
    items: list[dict],
    backend,
    out: str | os.PathLike,
    chunk: int = 256,
    split_chars: int = 200,
    progress: bool = True,
) -> dict:
    """Translate ``items`` into ``out`` (JSON list), resuming from the partial file; returns stats."""
    from tqdm import tqdm

    out = Path(out)
    ids = [item["id"] for item in items]
    key = _settings_key(backend.settings | {"split_chars": split_chars}, ids)
    partial = partial_path(out)
    done = load_partial(partial, key, ids)
    translator = UnitTranslator(backend, split_chars)
    todo = items[len(done) :]
    if done:
        print(f"resuming: {len(done)} of {len(items)} items already translated", file=sys.stderr)
    partial.parent.mkdir(parents=True, exist_ok=True)
    # Rewrite the partial file with only its good lines, so appends follow a complete line.
    tmp = partial.with_name(partial.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"key": key, "settings": backend.settings}, default=str) + "\n")
        handle.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in done)
    os.replace(tmp, partial)
    total = sum(translator.count_sources(todo[i : i + chunk]) for i in range(0, len(todo), chunk))
    bar = tqdm(
        total=total,
        unit="sent",
        desc=out.name,
        file=sys.stderr,
        disable=not progress,
        mininterval=0.1 if sys.stderr.isatty() else 10,
    )  # a log file gets a line every 10 s
    with open(partial, "a", encoding="utf-8") as handle:
        for start in range(0, len(todo), chunk):
            batch = translator.translate_items(todo[start : start + chunk], on_batch=bar.update)
            handle.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in batch)
            handle.flush()
            os.fsync(handle.fileno())
            done += batch
    bar.close()
    write_json(out, done)
    partial.unlink()
    return translator.stats | {"items": len(done), "resumed_items": len(items) - len(todo)}
