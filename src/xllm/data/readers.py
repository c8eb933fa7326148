"""Stream a raw parallel-corpus file as Arrow batches of (english, other, margin).

The column or member order of the raw file is the ``langs`` order of its sources entry, so English
comes out first whatever the file's order. TSV files (WikiMatrix, OPUS/statmt TSV) are parsed by
Arrow's multi-threaded CSV reader in blocks; Moses zips and TMX are read line by line into batches.
A line with the wrong number of fields, or a margin that is not a number, is counted as malformed,
never a crash on one bad line of a 1 GB file. Bytes that are not UTF-8 become U+FFFD.
"""

from __future__ import annotations

import atexit
import gzip
import io
import itertools
import queue
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .sources import Source

BATCH_LINES = 65_536
BLOCK_BYTES = 8 << 20


@dataclass
class Batch:
    en: object  # pyarrow.StringArray
    x: object  # pyarrow.StringArray
    margin: object | None  # pyarrow.DoubleArray, or None where the format has no margin
    malformed: int = 0


def _text(arr):
    import pyarrow as pa

    try:
        return arr.cast(pa.string())
    except pa.ArrowInvalid:  # invalid UTF-8 somewhere in the block
        return pa.array([b.decode("utf-8", "replace") for b in arr.to_pylist()], pa.string())


def _en_first(src: Source, lang: str, path: Path) -> bool:
    langs = src.langs
    if len(langs) != 2 or "en" not in langs or lang not in langs:
        raise UserError(f"{path}: sources entry langs {langs} is not the pair [en, {lang}] in file order")
    return langs[0] == "en"


def read_tsv(path: Path, en_first: bool, with_margin: bool) -> Iterator[Batch]:
    names = (["margin"] if with_margin else []) + (["en", "x"] if en_first else ["x", "en"])
    yield from _tsv_blocks(_chunks(_raw_bytes(path)), names, with_margin, [0])


def _raw_bytes(path: Path) -> Iterator[bytes]:
    """The file's bytes, gunzipped by zlib directly (a third less CPU than the gzip module; it
    releases the GIL). Multi-member gzip files are read through; a truncated one is an error."""
    with open(path, "rb") as handle:
        if not path.name.endswith(".gz"):
            while data := handle.read(BLOCK_BYTES):
                yield data
            return
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        started = False
        while data := handle.read(1 << 20):
            started = True
            while data:
                out = inflater.decompress(data)
                if out:
                    yield out
                if inflater.eof:  # end of a member: another may follow
                    data = inflater.unused_data
                    if data:
                        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
                else:
                    data = b""
        if started and not inflater.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")


def _chunks(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Blocks of whole lines (about BLOCK_BYTES each) out of a stream of byte pieces."""
    tail, buffered, size = b"", [], 0
    for piece in pieces:
        buffered.append(piece)
        size += len(piece)
        if size < BLOCK_BYTES:
            continue
        data = tail + b"".join(buffered)
        buffered, size = [], 0
        cut = data.rfind(b"\n")
        if cut < 0:  # a line longer than a block: keep reading
            tail = data
            continue
        tail = data[cut + 1 :]
        yield data[: cut + 1]
    data = tail + b"".join(buffered)
    if data:
        yield data


def _tsv_blocks(chunks, names, with_margin, bad) -> Iterator[Batch]:
    """Parse each block with one self-contained Arrow call: no long-lived Arrow reader holds a
    Python file (one still open at interpreter exit aborts the process)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    def skip(row):
        bad[0] += 1
        return "skip"

    parse = pcsv.ParseOptions(
        delimiter="\t",
        quote_char=False,
        double_quote=False,
        escape_char=False,
        newlines_in_values=False,
        invalid_row_handler=skip,
    )
    convert = pcsv.ConvertOptions(column_types={n: pa.binary() for n in names})
    for chunk in chunks:
        options = pcsv.ReadOptions(column_names=names, block_size=len(chunk) + 1, use_threads=False)
        table = pcsv.read_csv(
            pa.BufferReader(chunk), read_options=options, parse_options=parse, convert_options=convert
        )
        en, x, margin = _text(table.column("en").combine_chunks()), _text(table.column("x").combine_chunks()), None
        malformed, bad[0] = bad[0], 0
        if with_margin:
            text = _text(table.column("margin").combine_chunks())
            try:
                margin = pc.cast(text, pa.float64())
            except pa.ArrowInvalid:
                values = []
                for s in text.to_pylist():
                    try:
                        values.append(float(s))
                    except ValueError:
                        values.append(float("nan"))
                margin = pa.array(values, pa.float64())
            ok = np.isfinite(margin.to_numpy(zero_copy_only=False))
            if not ok.all():
                malformed += int((~ok).sum())
                keep = pa.array(ok)
                en, x, margin = en.filter(keep), x.filter(keep), margin.filter(keep)
        yield Batch(en, x, margin, malformed)


def _lines(handle):
    return io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="\n")


def read_moses_zip(path: Path, lang: str) -> Iterator[Batch]:
    """OPUS moses zip: ``<Corpus>.<l1>-<l2>.<l1>`` and ``...<l2>``, line-aligned."""
    import pyarrow as pa

    with zipfile.ZipFile(path) as zf:
        members = {}
        for code in ("en", lang):
            found = [m for m in zf.namelist() if m.endswith(f".{code}") and not m.endswith("/")]
            if len(found) != 1:
                raise UserError(f"{path}: expected one member ending in .{code}, found {found or 'none'}")
            members[code] = found[0]
        with zf.open(members["en"]) as en_raw, zf.open(members[lang]) as x_raw:
            en_lines, x_lines = _lines(en_raw), _lines(x_raw)
            n = 0
            while True:
                en = [s.rstrip("\n") for s in itertools.islice(en_lines, BATCH_LINES)]
                x = [s.rstrip("\n") for s in itertools.islice(x_lines, BATCH_LINES)]
                if len(en) != len(x):
                    raise UserError(
                        f"{path}: {members['en']} and {members[lang]} differ in length "
                        f"(after line {n + min(len(en), len(x))})"
                    )
                if not en:
                    return
                n += len(en)
                yield Batch(pa.array(en, pa.string()), pa.array(x, pa.string()), None)


def line_aligned_partner(path: Path, lang: str) -> Path:
    """The ``lang`` side of a line-aligned pair of files, from its English side: ``train.en`` ->
    ``train.{lang}`` (the authors' bundle: ``translation/ncwm/en-{lang}/train.{en,lang}``)."""
    if path.suffix != ".en":
        raise UserError(f"{path}: the English side of a line-aligned corpus must end in .en")
    return path.with_suffix(f".{lang}")


def read_line_aligned(path: Path, lang: str) -> Iterator[Batch]:
    """Two plain-text files, one sentence a line, line i of one the translation of line i of the
    other: ``path`` (English, ``*.en``) and its ``*.{lang}`` partner in the same folder."""
    import pyarrow as pa

    other = line_aligned_partner(path, lang)
    if not other.is_file():
        raise UserError(f"{other}: no such file (the {lang} side of {path})")
    with open(path, "rb") as en_raw, open(other, "rb") as x_raw:
        en_lines, x_lines = _lines(en_raw), _lines(x_raw)
        n = 0
        while True:
            en = [s.rstrip("\r\n") for s in itertools.islice(en_lines, BATCH_LINES)]
            x = [s.rstrip("\r\n") for s in itertools.islice(x_lines, BATCH_LINES)]
            if len(en) != len(x):
                raise UserError(f"{path} and {other} differ in length (after line {n + min(len(en), len(x))})")
            if not en:
                return
            n += len(en)
            yield Batch(pa.array(en, pa.string()), pa.array(x, pa.string()), None)


def read_tmx(path: Path, lang: str) -> Iterator[Batch]:
    """OPUS TMX: <tu> with one <tuv xml:lang=..><seg> per language; streamed with iterparse."""
    import xml.etree.ElementTree as ET

    import pyarrow as pa

    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    handle = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    en, x, malformed = [], [], 0
    with handle:
        segs: dict = {}
        for _, elem in ET.iterparse(handle, events=("end",)):
            if elem.tag == "tuv":
                code = (elem.get(xml_lang) or elem.get("lang") or "").split("-")[0].split("_")[0].lower()
                seg = elem.find("seg")
                segs[code] = "".join(seg.itertext()) if seg is not None else ""
            elif elem.tag == "tu":
                if "en" in segs and lang in segs:
                    en.append(segs["en"])
                    x.append(segs[lang])
                else:
                    malformed += 1
                segs = {}
                elem.clear()
                if len(en) >= BATCH_LINES:
                    yield Batch(pa.array(en, pa.string()), pa.array(x, pa.string()), None, malformed)
                    en, x, malformed = [], [], 0
    yield Batch(pa.array(en, pa.string()), pa.array(x, pa.string()), None, malformed)


_LIVE: set = set()  # (stop event, thread) of running prefetchers, stopped at interpreter exit


@atexit.register
def _stop_prefetchers() -> None:
    # An Arrow reader still open when the interpreter finalizes aborts the process, so every
    # producer is told to stop and close its reader (in its own thread) while Python still runs.
    for stop, thread in list(_LIVE):
        stop.set()
        thread.join(timeout=10)


def _prefetch(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """Run a reader in a background thread, at most ``depth`` batches ahead (bounded memory).

    Decompression and parsing release the GIL, so on two cores they overlap the cleaning. The
    producer thread alone advances and closes the reader.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(done)
        except BaseException as err:  # handed to the consumer, raised there
            put(err)
        finally:
            batches.close()

    thread = threading.Thread(target=produce, daemon=True)
    entry = (stop, thread)
    _LIVE.add(entry)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        _LIVE.discard(entry)


def read_batches(path: str | Path, src: Source, lang: str) -> Iterator[Batch]:
    """Dispatch on the sources entry's format; damaged compressed input is a one-line error."""
    import pyarrow as pa

    path = Path(path)
    en_first = _en_first(src, lang, path)
    if src.format in ("wikimatrix-tsv", "tsv"):
        reader = read_tsv(path, en_first, with_margin=src.format == "wikimatrix-tsv")
    elif src.format == "moses-zip":
        reader = read_moses_zip(path, lang)
    elif src.format == "tmx":
        reader = read_tmx(path, lang)
    elif src.format == "line-aligned":
        reader = read_line_aligned(path, lang)
    else:
        raise UserError(f"{path}: format {src.format!r} is not a parallel corpus")
    try:
        yield from _prefetch(reader)
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, pa.ArrowInvalid, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise UserError(f"{path}: corrupt or truncated ({str(err).splitlines()[0]})") from None
    except SyntaxError as err:  # xml.etree.ElementTree.ParseError
        raise UserError(f"{path}: not valid TMX ({err})") from None
