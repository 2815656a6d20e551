#!/usr/bin/env bash
# The model stack on a GPU: RTF, first-audio latency and items/min of one worker process with
# NARRATOR_DEVICE=cuda (Kokoro's float graph on onnxruntime's CUDA provider, Whisper on
# CTranslate2's CUDA, torch on CUDA). Needs a machine with an NVIDIA GPU and the GPU runtimes:
# onnxruntime-gpu in place of onnxruntime and a CUDA build of torch (as the worker-gpu image
# installs them). Writes bench/results/gpu-cuda.json; prints the JSON.
#
#   bench/gpu.sh [--items 50] [--repeats 5]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# The worker's own check: stops here, naming the runtime that sees no GPU.
NARRATOR_DEVICE=cuda "$PY" -c "from worker.devices import plan_devices; print('devices:', plan_devices('cuda'))"
NARRATOR_DEVICE=cuda exec "$PY" bench/gpu.py "$@"
