"""Stream (english, other, margin) triples out of a raw parallel-corpus file, one pair at a time.

The column or member order of the raw file is the ``langs`` order of its sources entry, so English
comes out first whatever the file's order. A line with the wrong number of fields is yielded as
``None`` (counted as malformed by the caller, never a crash on one bad line of a 1 GB file).
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

from ..errors import UserError
from .sources import Source

Pair = tuple  # (en, x, margin | None)


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="\n")
    return open(path, encoding="utf-8", errors="replace", newline="\n")


def _order(src: Source, lang: str, path: Path) -> bool:
    """True when English is the first language of the file."""
    langs = src.langs
    if len(langs) != 2 or "en" not in langs or lang not in langs:
        raise UserError(f"{path}: sources entry langs {langs} is not the pair [en, {lang}] in file order")
    return langs[0] == "en"


def read_wikimatrix(path: Path, en_first: bool) -> Iterator[Pair | None]:
    with _open_text(path) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                yield None
                continue
            try:
                margin = float(fields[0])
            except ValueError:
                yield None
                continue
            yield (fields[1], fields[2], margin) if en_first else (fields[2], fields[1], margin)


def read_tsv(path: Path, en_first: bool) -> Iterator[Pair | None]:
    with _open_text(path) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2:
                yield None
                continue
            yield (fields[0], fields[1], None) if en_first else (fields[1], fields[0], None)


def read_moses_zip(path: Path, src: Source, lang: str) -> Iterator[Pair]:
    """OPUS moses zip: ``<Corpus>.<l1>-<l2>.<l1>`` and ``...<l2>``, line-aligned."""
    with zipfile.ZipFile(path) as zf:
        members = {}
        for code in ("en", lang):
            found = [m for m in zf.namelist() if m.endswith(f".{code}") and not m.endswith("/")]
            if len(found) != 1:
                raise UserError(f"{path}: expected one member ending in .{code}, found {found or 'none'}")
            members[code] = found[0]
        with zf.open(members["en"]) as en_raw, zf.open(members[lang]) as x_raw:
            en_lines = io.TextIOWrapper(en_raw, encoding="utf-8", errors="replace", newline="\n")
            x_lines = io.TextIOWrapper(x_raw, encoding="utf-8", errors="replace", newline="\n")
            n = 0
            for en, x in zip(en_lines, x_lines):
                n += 1
                yield en.rstrip("\n"), x.rstrip("\n"), None
            if en_lines.readline() or x_lines.readline():
                raise UserError(f"{path}: {members['en']} and {members[lang]} differ in length (after line {n})")


def read_tmx(path: Path, lang: str) -> Iterator[Pair | None]:
    """OPUS TMX: <tu> with one <tuv xml:lang=..><seg> per language; streamed with iterparse."""
    import xml.etree.ElementTree as ET

    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    handle = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    with handle:
        segs = {}
        for event, elem in ET.iterparse(handle, events=("end",)):
            if elem.tag == "tuv":
                code = (elem.get(xml_lang) or elem.get("lang") or "").split("-")[0].split("_")[0].lower()
                seg = elem.find("seg")
                segs[code] = "".join(seg.itertext()) if seg is not None else ""
            elif elem.tag == "tu":
                yield (segs["en"], segs[lang], None) if "en" in segs and lang in segs else None
                segs = {}
                elem.clear()


def read_pairs(path: str | Path, src: Source, lang: str) -> Iterator[Pair | None]:
    """Dispatch on the sources entry's format; damaged compressed input is a one-line error."""
    path = Path(path)
    en_first = _order(src, lang, path)
    if src.format == "wikimatrix-tsv":
        reader = read_wikimatrix(path, en_first)
    elif src.format == "tsv":
        reader = read_tsv(path, en_first)
    elif src.format == "moses-zip":
        reader = read_moses_zip(path, src, lang)
    elif src.format == "tmx":
        reader = read_tmx(path, lang)
    else:
        raise UserError(f"{path}: format {src.format!r} is not a parallel corpus")
    try:
        yield from reader
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as err:
        raise UserError(f"{path}: corrupt or truncated ({err})") from None
    except SyntaxError as err:  # xml.etree.ElementTree.ParseError
        raise UserError(f"{path}: not valid TMX ({err})") from None
