"""The operator's console: the consent review queue of every tenant, for the deployment's
operator (shared/operators.py says why tenants do not review their own consents).

Its own blueprint and its own sign-in with an operator key: the session holds only
``operator`` (the key's id and prefix), never a tenant, and every request re-checks the key
is live. A tenant's console session does not open these pages, nor an operator's the
tenant pages. POSTs carry the console's CSRF token, as everywhere in the console.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api import operator as operator_api
from api.console.session import CSRF_FIELD, CSRF_HEADER, serve_pages
from api.context import ctx
from shared.errors import InvalidInput, NarratorError
from shared.models import Tenant
from shared.operators import live_operator, operator_for_secret, review_queue

bp = Blueprint("console_operator", __name__, url_prefix="/console/operator", template_folder="templates")
OPEN_ENDPOINTS = {"console_operator.sign_in"}


@bp.before_request
def _check() -> ResponseReturnValue | None:
    g.operator_id = g.operator_prefix = None
    if request.method == "POST":
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        expected = session.get("csrf")
        if not expected or not hmac.compare_digest(str(expected), sent):
            abort(400, "the form's CSRF token is missing or stale; reload the page and try again")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    signed_in = session.get("operator")
    with ctx().sessions() as s:
        key = live_operator(s, signed_in["id"]) if signed_in else None
    if key is None:
        if signed_in:
            session.clear()
            flash("That operator key has been revoked; sign in with another.", "error")
        return redirect(url_for("console_operator.sign_in"))
    g.operator_id, g.operator_prefix = key.id, key.prefix
    return None


serve_pages(bp)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    if request.method == "POST":
        with ctx().sessions() as s:
            key = operator_for_secret(s, (request.form.get("operator_key") or "").strip())
            signed = {"id": key.id, "prefix": key.prefix} if key is not None else None
        if signed is None:
            return render_template("console/operator_sign_in.html",
                                   error="That is not a live operator key (tenant keys do not open this page)."), 401
        session.clear()
        session["operator"] = signed
        session["csrf"] = secrets.token_urlsafe(32)  # a new token after sign-in
        return redirect(url_for("console_operator.consents"))
    return render_template("console/operator_sign_in.html", error=None)


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("console_operator.sign_in"))


@bp.get("/")
@bp.get("/consents")
def consents() -> ResponseReturnValue:
    c = ctx()
    with c.sessions() as s:
        rows = review_queue(s)
        names = dict(s.execute(select(Tenant.id, Tenant.name).where(
            Tenant.id.in_({r.tenant_id for r in rows}))).all()) if rows else {}
        view = [{"consent": r, "tenant": names.get(r.tenant_id, r.tenant_id),
                 "audio": c.download_url(r.recording_key)
                 if r.recording_key else None} for r in rows]
    return render_template("console/operator_consents.html", rows=view)


@bp.post("/consents/<consent_id>/<verdict>")
def review(consent_id: str, verdict: str) -> ResponseReturnValue:
    if verdict not in ("approve", "reject"):
        raise InvalidInput("the verdict is approve or reject")
    note = request.form.get("note") or None
    try:
        operator_api.review(g.operator_id, consent_id, verdict == "approve", note)
    except NarratorError as exc:
        flash(exc.reason, "error")
    else:
        flash(f"Consent {'approved' if verdict == 'approve' else 'rejected'}.", "info")
    return redirect(url_for("console_operator.consents"))
