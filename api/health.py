"""Probes: /healthz says the process is alive; /readyz that its dependencies answer."""

from __future__ import annotations

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
    checks: dict[str, str] = {}
    try:
        with c.sessions() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a probe reports any failure, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        c.storage.ping()
        checks["storage"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["storage"] = f"error: {type(exc).__name__}"
    try:
        checks["broker"] = c.queue.ping()  # "ok (embedded, in-process)" without a broker
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(v.startswith("ok") for v in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
