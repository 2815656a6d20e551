# syntax=docker/dockerfile:1.7
# narrator API image (HTTP only). Build from the repository root:
#   docker build -f deploy/docker/api.Dockerfile -t narrator/api:local .
# The project is a single distribution whose dependencies include torch, so the API
# image installs the CPU build of torch (pinned like pyproject.toml) to keep it small.
# No model files: the API never runs the model stack.

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
    pip install --editable . "gunicorn>=22"

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
COPY --from=builder /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NARRATOR_DATA_DIR=/data \
    NARRATOR_MODEL_CACHE=/models \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "-k", "gthread", "-w", "2", "--threads", "8", "-b", "0.0.0.0:8000", "--access-logfile", "-", "--graceful-timeout", "30", "api:create_app()"]
