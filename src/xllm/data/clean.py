"""Clean and merge one language's parallel corpora into a Parquet file, streaming.

Every pair is normalized (NFC, control characters replaced, outer whitespace stripped) and goes
through the filters in ``FILTERS`` order; the manifest counts what remains after each, per corpus.
Memory is one write batch plus 64-bit hashes of the kept pairs (for exact-duplicate removal), so a
corpus of any size streams through in well under 1 GB.

Length ratio: characters per sentence differ by script (a Chinese sentence is ~3x shorter than its
English), so a pair is an outlier when its ratio len(x)/len(en) is more than ``max_ratio`` times
away from the corpus median ratio, estimated on the first ``calibration`` pairs.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

from ..atomic import atomic_open, write_json
from ..errors import UserError
from ..provenance import provenance
from .download import sha256_file
from .readers import read_pairs
from .sources import load_sources, source_for

FILTERS = ("empty", "margin", "too_long", "ratio", "duplicate", "contamination")
PARALLEL = ("wikimatrix-tsv", "tsv", "moses-zip", "tmx")
BATCH = 50_000
_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\ufeff]+")
_SPACES = re.compile(r" {2,}")


@dataclass(frozen=True)
class Settings:
    min_margin: float = 1.04  # WikiMatrix margin threshold (the WikiMatrix paper's)
    max_chars: int = 1000  # longer sentences (either side) are dropped
    max_ratio: float = 3.0  # allowed factor away from the median length ratio
    calibration: int = 10_000  # pairs used to estimate the median ratio


def normalize(text: str) -> str:
    """NFC, control characters (tabs and newlines too) to one space, outer whitespace stripped."""
    text = unicodedata.normalize("NFC", text)
    if not text.isprintable():  # fast path: most lines have nothing to replace
        text = _SPACES.sub(" ", _CTRL.sub(" ", text))
    return text.strip()


def load_exclude(paths: Iterable[str | Path]) -> set[str]:
    """Normalized sentences of the test sets (FLORES dev/devtest) no training pair may contain."""
    banned = set()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            banned.update(s for s in (normalize(line) for line in handle) if s)
    return banned


def _counter() -> dict:
    return {"files": [], "read": 0, "malformed": 0, "after": {f: 0 for f in FILTERS}}


def _stage1(inputs, lang, settings, counts) -> Iterator[tuple[str, str, str]]:
    """Parse, normalize, and drop empty, low-margin and over-long pairs; count each step."""
    max_chars, min_margin = settings.max_chars, settings.min_margin
    for path, src in inputs:
        c = counts.setdefault(src.corpus, _counter())
        c["files"].append(src.id)
        after = c["after"]
        corpus = src.corpus
        for item in read_pairs(path, src, lang):
            c["read"] += 1
            if item is None:
                c["malformed"] += 1
                continue
            en, x, margin = item
            en, x = normalize(en), normalize(x)
            if not en or not x:
                continue
            after["empty"] += 1
            if margin is not None and margin < min_margin:
                continue
            after["margin"] += 1
            if len(en) > max_chars or len(x) > max_chars:
                continue
            after["too_long"] += 1
            yield corpus, en, x


def _ratio_filter(pairs, settings, counts, info) -> Iterator[tuple[str, str, str]]:
    """Drop pairs whose length ratio is more than max_ratio times away from the median ratio."""
    pairs = iter(pairs)
    head = []
    for item in pairs:
        head.append(item)
        if len(head) >= settings.calibration:
            break
    if not head:
        return
    median = statistics.median(len(x) / len(en) for _, en, x in head)
    info["median_length_ratio"] = round(median, 4)
    lo, hi = median / settings.max_ratio, median * settings.max_ratio

    def rest():
        yield from head
        yield from pairs

    for corpus, en, x in rest():
        ratio = len(x) / len(en)
        if lo <= ratio <= hi:
            counts[corpus]["after"]["ratio"] += 1
            yield corpus, en, x


def clean_pairs(inputs, lang: str, settings: Settings, banned: set[str], counts: dict, info: dict):
    """The whole filter chain as a generator of kept (corpus, en, x)."""
    import xxhash

    seen: set[int] = set()
    hash64 = xxhash.xxh3_64_intdigest
    for corpus, en, x in _ratio_filter(_stage1(inputs, lang, settings, counts), settings, counts, info):
        after = counts[corpus]["after"]
        key = hash64(f"{en}\t{x}".encode("utf-8"))
        if key in seen:
            continue
        seen.add(key)
        after["duplicate"] += 1
        if en in banned or x in banned:
            continue
        after["contamination"] += 1
        yield corpus, en, x


def prepare_corpus(
    lang: str,
    inputs: list[str | Path],
    sources: str | Path,
    exclude: list[str | Path],
    out: str | Path,
    manifest: str | Path,
    settings: Settings = Settings(),
) -> dict:
    """Write ``out`` (Parquet: src = English, tgt = ``lang``, source = corpus) and its manifest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = load_sources(sources)
    entries = []
    for path in inputs:
        src = source_for(table, path, sources)
        if src.format not in PARALLEL:
            raise UserError(f"{path}: format {src.format!r} is not a parallel corpus ({', '.join(PARALLEL)})")
        if lang not in src.langs:
            raise UserError(f"{path}: a corpus of {src.langs}, not of {lang!r}")
        entries.append((Path(path), src))
    if not entries:
        raise UserError(f"no input corpus for {lang!r}")
    banned = load_exclude(exclude)

    counts: dict = {}
    info: dict = {}
    schema = pa.schema([("src", pa.string()), ("tgt", pa.string()), ("source", pa.string())])
    kept = 0
    with atomic_open(out, "wb") as handle:
        with pq.ParquetWriter(handle, schema, compression="zstd") as writer:
            cols: tuple[list, list, list] = ([], [], [])
            for corpus, en, x in clean_pairs(entries, lang, settings, banned, counts, info):
                cols[0].append(en)
                cols[1].append(x)
                cols[2].append(corpus)
                if len(cols[0]) >= BATCH:
                    writer.write_table(pa.table(list(cols), schema=schema))
                    kept += len(cols[0])
                    cols = ([], [], [])
            if cols[0]:
                writer.write_table(pa.table(list(cols), schema=schema))
                kept += len(cols[0])

    for c in counts.values():
        c["kept"] = c["after"]["contamination"]
    record = {
        "lang": lang,
        "output": str(out),
        "pairs": kept,
        "sha256": sha256_file(out),
        "columns": {"src": "en", "tgt": lang, "source": "corpus"},
        "filters": list(FILTERS),
        "settings": asdict(settings),
        **info,
        "contamination_sentences": len(banned),
        "corpora": counts,
        "inputs": [{"file": str(p), "corpus": s.corpus, "format": s.format, "sha256": sha256_file(p)} for p, s in entries],
        "exclude": [{"file": str(p), "sha256": sha256_file(p)} for p in exclude],
        "provenance": provenance(config=asdict(settings)),
    }
    write_json(manifest, record)
    return record
