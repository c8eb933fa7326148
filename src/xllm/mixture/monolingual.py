"""Nested, seeded subsets of monolingual text (continued pre-training, the paper's Figure 7).

Input: plain text (one document per line) or JSONL rows with ``text``. The subset of N documents
is the first N of one seeded permutation, so larger scales contain smaller ones, as for pairs.
Only line offsets are kept in memory, never the text.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ..atomic import atomic_open
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
    n = len(offsets) if str(scale) == "full" else int(scale)
    if n > len(offsets):
        raise UserError(f"{path}: scale {n} is larger than the {len(offsets)} documents there")
    order = list(range(len(offsets)))
    random.Random(seed).shuffle(order)
    with open(path, "rb") as source, atomic_open(out) as handle:
        for index in order[:n]:
            source.seek(offsets[index])
            handle.write(json.dumps({"text": _text(source.readline(), path)}, ensure_ascii=False) + "\n")
    return n
