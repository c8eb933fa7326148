"""Fetch one source file: http(s) with retry, backoff and resume, or a copy from a local mirror.

The bytes go to ``OUT.part`` (a killed download leaves only that, and the next run resumes it with
an HTTP Range request); the file is renamed onto ``OUT`` only once its sha256 matches the pinned
one, or the lock's, or, on first use, once it is recorded in the lock. A mismatch deletes the
partial file and names the file, both hashes and the URL.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

from ..atomic import file_sha256
from ..errors import UserError
from . import lock as lockfile
from .sources import Source, load_sources

CHUNK = 1 << 20
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class TransientError(Exception):
    """A failure worth retrying (connection dropped, 5xx, short body)."""


def check_archive(path: Path, name: str) -> None:
    """Read a compressed file to its end, so a truncated first download is never trusted."""
    try:
        if name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as tar:
                for _ in tar:
                    pass
        elif name.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                while handle.read(CHUNK):
                    pass
        elif name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
                if bad:
                    raise zipfile.BadZipFile(f"bad CRC in member {bad}")
    except (EOFError, OSError, zlib.error, tarfile.TarError, zipfile.BadZipFile) as err:
        raise UserError(f"{name}: downloaded file is corrupt or truncated ({err}); nothing kept") from None


def _fetch(url: str, part: Path, timeout: float, log) -> None:
    """One attempt: continue ``part`` from its current size (Range), or start over."""
    import requests

    have = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}  # the bytes as stored: the checksum is of those
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout) as resp:
            if resp.status_code == 416 and have:  # nothing left to fetch: the part is complete
                return
            if resp.status_code in RETRY_STATUS:
                raise TransientError(f"HTTP {resp.status_code}")
            if resp.status_code >= 400:
                raise UserError(f"{url}: HTTP {resp.status_code} {resp.reason}")
            if resp.status_code == 206 and have:
                mode, expected = "ab", _content_length(resp, have)
                log(f"resuming at byte {have}")
            else:
                mode, have, expected = "wb", 0, _content_length(resp, 0)
            # keep every byte that arrived before a dropped connection, for the next Range request
            resp.raw.enforce_content_length = False
            with open(part, mode) as handle:
                while chunk := resp.raw.read1(CHUNK, decode_content=False):  # whatever has arrived
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
    except requests.RequestException as err:
        raise TransientError(f"{type(err).__name__}: {err}") from None
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise TransientError(f"short read: {size} of {expected} bytes")


def _content_length(resp, offset: int) -> int | None:
    value = resp.headers.get("Content-Length")
    if value is None:
        return None
    return offset + int(value)


def _copy_from_mirror(mirror: Path, name: str, part: Path, expected: str | None) -> None:
    src = mirror / name
    if not src.is_file():
        raise UserError(
            f"{src}: missing from the mirror; expected file {name!r} with sha256 "
            f"{expected or '(none recorded yet: it is recorded on first copy)'}"
        )
    shutil.copyfile(src, part)


def download(
    name: str,
    sources: str | Path,
    lock: str | Path,
    out: str | Path,
    mirror: str | Path | None = None,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    log=None,
) -> str:
    """Put the verified file ``name`` of the sources file at ``out``; returns its sha256."""
    log = log or (lambda msg: print(f"download {name}: {msg}", file=sys.stderr, flush=True))
    table = load_sources(sources)
    if name not in table:
        raise UserError(f"{sources}: no file named {name!r}")
    src: Source = table[name]
    entry = lockfile.recorded(lock, name)
    expected = src.sha256 or (entry or {}).get("sha256")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")

    if mirror is not None:
        origin = str(Path(mirror) / name)
        _copy_from_mirror(Path(mirror), name, part, expected)
    elif src.url.startswith(("http://", "https://")):
        origin = src.url
        for attempt in range(retries + 1):
            try:
                _fetch(src.url, part, timeout, log)
                break
            except TransientError as err:
                if attempt == retries:
                    raise UserError(
                        f"{name}: download from {src.url} failed after {retries + 1} attempts ({err})"
                    ) from None
                wait = backoff * 2**attempt
                log(f"attempt {attempt + 1} failed ({err}); retrying in {wait:g}s")
                time.sleep(wait)
    elif src.url.startswith("demo://"):
        raise UserError(f"{name}: {src.url} exists only in a local mirror; set data.mirror (--mirror DIR)")
    else:
        raise UserError(f"{sources}: files.{name}.url: unsupported scheme in {src.url!r} (http, https)")

    actual = file_sha256(part)
    size = part.stat().st_size
    if expected and actual != expected:
        part.unlink()
        raise UserError(f"{name}: sha256 mismatch: expected {expected}, got {actual} (from {origin}); nothing kept")
    if src.size is not None and size != src.size:
        part.unlink()
        raise UserError(f"{name}: size mismatch: expected {src.size} bytes, got {size} (from {origin}); nothing kept")
    if not expected:
        try:
            check_archive(part, name)
        except UserError:
            part.unlink()
            raise
        lockfile.record(lock, name, actual, size, src.url)
        log(f"first use: recorded sha256 {actual} in {lock}")
    os.replace(part, out)
    log(f"ok: {size} bytes, sha256 {actual}")
    return actual


def verify_downloaded(paths, sources: str | Path, lock: str | Path) -> None:
    """Check files under results/downloads/ against their pinned or locked sha256 before they are read.

    A file edited (or damaged) after its download would otherwise flow into the corpora and test
    sets unnoticed; the checksum was only checked when it was fetched.
    """
    table = load_sources(sources)
    for path in paths:
        name = Path(path).name
        if name not in table:
            continue  # not a downloaded source (e.g. a test set made by another rule)
        expected = table[name].sha256 or (lockfile.recorded(lock, name) or {}).get("sha256")
        if expected is None:
            raise UserError(
                f"{path}: no pinned or recorded sha256 in {sources} or {lock}; download it again "
                f"(delete it and rerun) so its checksum is recorded"
            )
        actual = file_sha256(path)
        if actual != expected:
            raise UserError(
                f"{path}: sha256 {actual} does not match {expected} ({sources} or {lock}); the file "
                f"changed after its download: delete it and rerun to fetch it again"
            )
