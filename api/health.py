"""Probes: /healthz says the process is alive; /readyz that its dependencies answer."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from api.context import ctx
from api.schema import operation

bp = Blueprint("health", __name__)


@operation("Liveness",
           {200: "alive"},
           public=True)
@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@operation("Readiness: database, broker, storage",
           {200: "ready"},
           errors=(503,),
           public=True)
@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    c = ctx()

    def database() -> str:
        with c.sessions() as s:
            s.execute(text("SELECT 1"))
        return "ok"

    def storage() -> str:
        c.storage.ping()
        return "ok"

    # the broker's own answer: "ok (embedded, in-process)" without a broker
    checks = {name: _probe(check) for name, check in
              (("database", database), ("storage", storage), ("broker", c.queue.ping))}
    ready = all(v.startswith("ok") for v in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


def _probe(check: Callable[[], str]) -> str:
    """A dependency's answer, or the kind of its failure: a probe reports, it does not raise."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - any failure is an answer here
        return f"error: {type(exc).__name__}"
