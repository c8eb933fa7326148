"""What the Snakefile does around the jobs: load the config, explain a stale lock or a failure.

Kept out of the rule files so it can be read and tested as plain Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import load_yaml
from .errors import UserError

UNLOCK_HINT = (
    "if no other snakemake runs in this directory, the lock is left from a killed run: run the "
    "same command with --unlock added, then the same command again (finished jobs are kept; "
    "training resumes from its last checkpoint)"
)


def load_config_file(path: str) -> dict:
    try:
        return load_yaml(path)
    except UserError as err:
        sys.exit(f"error: {err}")


def stale_lock_hint(argv: list[str], environ, workdir: str | Path = ".") -> str | None:
    """One line when Snakemake's lock files are present and this run will lock (it then refuses to
    start); not in a cluster job (run with the main process's lock) nor in --unlock/--nolock runs."""
    if {"--unlock", "--nolock"} & set(argv) or "SLURM_JOB_ID" in environ:
        return None
    locks = Path(workdir, ".snakemake", "locks")
    if locks.is_dir() and any(locks.iterdir()):
        return f"xllm: {locks} holds a lock; {UNLOCK_HINT}"
    return None


def failure_message(log) -> str:
    """Ctrl-C is an interruption, not a failed job: say which, from Snakemake's own log(s)."""
    logs = [log] if isinstance(log, (str, Path)) else list(log or [])
    text = "".join(Path(p).read_text(encoding="utf-8", errors="replace") for p in logs if Path(p).is_file())
    if "Terminating processes on user request" in text or "KeyboardInterrupt" in text:
        return (
            "xllm: interrupted; run the same command again to go on (finished jobs are kept, "
            "training resumes from its last checkpoint)"
        )
    if "LockException" in text or "Directory cannot be locked" in text:
        return f"xllm: the directory is locked; {UNLOCK_HINT}"
    return "xllm: a job failed; its log is under results/logs/ (see the failed rule's log above)"
