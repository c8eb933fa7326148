"""Atomic writes (a killed job never leaves a file or directory that looks complete), and the
file reads every stage shares (JSON, JSONL, lines, sha256), so each has one behaviour and one error.

Everything is written next to its destination under a temporary name and renamed into place
(rename is atomic within one filesystem).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from .errors import UserError


def current_umask() -> int:
    """The process's umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "b" in mode:
        encoding = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; results should be readable like any file
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike, obj, indent: int = 2) -> None:
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=indent, ensure_ascii=False, sort_keys=False)
        handle.write("\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    n = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_json(path: str | os.PathLike, what: str = "", expected: type = dict):
    """A JSON file holding an ``expected`` (dict or list), or a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, expected):
        kind = "object" if expected is dict else "list"
        raise UserError(f"{path}: expected a JSON {kind}" + (f" ({what})" if what else ""))
    return data


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """A JSONL file's objects one at a time (blank lines skipped; a 4.8M-row mixture is never held
    whole); a bad line is a one-line error with its number."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a file")
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise UserError(f"{path}: line {number}: not JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}: line {number}: expected a JSON object, got {type(row).__name__}")
                yield row
        except UnicodeDecodeError:
            read_text(path)  # names the line and the byte
            raise


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """A JSONL file's objects (blank lines skipped); a bad line is a one-line error with its number."""
    return list(iter_jsonl(path))


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file; a directory, a missing file or bytes that are not UTF-8 are one-line errors."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise UserError(f"{path}: line {line} is not UTF-8 text (byte 0x{data[err.start]:02x})") from None


def read_lines(path: str | os.PathLike) -> list[str]:
    """A UTF-8 text file's lines without their ends (``\\r\\n`` and ``\\r`` end lines too, as in text mode)."""
    text = read_text(path).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def file_sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
