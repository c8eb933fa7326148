#!/usr/bin/env bash
# Creates .venv with the pinned environment (requirements.txt) and installs xllm into it.
# Idempotent: a second run only checks. CPU machines take the CPU build of torch first.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade "pip>=24"
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "torch==2.13.0"
fi
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m pip install -q --no-deps -e .
# A single-node Slurm for the cluster tests (Debian packages; skipped, with the reason, elsewhere).
bash scripts/install-slurm.sh || echo "setup: local Slurm not installed; the cluster tests will be skipped"
.venv/bin/python -c "import xllm, torch, transformers; print('xllm', xllm.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
