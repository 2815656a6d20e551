"""The HTTP API: validates, writes rows, enqueues jobs, answers status. Never runs a model
itself — in embedded mode the in-process worker does, through the same tasks."""

from __future__ import annotations

from flask import Flask

from api import auth, console, errors, observability, openapi, throttle, validation
from api.context import ApiContext
from api.routes import BLUEPRINTS
from shared.dispatch import QueueFactory, open_queue
from shared.settings import Settings


def create_app(settings: Settings | None = None, queue: QueueFactory = open_queue) -> Flask:
    """The API on ``settings`` (the environment's by default), sending work through the queue
    ``queue`` builds: the broker's, unless the process that starts it hands it another
    (the embedded worker's, ``worker.cli.serve.make_api``; a benchmark's)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["narrator"] = ApiContext.build(settings, queue)
    errors.init_app(app)
    validation.init_app(app)  # deep JSON, NUL and lone surrogates: 400s, not database errors
    observability.init_app(app)
    auth.init_app(app)
    throttle.init_app(app)
    for blueprint in (*BLUEPRINTS, openapi.bp):
        app.register_blueprint(blueprint)
    console.init_app(app)
    return app
