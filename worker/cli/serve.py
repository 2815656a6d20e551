"""``narrator api`` and ``narrator beat``: the HTTP API and the Celery beat scheduler."""

from __future__ import annotations

import argparse

from flask import Flask
from werkzeug.serving import run_simple

from api import create_app
from shared.dispatch import open_queue
from shared.settings import Settings
from worker.celery_app import in_process_queue, make_celery
from worker.cli.options import settings_for


def make_api(settings: Settings) -> Flask:
    """The API wired to its worker: through the broker, or, embedded (no broker), to the
    worker's tasks running in this same process."""
    return create_app(settings, in_process_queue if settings.embedded else open_queue)


def api(args: argparse.Namespace) -> int:
    """Serve the API with werkzeug's threaded server (the images run it under gunicorn)."""
    app = make_api(settings_for(args))
    run_simple(args.host, args.port, app, threaded=True)
    return 0


def beat(args: argparse.Namespace) -> int:
    make_celery(settings_for(args)).start(["beat", "--loglevel", "INFO"])
    return 0
