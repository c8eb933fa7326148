"""Nested, seeded subsets of monolingual text (continued pre-training, the paper's Figure 7).

Input: plain text (one document per line), JSONL rows with ``text``, or either gzipped (an mC4
shard of C4's ``multilingual/`` folder: ``c4-zh.tfrecord-00000-of-01024.json.gz``, JSON lines).
The subset of N documents is the first N of the same seeded permutation as the pairs' (``xllm.data.subset``), so larger
scales contain smaller ones.
Only line offsets are kept in memory, never the text.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path

from ..atomic import atomic_open
from ..data.subset import permutation, scale_count
from ..errors import UserError


def _offsets(path: Path) -> array:
    """Where each non-empty line starts: 8 bytes a document (a list of ints took ~36)."""
    offsets, position = array("q"), 0
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                offsets.append(position)
            position += len(line)
    return offsets


def is_json_lines(path: Path) -> bool:
    suffixes = path.suffixes[-2:] if path.suffix == ".gz" else path.suffixes[-1:]
    return bool(suffixes) and suffixes[0] in (".jsonl", ".json")


def _text(line: bytes, path: Path) -> str:
    line = line.decode("utf-8").rstrip("\n")
    if path.suffix == ".jsonl":
        try:
            return json.loads(line)["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{path}: a line is not a JSON object with 'text'") from None
    return line


def subset_text(path: str | Path, scale: str | int, seed: int, out: str | Path) -> int:
    """Write the first ``scale`` documents of the seeded permutation as JSONL ``{"text"}``."""
    path = Path(path)
    if path.suffix == ".gz":  # decompressed beside the output (seekable), then removed
        import gzip
        import shutil
        import zlib

        plain = Path(out).with_name(f".{Path(out).name}.{'jsonl' if is_json_lines(path) else 'txt'}")
        plain.parent.mkdir(parents=True, exist_ok=True)
        try:
            with gzip.open(path, "rb") as source, open(plain, "wb") as handle:
                shutil.copyfileobj(source, handle, 1 << 20)
            return subset_text(plain, scale, seed, out)
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise UserError(f"{path}: corrupt or truncated ({err})") from None
        finally:
            plain.unlink(missing_ok=True)
    offsets = _offsets(path)
    n = scale_count(scale, len(offsets), path, unit="documents")
    with open(path, "rb") as source, atomic_open(out) as handle:
        for index in permutation(len(offsets), seed)[:n]:
            source.seek(offsets[index])
            handle.write(json.dumps({"text": _text(source.readline(), path)}, ensure_ascii=False) + "\n")
    return n
