"""Provenance stamped into every result file: where it came from and with what.

Versions are read from package metadata (no heavy imports); the config hash is the sha256 of the
config as canonical JSON, so the same settings give the same hash whatever the YAML layout.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
from importlib import metadata
from pathlib import Path

CONFIG_HASH_ENV = "XLLM_CONFIG_HASH"
TRACKED_PACKAGES = ("torch", "transformers", "accelerate", "sacrebleu", "unbabel-comet", "xllm")


def config_hash(config) -> str:
    canonical = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """HEAD of the checkout the code runs from, with ``+dirty`` when tracked files changed."""
    cwd = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(config=None, seed: int | None = None, **extra) -> dict:
    """The provenance block of DESIGN.md; ``extra`` adds e.g. a metric signature or inputs."""
    record = {
        "git_commit": git_commit(),
        # Rules run with the workflow's config hash in the environment (set by common.smk).
        "config_hash": config_hash(config) if config is not None else os.environ.get(CONFIG_HASH_ENV),
        "seed": seed,
        "versions": package_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    record.update(extra)
    return record
