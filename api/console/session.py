"""Console sign-in: an API key checked exactly as the API checks it, then a server-side
session row (``shared.console_sessions``) whose random token is all the cookie carries
about its holder. Every request reads the tenant and scope from the key's row, so neither
can be chosen by whoever signs a cookie; sign-out, revocation and the idle and absolute
lifetimes end the row. The cookie is signed with the sessions key derived from the
deployment secret (``shared.secret_keys``) and marked Secure when the request came over
HTTPS. Every POST carries the session's CSRF token (form field or ``X-CSRF-Token`` header)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue

from api.auth import key_for_secret
from api.console.blueprint import bp
from api.context import ctx
from shared import console_sessions
from shared.errors import Forbidden, NarratorError
from shared.security import allows

SESSION_FIELD = "sid"  # the session row's token: the cookie's only claim about who signed in
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
OPEN_ENDPOINTS = {"console.sign_in", "console.static"}


def lifetimes() -> console_sessions.Lifetimes:
    settings = ctx().settings
    return console_sessions.Lifetimes(settings.console_idle_seconds, settings.console_max_seconds)


class ConsoleCookies(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` when this request came over HTTPS (directly,
    or through a proxy that says so in ``X-Forwarded-Proto``) or when the deployment says
    always (``NARRATOR_CONSOLE_SECURE_COOKIE``). Trusting the header costs nothing: it can
    only make a browser more careful with the cookie."""

    def get_cookie_secure(self, app: Flask) -> bool:
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure or forwarded == "https"


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
        # Bytes on both sides: a token of any characters is a wrong token, not a server error.
        if not expected or not hmac.compare_digest(str(expected).encode(), sent.encode("utf-8", "surrogateescape")):
            abort(400, "the form's CSRF token is missing or stale; reload the page and try again")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    token = session.get(SESSION_FIELD)
    if not isinstance(token, str) or not token:
        session.pop(SESSION_FIELD, None)
        return redirect(url_for("console.sign_in", next=request.full_path))
    with ctx().sessions.begin() as s:
        holder = console_sessions.resolve(s, token, lifetimes())
    if isinstance(holder, console_sessions.Ended):
        session.clear()
        flash(holder.reason, "error")
        return redirect(url_for("console.sign_in"))
    g.tenant_id, g.scope, g.key_prefix = holder.tenant_id, holder.scope, holder.key_prefix
    return None


def _headers(response):  # type: ignore[no-untyped-def]
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _domain_error(exc: NarratorError) -> ResponseReturnValue:
    return render_template("console/error.html", status=exc.status, reason=exc.reason), exc.status


def _bad_request(exc: Any) -> ResponseReturnValue:
    return render_template("console/error.html", status=400, reason=exc.description), 400


def serve_pages(blueprint: Blueprint) -> None:
    """What every console page gets, the tenant's and the operator's alike: never cached or
    framed, and errors as a page rather than problem+json."""
    blueprint.after_request(_headers)
    blueprint.register_error_handler(NarratorError, _domain_error)
    blueprint.register_error_handler(400, _bad_request)


serve_pages(bp)


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
        with ctx().sessions.begin() as s:
            token = console_sessions.start(s, key.id, lifetimes())
        session.clear()
        session.permanent = True  # the browser drops it after the absolute lifetime too
        session[SESSION_FIELD] = token
        session["csrf"] = secrets.token_urlsafe(32)  # a new token after sign-in
        return redirect(_safe_next(request.form.get("next")))
    return render_template("console/sign_in.html", error=None)


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    with ctx().sessions.begin() as s:
        console_sessions.end(s, str(session.get(SESSION_FIELD)))
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("console.sign_in"))
