"""Nested, seeded subsets of a cleaned corpus: scale N is the first N pairs of one fixed permutation.

The permutation depends only on the corpus size and the seed, so the 20k subset contains the 10k
subset and scaling-law points differ only in the amount of data.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_open
from ..errors import UserError

WRITE_BATCH = 10_000


def permutation(n: int, seed: int):
    import numpy as np

    return np.random.default_rng(seed).permutation(n)


def scale_count(scale: str | int, size: int, source, unit: str = "pairs") -> int:
    """How many items a scale takes from ``size``: ``full`` is all; more than there are is an error."""
    if str(scale) == "full":
        return size
    try:
        n = int(scale)
    except ValueError:
        raise UserError(f"--scale {scale!r}: a number of {unit} or 'full'") from None
    if n < 1:
        raise UserError(f"--scale {n}: must be at least 1")
    if n > size:
        raise UserError(f"{source}: scale {n} is larger than the corpus ({size} {unit}); use a smaller scale or 'full'")
    return n


def subset_corpus(corpus: str | Path, scale: str | int, seed: int, out: str | Path) -> int:
    """Write JSONL lines {"src": en, "tgt": x} for the first ``scale`` pairs of the permutation."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(corpus)
    except FileNotFoundError:
        raise
    except Exception as err:  # pyarrow raises ArrowInvalid on a damaged file
        raise UserError(f"{corpus}: not a readable Parquet corpus ({err})") from None
    size = pf.metadata.num_rows
    n = scale_count(scale, size, corpus)
    table = pf.read(columns=["src", "tgt"])
    chosen = table.take(permutation(size, seed)[:n])
    with atomic_open(out) as handle:
        for start in range(0, n, WRITE_BATCH):
            part = chosen.slice(start, WRITE_BATCH)
            for en, x in zip(part.column("src").to_pylist(), part.column("tgt").to_pylist()):
                handle.write(json.dumps({"src": en, "tgt": x}, ensure_ascii=False) + "\n")
    return n
