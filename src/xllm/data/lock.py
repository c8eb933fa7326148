"""The lock file: checksums recorded on first download (trust on first use), committed by the user.

Several download jobs run at once, so every read-modify-write holds an exclusive ``flock`` on the
lock file's directory and replaces the file atomically. Layout (YAML, sorted by name)::

    files:
      WikiMatrix.ar-en.tsv.gz: {sha256: ..., size: 123, url: https://...}
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

import yaml

from ..atomic import atomic_open
from ..errors import UserError

HEADER = (
    "# Checksums recorded by `xllm download` on first download (trust on first use).\n"
    "# Commit this file: every later download or mirror copy is verified against it.\n"
)


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not a valid lock file ({str(err).splitlines()[0]})") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if files is None:
        return {}
    if not isinstance(files, dict):
        raise UserError(f"{path}: 'files' must map file name -> {{sha256, size, url}}")
    return files


def recorded(path: str | Path, name: str) -> dict | None:
    """The entry recorded for ``name`` ({sha256, size, url}), or None."""
    path = Path(path)
    with _locked(path):
        entry = _read(path).get(name)
    if entry is not None and not (isinstance(entry, dict) and entry.get("sha256")):
        raise UserError(f"{path}: files.{name} has no sha256")
    return entry


def record(path: str | Path, name: str, sha256: str, size: int, url: str) -> None:
    """Add ``name`` to the lock (first use). An existing different entry is an error, never overwritten."""
    path = Path(path)
    with _locked(path):
        files = _read(path)
        old = files.get(name)
        if old and old.get("sha256") != sha256:
            raise UserError(
                f"{path}: files.{name} already records sha256 {old.get('sha256')}, not {sha256}; "
                "delete that entry if the source really changed"
            )
        files[name] = {"sha256": sha256, "size": int(size), "url": url}
        with atomic_open(path) as handle:
            handle.write(HEADER)
            doc = {"files": dict(sorted(files.items()))}
            yaml.safe_dump(doc, handle, sort_keys=True, allow_unicode=True, width=200)
