"""``narrator api`` and ``narrator beat``: the HTTP API and the Celery beat scheduler."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from api import create_app
from worker.celery_app import make_celery
from worker.cli.options import settings_for


def api(args: argparse.Namespace) -> int:
    """Serve the API with werkzeug's threaded server (the images run it under gunicorn)."""
    app = create_app(settings_for(args))
    run_simple(args.host, args.port, app, threaded=True)
    return 0


def beat(args: argparse.Namespace) -> int:
    make_celery(settings_for(args)).start(["beat", "--loglevel", "INFO"])
    return 0
