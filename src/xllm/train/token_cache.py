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
    def __init__(self, path: Path):
        import numpy as np

        meta = read_json(path / "meta.json", "a token cache segment")
        n_rows, n_examples, n_tokens = meta["rows"], meta["examples"], meta["tokens"]

        def load(name, dtype, shape):
            count = int(np.prod(shape))
            if not count:
                return np.zeros(shape, dtype)
            return np.memmap(path / f"{name}.bin", dtype=dtype, mode="r", shape=shape)

        self.keys = load("keys", "<u8", (n_rows, 2))
        self.rows = load("rows", "int64", (n_rows,))
        self.flags = load("flags", "uint8", (n_rows,))
        self.ends = load("ends", "int64", (n_examples,))
        self.ids = load("ids", meta["dtype"], (n_tokens,))
        self.trained = load("trained", "uint8", (n_tokens,))

    def row(self, r: int) -> RowTokens:
        first = int(self.rows[r - 1]) if r else 0
        examples = []
        for e in range(first, int(self.rows[r])):
            start, end = (int(self.ends[e - 1]) if e else 0), int(self.ends[e])
            examples.append((self.ids[start:end].tolist(), self.trained[start:end].tobytes()))
        flags = int(self.flags[r])
        return RowTokens(examples, bool(flags & 1), bool(flags & 2))


class TokenCache:
    """The cache directory of one tokenizer, prompt format and maximum length."""

    def __init__(self, root: str | Path, tokenizer_dir: str | Path, style: str, max_len: int, vocab_size: int):
        import numpy as np

        self.dir = Path(root) / cache_key(tokenizer_dir, style, max_len)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dtype = "uint16" if vocab_size <= 1 << 16 else "int32"
        self.segments = [_Segment(p) for p in sorted(self.dir.glob("seg-*")) if (p / "meta.json").is_file()]
        keys = [s.keys for s in self.segments]
        hi = np.concatenate([k[:, 0] for k in keys]) if keys else np.zeros(0, "<u8")
        order = np.argsort(hi, kind="stable")
        self._hi = hi[order]
        self._lo = (np.concatenate([k[:, 1] for k in keys]) if keys else np.zeros(0, "<u8"))[order]
        self._segment = np.repeat(np.arange(len(keys), dtype="int32"), [len(k) for k in keys])[order]
        starts = np.cumsum([0] + [len(k) for k in keys])
        self._row = (np.arange(len(hi), dtype="int64") - starts[:-1].repeat([len(k) for k in keys]))[order]
        self.hits = self.misses = 0

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
            self.segments[self._segment[p]].row(int(self._row[p])) if hit else None
            for p, hit in zip(pos.tolist(), found.tolist())
        ]
        self.hits += int(found.sum())
        self.misses += len(texts) - int(found.sum())
        return out

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
