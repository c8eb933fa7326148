"""ruff (pyproject.toml's [tool.ruff]): its lint rules find nothing in src, tests and bench, and its formatter
changes nothing."""

import subprocess
import sys


def test_ruff_check_finds_nothing(repo):
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "bench"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_ruff_format_leaves_the_code_as_it_is(repo):
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "src", "tests", "bench"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
