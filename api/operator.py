"""The operator's API: the review of consents no machine can check, across tenants.

Only an operator key (``nro_…``, ``narrator admin create-operator-key``) opens these routes,
and it opens nothing else: it belongs to no tenant, so every tenant route refuses it. A
tenant's key, whatever its scope, gets 403 here. See shared/operators.py for why.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from api.consents import consent_json, recording_link
from api.context import ctx
from api.schema import Body, Choice, Text, operation
from shared import logs
from shared.errors import Forbidden, NotFound, RateLimited, Unauthorized
from shared.models import Consent, ConsentStatus, OperatorKey
from shared.operators import decide, operator_for_secret, review_queue
from shared.security import TENANT_TAG, parse_prefix

bp = Blueprint("operator", __name__, url_prefix="/v1/operator")
REVIEW_STATUS = Choice(values=tuple(st.value for st in ConsentStatus), default=ConsentStatus.needs_review.value)
REVIEW_REQUEST = Body({"note": Text(max_len=2000)}, optional=True)
F = TypeVar("F", bound=Callable[..., Any])


def operator_only(view: F) -> F:
    """Authenticate an operator key; set ``g.operator_id`` and ``g.operator_prefix``."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Unauthorized("send the operator key as 'Authorization: Bearer <key>'")
        secret = header.removeprefix("Bearer ").strip()
        if parse_prefix(secret, TENANT_TAG) is not None:
            raise Forbidden("these routes need the deployment operator's key: a tenant's API key, whatever its "
                            "scope, cannot review consents")
        c = ctx()
        with c.sessions() as s:
            key = operator_for_secret(s, secret)
            if key is None:
                raise Unauthorized("the operator key is unknown, revoked or malformed")
            g.operator_id, g.operator_prefix = key.id, key.prefix
        logs.bind(operator=g.operator_prefix)
        decision = c.limiter.hit(f"operator:{g.operator_prefix}")
        if not decision.allowed:
            raise RateLimited(f"this operator key is over its limit of {c.settings.rate_limit_requests} requests "
                              f"per {c.settings.rate_limit_window_seconds} s; retry in {decision.retry_after} s",
                              retry_after=decision.retry_after)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def operator_consent_json(consent: Consent) -> dict[str, Any]:
    return {**consent_json(consent), "tenant_id": consent.tenant_id, "has_recording": bool(consent.recording_key)}


@operation("Operator key only: every tenant's consents awaiting review (or ?status=), oldest first",
           {200: "{consents: [Consent + tenant_id]}"},
           errors=(401, 403, 422),
           query={"status": REVIEW_STATUS})
@bp.get("/consents")
@operator_only
def list_consents() -> ResponseReturnValue:
    """Every tenant's consents in ``?status=`` (default ``needs_review``: the review queue), oldest first."""
    status = REVIEW_STATUS.read(request.args, "status")
    with ctx().sessions() as s:
        return jsonify(consents=[operator_consent_json(c) for c in review_queue(s, status)])


def _consent(session, consent_id: str) -> Consent:  # type: ignore[no-untyped-def]
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"no consent {consent_id!r}")
    return consent  # type: ignore[no-any-return]


@operation("Operator key only: one consent of any tenant",
           {200: ("consent", "Consent")},
           errors=(401, 403, 404))
@bp.get("/consents/<consent_id>")
@operator_only
def get_consent(consent_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        return jsonify(operator_consent_json(_consent(s, consent_id)))


@operation("Operator key only: a short-lived URL of the recording, to listen before deciding",
           {200: "{url, expires_in}"},
           errors=(401, 403, 404, 409))
@bp.get("/consents/<consent_id>/recording")
@operator_only
def get_recording(consent_id: str) -> ResponseReturnValue:
    """A short-lived link to the recording: the operator listens before deciding."""
    with ctx().sessions() as s:
        return recording_link(_consent(s, consent_id))


def review(operator_id: str, consent_id: str, approve: bool, note: Any) -> dict[str, Any]:
    """The operator's verdict (API and operator console); audited as ``operator:<prefix>``."""
    note = REVIEW_REQUEST.fields["note"].parse(note, "note")
    with ctx().sessions.begin() as s:
        key = s.get(OperatorKey, operator_id)
        if key is None or key.revoked_at is not None:
            raise Unauthorized("the operator key was revoked")
        decide(s, key, consent_id, approve=approve, note=note)  # type: ignore[arg-type]
    with ctx().sessions() as s:
        return operator_consent_json(_consent(s, consent_id))


def _review(consent_id: str, approve: bool) -> ResponseReturnValue:
    return jsonify(review(g.operator_id, consent_id, approve, REVIEW_REQUEST.read()["note"]))


@operation(
    "Operator key only: approve a consent awaiting review (needs_review), after listening; audited as operator:<prefix>",
    {200: ("approved", "Consent")},
    errors=(401, 403, 404, 409, 415, 422),
    body=REVIEW_REQUEST,
)
@bp.post("/consents/<consent_id>/approve")
@operator_only
def approve_consent(consent_id: str) -> ResponseReturnValue:
    return _review(consent_id, approve=True)


@operation(
    "Operator key only: reject a consent awaiting review (needs_review), after listening; audited as operator:<prefix>",
    {200: ("rejected", "Consent")},
    errors=(401, 403, 404, 409, 415, 422),
    body=REVIEW_REQUEST,
)
@bp.post("/consents/<consent_id>/reject")
@operator_only
def reject_consent(consent_id: str) -> ResponseReturnValue:
    return _review(consent_id, approve=False)
