"""Per-request ids, a JSON access log line and latency metrics; ``/metrics`` for Prometheus."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue

from api.context import ctx
from api.schema import operation
from shared import logs
from shared.metrics import render

log = logging.getLogger("narrator.api")
bp = Blueprint("observability", __name__)


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        g.started = time.perf_counter()
        logs.start(request_id=g.request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "unmatched"
        ctx().metrics.request_seconds.labels(request.method, route, str(response.status_code)).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if route != "/metrics":
            log.info("%s %s %d %.1f ms", request.method, route, response.status_code, elapsed * 1000)
        return response


@operation("Prometheus metrics of this API process", {200: ("text exposition format", {"text/plain": {}})},
           public=True)
@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    registry = ctx().metrics.registry
    assert registry is not None  # the API always builds its own registry
    return Response(render(registry), mimetype="text/plain; version=0.0.4")
