"""`ruff check` (the rules in pyproject.toml's [tool.ruff]) finds nothing in src, tests and bench."""

import subprocess
import sys


def test_ruff_check_finds_nothing(repo):
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "bench"],
                         cwd=repo, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
