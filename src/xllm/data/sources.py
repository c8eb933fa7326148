"""The pinned sources file: every raw file's URL, checksum, corpus, languages and format.

Read by the Snakefile at parse time, so it imports nothing but yaml. Layout::

    files:
      WikiMatrix.ar-en.tsv.gz:
        url: https://...
        sha256: null          # null: trust on first use, recorded in the lock file
        corpus: wikimatrix
        langs: [ar, en]       # column / member order of the raw file
        format: wikimatrix-tsv
        size: null            # bytes, where known ahead
        split: dev            # any other key lands in Source.extra
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import UserError

CORPORA = ("wikimatrix", "news-commentary", "alpaca", "flores", "xquad", "mlqa", "spm", "mc4")
FORMATS = (
    "wikimatrix-tsv",  # margin <TAB> sentence <TAB> sentence, gzipped or not
    "tsv",  # sentence <TAB> sentence (OPUS/statmt TSV), gzipped or not
    "moses-zip",  # OPUS moses zip: one file per language, line-aligned
    "tmx",  # OPUS TMX (XML), gzipped or not
    "alpaca-json",
    "flores-plain",  # one sentence per line, one file per language and split
    "flores-tarball",  # flores101_dataset.tar.gz: {dev,devtest}/<flores code>.<split>
    "squad-json",  # XQuAD / MLQA single file in SQuAD v1.1 format
    "mlqa-zip",  # MLQA_V1.zip: MLQA_V1/<split>/<split>-context-<c>-question-<q>.json
    "sentencepiece",  # a binary model file, used as is
    "c4-json-gz",  # C4 / mC4 shard: gzipped JSON lines with "text" (monolingual, for cpt)
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KNOWN = {"url", "sha256", "corpus", "langs", "format", "size"}


@dataclass(frozen=True)
class Source:
    id: str  # the file name, also its name under results/downloads/ and in a mirror
    url: str
    sha256: str | None
    corpus: str
    langs: list = field(default_factory=list)
    format: str = ""
    size: int | None = None
    extra: dict = field(default_factory=dict)


def load_sources(path: str | Path) -> dict[str, Source]:
    """Parse and check a sources file; any mistake is a one-line UserError naming file and key."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such sources file") from None
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
        raise UserError(f"{path}: needs a top-level 'files:' mapping of file name -> source")
    sources = {}
    for name, entry in doc["files"].items():
        where = f"{path}: files.{name}"
        if not isinstance(entry, dict):
            raise UserError(f"{where}: must be a mapping with url, sha256, corpus, langs, format")
        if "/" in str(name) or str(name).startswith("."):
            raise UserError(f"{where}: a file name, not a path")
        for key in ("url", "corpus", "langs", "format"):
            if key not in entry:
                raise UserError(f"{where}: missing '{key}'")
        sha = entry.get("sha256")
        if sha is not None and not _SHA256.match(str(sha)):
            raise UserError(f"{where}.sha256: {sha!r} is not 64 lowercase hex digits (or null)")
        if entry["corpus"] not in CORPORA:
            raise UserError(f"{where}.corpus: {entry['corpus']!r} is not one of {', '.join(CORPORA)}")
        if entry["format"] not in FORMATS:
            raise UserError(f"{where}.format: {entry['format']!r} is not one of {', '.join(FORMATS)}")
        langs = entry["langs"]
        if not isinstance(langs, list) or not langs or not all(isinstance(x, str) for x in langs):
            raise UserError(f"{where}.langs: must be a non-empty list of language codes")
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise UserError(f"{where}.size: {size!r} is not a byte count (or null)")
        sources[str(name)] = Source(
            id=str(name),
            url=str(entry["url"]),
            sha256=sha,
            corpus=entry["corpus"],
            langs=list(langs),
            format=entry["format"],
            size=size,
            extra={k: v for k, v in entry.items() if k not in _KNOWN},
        )
    return sources


def source_for(sources: dict[str, Source], path: str | Path, sources_path: str | Path = "sources file") -> Source:
    """The entry describing an input file, found by its base name."""
    name = Path(path).name
    if name not in sources:
        raise UserError(f"{path}: {name!r} is not listed in {sources_path}")
    return sources[name]
