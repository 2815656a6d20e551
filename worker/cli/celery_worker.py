"""``narrator worker``: a Celery worker, its threads limited and its metrics served.

Two settings must be in the environment before a library reads them at import: the thread
limits before numpy, and the metrics folder before prometheus_client. So this module imports
the worker's stack only once both are set (the ``deferred:`` imports below).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

from shared.settings import Settings
from worker.cli.options import settings_for
from worker.devices import DeviceUnavailable, plan_devices


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    if settings.embedded:
        raise SystemExit("narrator worker: set NARRATOR_BROKER_URL (e.g. redis://localhost:6379/0)")
    _limit_threads(settings.synth_threads)
    try:
        devices = plan_devices(settings.device)  # cuda without a GPU stops here, not on a CPU render
    except DeviceUnavailable as exc:
        raise SystemExit(f"narrator worker: {exc}") from exc
    logging.getLogger("worker.devices").info(
        "models run on: %s (NARRATOR_DEVICE=%s)", ", ".join(f"{k} {v}" for k, v in devices.as_dict().items()),
        settings.device)
    if settings.metrics_port:
        _serve_worker_metrics(settings, devices.as_dict())
    # deferred: the worker's stack loads numpy and prometheus_client, which need the settings made above
    from worker.celery_app import make_celery

    app = make_celery(settings)
    argv = ["worker", "--loglevel", settings.log_level, "--queues", args.queues,
            "--concurrency", str(args.concurrency), "--pool", args.pool, "--without-gossip", "--without-mingle"]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    app.worker_main(argv)
    return 0


def _limit_threads(threads: int) -> None:
    """A worker told to use N threads must use N cores. The models' own pools are sized
    explicitly (onnxruntime, CTranslate2, torch), but numpy's OpenBLAS and any OpenMP
    library start one thread per core by default: measured, a one-thread worker then used
    1.11 cores, and one process per core oversubscribed the machine. Set before numpy is
    first imported (this process and its prefork children inherit it); an operator's own
    setting wins."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


def _serve_worker_metrics(settings: Settings, devices: dict[str, str]) -> None:
    """Every worker process writes its samples to a shared folder; this process serves the sum.

    The folder must be set before prometheus_client is first imported, hence here.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="narrator-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    # deferred: prometheus_client reads PROMETHEUS_MULTIPROC_DIR once, at import
    from prometheus_client import start_http_server

    # deferred: imports prometheus_client (see above)
    from shared.metrics import worker_registry

    start_http_server(settings.metrics_port, registry=worker_registry(settings.broker_url, devices))
