"""Console sign-in: an API key checked exactly as the API checks it, then only its id,
prefix, tenant and scope in the signed cookie; every request re-checks the key is live.
Every POST carries the session's CSRF token (form field or ``X-CSRF-Token`` header)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from api.auth import key_for_secret, key_still_usable
from api.console import bp
from shared.errors import Forbidden, NarratorError
from shared.security import allows

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
OPEN_ENDPOINTS = {"console.sign_in", "console.static"}


def csrf_token() -> str:
    """The session's CSRF token, made on first use (also before sign-in, for the sign-in form)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def need(scope: str) -> None:
    """The signed-in key must hold ``scope`` (same rule as the API's require())."""
    if not allows(g.scope, scope):
        raise Forbidden(f"this API key has scope {g.scope!r}; this needs {scope!r}")


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "csrf_field": CSRF_FIELD}


@bp.before_request
def _check() -> ResponseReturnValue | None:
    g.tenant_id = g.scope = g.key_prefix = None
    if request.method == "POST":
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        expected = session.get("csrf")
        if not expected or not hmac.compare_digest(str(expected), sent):
            abort(400, "the form's CSRF token is missing or stale; reload the page and try again")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    key = session.get("key")
    if not key:
        return redirect(url_for("console.sign_in", next=request.full_path))
    if not key_still_usable(key["id"]):
        session.clear()
        flash("That API key has been revoked or has expired; sign in with another.", "error")
        return redirect(url_for("console.sign_in"))
    g.tenant_id, g.scope, g.key_prefix = key["tenant_id"], key["scope"], key["prefix"]
    return None


@bp.after_request
def _headers(response):  # type: ignore[no-untyped-def]
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.errorhandler(NarratorError)
def _domain_error(exc: NarratorError) -> ResponseReturnValue:
    return render_template("console/error.html", status=exc.status, reason=exc.reason), exc.status


@bp.errorhandler(400)
def _bad_request(exc: Any) -> ResponseReturnValue:
    return render_template("console/error.html", status=400, reason=exc.description), 400


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.batches")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    if request.method == "POST":
        secret = (request.form.get("api_key") or "").strip()
        try:
            key = key_for_secret(secret)
        except NarratorError as exc:
            return render_template("console/sign_in.html", error=exc.reason), exc.status, exc.headers  # 401 or 429
        session.clear()
        session["key"] = {"id": key.id, "prefix": key.prefix, "tenant_id": key.tenant_id, "scope": key.scope}
        session["csrf"] = secrets.token_urlsafe(32)  # a new token after sign-in
        return redirect(_safe_next(request.form.get("next")))
    return render_template("console/sign_in.html", error=None)


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("console.sign_in"))
