"""Nested, seeded subsets of monolingual text (continued pre-training, the paper's Figure 7).

Input: plain text (one document per line) or JSONL rows with ``text``. The subset of N documents
is the first N of the same seeded permutation as the pairs' (``xllm.data.subset``), so larger
scales contain smaller ones.
Only line offsets are kept in memory, never the text.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_open
from ..data.subset import permutation, scale_count
from ..errors import UserError


def _offsets(path: Path) -> list[int]:
    offsets, position = [], 0
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                offsets.append(position)
            position += len(line)
    return offsets


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
    offsets = _offsets(path)
    n = scale_count(scale, len(offsets), path, unit="documents")
    with open(path, "rb") as source, atomic_open(out) as handle:
        for index in permutation(len(offsets), seed)[:n]:
            source.seek(offsets[index])
            handle.write(json.dumps({"text": _text(source.readline(), path)}, ensure_ascii=False) + "\n")
    return n
