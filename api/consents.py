"""Consents: the speaker signs, reads the generated statement aloud, and a job verifies it.

A recording in a language speech recognition cannot check waits for the deployment's
operator, who listens and approves or rejects it (api/operator.py). The tenant can list its
queue and listen (``GET .../recording``, admin) but not decide: a tenant approving its own
consents could clone anyone. Revocation takes effect at once and enqueues the purge of
everything stored for the speaker's voices.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api import validation
from api.auth import owned, require
from api.context import ctx
from api.idempotency import idempotent
from api.schema import Body, Boolean, Choice, ConsentLanguage, Form, Text, operation
from shared import dispatch, storage_keys
from shared.audio_limits import AudioLimits
from shared.audio_types import stored_audio_type
from shared.audit import record
from shared.consent import ReviewByOperator, create_consent, machine_checkable
from shared.errors import Conflict, InvalidInput
from shared.models import Consent, ConsentStatus
from shared.withdrawal import revoke_consent

bp = Blueprint("consents", __name__, url_prefix="/v1/consents")
CONSENT_STATUS = Choice(values=tuple(st.value for st in ConsentStatus))
CONSENT_REQUEST = Body({
    "speaker_name": Text(max_len=200, required=True),
    "company_name": Text(max_len=200, required=True),
    "agreement_version": Text(max_len=50, required=True),
    "agreement_text": Text(max_len=100_000, required=True),
    "signature": Text(max_len=200, required=True, description="the speaker's typed full name"),
    "language": ConsentLanguage(max_len=8, description="zh and en are verified by speech recognition; any other "
                                "language tag (ja, yue, fr-CA ...) goes to needs_review for the operator to approve"),
}, name="ConsentRequest", required=("speaker_name", "company_name", "agreement_version", "agreement_text", "signature"))
RECORDING_FORM = Form({}, files={"recording": "the speaker reading the statement: WAV, FLAC, OGG, MP3, M4A or WebM"},
                      required=("recording",))
REVOKE_REQUEST = Body({"keep_outputs": Boolean(default=False, description="keep audio already rendered with the voices")},
                      optional=True)


def consent_json(c: Consent) -> dict[str, Any]:
    return {
        "id": c.id, "status": c.status, "speaker_name": c.speaker_name, "company_name": c.company_name,
        "language": c.language, "agreement_version": c.agreement_version, "agreement_sha256": c.agreement_sha256,
        "statement": c.statement, "verification": c.verification, "created_at": c.created_at.isoformat(),
        "verified_at": c.verified_at.isoformat() if c.verified_at else None,
        "review": {"by": c.reviewed_by, "at": c.reviewed_at.isoformat(), "note": c.review_note}
        if c.reviewed_at else None,
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
        "purged_at": c.purged_at.isoformat() if c.purged_at else None,
    }


def tenant_consent(session, consent_id: str) -> Consent:  # type: ignore[no-untyped-def]
    return owned(session, Consent, consent_id, "consent")


@operation("The speaker's signed consent; returns the statement they must read aloud",
           {201: ("awaiting the recording", "Consent")},
           errors=(401, 403, 415, 422),
           body=CONSENT_REQUEST)
@bp.post("")
@require("write")
@idempotent
def give_consent() -> ResponseReturnValue:
    body = CONSENT_REQUEST.read()
    fields = {name: body[name] for name in ("speaker_name", "company_name", "agreement_version", "signature")}
    agreement_text, language = body["agreement_text"], body["language"]
    with ctx().sessions.begin() as s:
        consent = create_consent(
            s, g.tenant_id, agreement_text=agreement_text, language=language,
            client_ip=request.remote_addr, user_agent=request.headers.get("User-Agent", "")[:500],
            actor=f"key:{g.key_prefix}", **fields)  # type: ignore[arg-type]
        body_out = consent_json(consent)
    return jsonify(body_out), 201, {"Location": url_for("consents.get_consent", consent_id=body_out["id"])}


@operation("A consent and its verification",
           {200: ("consent", "Consent")},
           errors=(401, 404))
@bp.get("/<consent_id>")
@require("read")
def get_consent(consent_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        return jsonify(consent_json(tenant_consent(s, consent_id)))


@operation(
    "The speaker reading the statement; a job verifies it by speech recognition",
    {202: ("verifying (zh, en) or needs_review (other languages)", "Consent")},
    errors=(401, 403, 404, 409, 413, 415, 422),
    body=RECORDING_FORM,
)
@bp.post("/<consent_id>/recording")
@require("write")
@idempotent
def upload_recording(consent_id: str) -> ResponseReturnValue:
    c = ctx()
    upload = request.files.get("recording")
    if upload is None:
        raise InvalidInput("'recording' (the speaker reading the statement; multipart/form-data) is required",
                           field="recording")
    data = upload.read()
    validation.audio_upload(data, AudioLimits.consent(c.settings), field="recording")
    with c.sessions.begin() as s:
        consent = tenant_consent(s, consent_id)
        if consent.status != ConsentStatus.awaiting_recording.value:
            raise Conflict(f"consent {consent_id!r} is {consent.status}; a recording is taken only once")
        key = storage_keys.consent_recording_key(g.tenant_id, consent_id)
        c.storage.put(key, data, stored_audio_type(data))  # never the client's type (text/html)
        consent.recording_key = key
        checkable = machine_checkable(consent.language)
        consent.status = (ConsentStatus.verifying if checkable else ConsentStatus.needs_review).value
        record(s, g.tenant_id, f"key:{g.key_prefix}", "consent.recorded", "consent", consent_id,
               status=consent.status)
    if checkable:
        c.queue.send(dispatch.VERIFY_CONSENT, consent_id)
    with c.sessions() as s:
        return jsonify(consent_json(tenant_consent(s, consent_id))), 202


@operation("List consents, newest first; ?status=needs_review is the review queue",
           {200: "consents"},
           errors=(401, 422),
           query={"status": CONSENT_STATUS})
@bp.get("")
@require("read")
def list_consents() -> ResponseReturnValue:
    """This tenant's consents, newest first; ``?status=needs_review`` is the review queue."""
    status = CONSENT_STATUS.read(request.args, "status")
    with ctx().sessions() as s:
        query = select(Consent).where(Consent.tenant_id == g.tenant_id)
        if status:
            query = query.where(Consent.status == status)
        rows = s.scalars(query.order_by(Consent.created_at.desc()).limit(500)).all()
        return jsonify(consents=[consent_json(c) for c in rows])


@operation("Admin: a short-lived URL of the recording, to listen before reviewing",
           {200: "{url, expires_in}"},
           errors=(401, 403, 404, 409))
@bp.get("/<consent_id>/recording")
@require("admin")
def get_recording(consent_id: str) -> ResponseReturnValue:
    """A short-lived link to the recording, so a reviewer can listen before deciding."""
    with ctx().sessions() as s:
        return recording_link(tenant_consent(s, consent_id))


def recording_link(consent: Consent) -> ResponseReturnValue:
    """A short-lived link to a consent's recording: the tenant's admin and the operator listen
    through the same answer."""
    if not consent.recording_key:
        raise Conflict(f"consent {consent.id!r} has no recording ({consent.status}"
                       f"{', purged' if consent.purged_at else ''})")
    c = ctx()
    return jsonify(url=c.download_url(consent.recording_key), expires_in=c.settings.presign_ttl_seconds)


@operation("Gone for tenants: to approve or reject a consent is the operator's decision "
           "(403 operator_review_required; see /v1/operator/consents/{consent_id}/approve and /reject)",
           {}, errors=(401, 403, 404))
@bp.post("/<consent_id>/approve")
@bp.post("/<consent_id>/reject")
@require("read")
def review_by_tenant(consent_id: str) -> ResponseReturnValue:
    """Gone for tenants: kept as a route so a client that used it learns why and where. Another
    tenant's consent is a 404 here as everywhere, so the route tells nobody which ids exist."""
    with ctx().sessions() as s:
        tenant_consent(s, consent_id)
    raise ReviewByOperator(
        "approving or rejecting a consent is the deployment operator's decision, not the tenant's: a tenant's keys "
        "(admin included) cannot review their own consents; the operator reviews it at "
        f"/v1/operator/consents/{consent_id} (an operator key, made with `narrator admin create-operator-key`)")


@operation("Revoke consent: its voices are deleted now and one job purges their audio and state",
           {202: ("revoked; purge enqueued", "Consent")},
           errors=(401, 403, 404, 409, 415, 422),
           body=REVOKE_REQUEST)
@bp.post("/<consent_id>/revoke")
@require("write")
@idempotent
def revoke(consent_id: str) -> ResponseReturnValue:
    """Withdraw consent: at once for every use, and one job purges the stored voice data."""
    c = ctx()
    keep_outputs = REVOKE_REQUEST.read()["keep_outputs"]
    with c.sessions.begin() as s:
        consent = s.get(Consent, tenant_consent(s, consent_id).id, with_for_update=True)
        voice_ids = revoke_consent(s, consent, keep_outputs=keep_outputs,  # type: ignore[arg-type]
                                   actor=f"key:{g.key_prefix}")
    c.queue.send(dispatch.PURGE, "consent", consent_id, keep_outputs)
    with c.sessions() as s:
        return jsonify({**consent_json(tenant_consent(s, consent_id)), "voice_ids": voice_ids}), 202
