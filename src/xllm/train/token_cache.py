"""Tokenized rows shared by every ``xllm tokenize`` job of a grid (``train.token_cache``).

The paper's grid holds ~31M mixture rows but about a third as many distinct ones: a smaller
scale's pairs are the first of a larger scale's, and the multilingual, budget and ablation
mixtures hold the single-language mixtures' rows again. Tokenizing each mixture whole took hours
of CPU at the paper's sizes. Rows are keyed by their text (and where the prompt ends), in a
directory of one tokenizer (the sha256 of its files), prompt format, maximum length and library
versions, so a row found here is exactly what tokenizing it would give.

A job only adds segments of its own, each renamed into place once written (every
``SEGMENT_ROWS`` new rows), so parallel jobs never write the same file and a killed job keeps
what it finished. A segment: ``keys`` (two uint64 per row: the xxh3-128 of the row's key text),
``rows`` (examples so far, per row), ``flags`` (1 truncated, 2 dropped), ``ends`` (tokens so
far, per example), ``ids`` and ``trained`` (per token), and ``meta.json`` last.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from array import array
from pathlib import Path

from ..atomic import file_sha256, read_json, write_json
from .examples import RowTokens

FORMAT = 1
OPEN_SEGMENTS = 64
SEGMENT_ROWS = 50_000  # new rows a job holds before writing them (~15M tokens, ~45 MB)
TOKENIZER_FILES = ("special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt")


def _tokenizer_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in Path(directory).iterdir()
        if p.is_file() and (p.name.startswith("tokenizer") or p.name in TOKENIZER_FILES or p.suffix == ".model")
    )


def cache_key(tokenizer_dir: str | Path, style: str, max_len: int) -> str:
    """The directory name of a tokenizer (its files' content, not its path), prompt format and
    maximum length: a model trained from the base keeps the base's tokens when its tokenizer files
    are the same."""
    import tokenizers
    import transformers

    digest = hashlib.sha256()
    for path in _tokenizer_files(Path(tokenizer_dir)):
        digest.update(f"{path.name}\0{file_sha256(path)}\0".encode())
    settings = {
        "format": FORMAT,
        "style": style,
        "max_len": max_len,
        "tokenizers": tokenizers.__version__,
        "transformers": transformers.__version__,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def _key_text(text: str, prompt: str | None) -> bytes:
    return (f"T\0{text}" if prompt is None else f"I{len(prompt)}\0{text}").encode()


def row_keys(texts: list[str], prompts: list[str | None]):
    import numpy as np
    import xxhash

    digests = b"".join(xxhash.xxh3_128_digest(_key_text(t, p)) for t, p in zip(texts, prompts, strict=True))
    return np.frombuffer(digests, dtype="<u8").reshape(-1, 2)


class _Segment:
    """A written segment, read with ``pread``: a mapped file would count every page a job touched
    in its memory (a mixture's rows lie all over the cache: 3-5 GB of pages), a read does not."""

    def __init__(self, path: Path):
        meta = read_json(path / "meta.json", "a token cache segment")
        self.n_rows = meta["rows"]
        self.path = path
        self._dtype = meta["dtype"]
        self._files: dict[str, int] = {}

    def _fd(self, name: str) -> int:
        fd = self._files.get(name)
        if fd is None:
            fd = self._files[name] = os.open(self.path / f"{name}.bin", os.O_RDONLY)
        return fd

    def _read(self, name: str, dtype: str, start: int, count: int):
        import numpy as np

        size = np.dtype(dtype).itemsize
        return np.frombuffer(os.pread(self._fd(name), count * size, start * size), dtype=dtype)

    def keys(self):
        import numpy as np

        return np.fromfile(self.path / "keys.bin", dtype="<u8").reshape(-1, 2)

    def row(self, r: int) -> RowTokens:
        bounds = self._read("rows", "int64", r - 1, 2) if r else [0, *self._read("rows", "int64", 0, 1)]
        first, last = int(bounds[0]), int(bounds[1])
        examples = []
        if last > first:
            ends = (
                self._read("ends", "int64", first - 1, last - first + 1)
                if first
                else [0, *self._read("ends", "int64", 0, last)]
            )
            start, end = int(ends[0]), int(ends[-1])
            ids = self._read("ids", self._dtype, start, end - start).tolist()
            trained = os.pread(self._fd("trained"), end - start, start)
            for a, b in zip(ends[:-1], ends[1:]):
                a, b = int(a) - start, int(b) - start
                examples.append((ids[a:b], trained[a:b]))
        flags = os.pread(self._fd("flags"), 1, r)[0]
        return RowTokens(examples, bool(flags & 1), bool(flags & 2))

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()


class TokenCache:
    """The cache directory of one tokenizer, prompt format and maximum length."""

    def __init__(self, root: str | Path, tokenizer_dir: str | Path, style: str, max_len: int, vocab_size: int):
        import numpy as np

        self.dir = Path(root) / cache_key(tokenizer_dir, style, max_len)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dtype = "uint16" if vocab_size <= 1 << 16 else "int32"
        self.segments = [_Segment(p) for p in sorted(self.dir.glob("seg-*")) if (p / "meta.json").is_file()]
        self.segments = [s for s in self.segments if s.n_rows]
        sizes = [s.n_rows for s in self.segments]
        hi, lo = np.empty(sum(sizes), "<u8"), np.empty(sum(sizes), "<u8")
        at = 0
        for segment, n in zip(self.segments, sizes):
            keys = segment.keys()
            hi[at : at + n], lo[at : at + n] = keys[:, 0], keys[:, 1]
            at += n
        order = np.argsort(hi, kind="stable")
        self._hi, self._lo = hi[order], lo[order]
        del hi, lo
        self._segment = np.repeat(np.arange(len(sizes), dtype="int32"), sizes)[order]
        starts = np.cumsum([0, *sizes])
        self._row = (np.arange(len(order), dtype="int64") - np.repeat(starts[:-1], sizes))[order]
        self.hits = self.misses = 0
        self._open: dict[int, None] = {}  # segments with open files, least recently used first

    @property
    def rows(self) -> int:
        return len(self._hi)

    def lookup(self, texts: list[str], prompts: list[str | None]) -> list[RowTokens | None]:
        import numpy as np

        if not texts:
            return []
        keys = row_keys(texts, prompts)
        if not len(self._hi):
            self.misses += len(texts)
            return [None] * len(texts)
        pos = np.minimum(np.searchsorted(self._hi, keys[:, 0]), len(self._hi) - 1)
        found = (self._hi[pos] == keys[:, 0]) & (self._lo[pos] == keys[:, 1])
        out = [
            self._row_of(int(self._segment[p]), int(self._row[p])) if hit else None
            for p, hit in zip(pos.tolist(), found.tolist())
        ]
        self.hits += int(found.sum())
        self.misses += len(texts) - int(found.sum())
        return out

    def _row_of(self, index: int, row: int) -> RowTokens:
        """A row of segment ``index``, keeping at most OPEN_SEGMENTS segments' files open (the
        cache of the paper's grid has hundreds of segments, of five files each)."""
        self._open[index] = self._open.pop(index, None)
        if len(self._open) > OPEN_SEGMENTS:
            self.segments[next(iter(self._open))].close()
            del self._open[next(iter(self._open))]
        return self.segments[index].row(row)

    def writer(self) -> _SegmentWriter:
        return _SegmentWriter(self.dir, self.dtype)


class _SegmentWriter:
    """New rows, written as a segment every ``SEGMENT_ROWS`` rows and at ``close``."""

    def __init__(self, directory: Path, dtype: str):
        self.dir, self.dtype = directory, dtype
        self.written = 0
        self._reset()

    def _reset(self) -> None:
        self._keys: list[bytes] = []
        self._rows, self._flags, self._ends = array("q"), bytearray(), array("q")
        self._ids, self._trained = array("H" if self.dtype == "uint16" else "i"), bytearray()

    def add(self, text: str, prompt: str | None, row: RowTokens) -> None:
        import xxhash

        self._keys.append(xxhash.xxh3_128_digest(_key_text(text, prompt)))
        for ids, trained in row.examples:
            self._ids.extend(ids)
            self._trained += trained
            self._ends.append(len(self._ids))
        self._rows.append(len(self._ends))
        self._flags.append(int(row.truncated) | 2 * int(row.dropped))
        if len(self._rows) >= SEGMENT_ROWS:
            self._write()

    def _write(self) -> None:
        if not len(self._rows):
            return
        name = f"seg-{uuid.uuid4().hex}"
        tmp = self.dir / f".{name}.tmp"
        tmp.mkdir()
        for part, data in (
            ("keys", b"".join(self._keys)),
            ("rows", self._rows),
            ("flags", self._flags),
            ("ends", self._ends),
            ("ids", self._ids),
            ("trained", self._trained),
        ):
            with open(tmp / f"{part}.bin", "wb") as handle:
                handle.write(data)
        counts = {"rows": len(self._rows), "examples": len(self._ends), "tokens": len(self._ids)}
        write_json(tmp / "meta.json", {"format": FORMAT, "dtype": self.dtype, **counts})
        os.replace(tmp, self.dir / name)
        self.written += len(self._rows)
        self._reset()

    def close(self) -> None:
        self._write()
