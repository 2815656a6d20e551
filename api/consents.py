"""Consents: the speaker signs, reads the generated statement aloud, and a job verifies it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from api import validation
from api.auth import owned, require
from api.context import ctx
from api.idempotency import idempotent
from shared import jobs, keys
from shared.audit import record
from shared.consent import create_consent
from shared.errors import Conflict, InvalidInput
from shared.models import Consent, ConsentStatus

bp = Blueprint("consents", __name__, url_prefix="/v1/consents")


def consent_json(c: Consent) -> dict[str, Any]:
    return {
        "id": c.id, "status": c.status, "speaker_name": c.speaker_name, "company_name": c.company_name,
        "language": c.language, "agreement_version": c.agreement_version, "agreement_sha256": c.agreement_sha256,
        "statement": c.statement, "verification": c.verification, "created_at": c.created_at.isoformat(),
        "verified_at": c.verified_at.isoformat() if c.verified_at else None,
    }


def tenant_consent(session, consent_id: str) -> Consent:  # type: ignore[no-untyped-def]
    return owned(session, Consent, consent_id, "consent")


@bp.post("")
@require("write")
@idempotent
def give_consent() -> ResponseReturnValue:
    body = validation.json_body()
    fields = {name: validation.string(body.get(name), name, max_len=limit) for name, limit in (
        ("speaker_name", 200), ("company_name", 200), ("agreement_version", 50), ("signature", 200))}
    agreement_text = validation.string(body.get("agreement_text"), "agreement_text", max_len=100_000)
    language = validation.language(body.get("language", "zh"))
    with ctx().sessions.begin() as s:
        consent = create_consent(
            s, g.tenant_id, agreement_text=agreement_text, language=language,
            client_ip=request.remote_addr, user_agent=request.headers.get("User-Agent", "")[:500],
            actor=f"key:{g.key_prefix}", **fields)  # type: ignore[arg-type]
        body_out = consent_json(consent)
    return jsonify(body_out), 201, {"Location": url_for("consents.get_consent", consent_id=body_out["id"])}


@bp.get("/<consent_id>")
@require("read")
def get_consent(consent_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        return jsonify(consent_json(tenant_consent(s, consent_id)))


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
    validation.audio_upload(data, field="recording")
    with c.sessions.begin() as s:
        consent = tenant_consent(s, consent_id)
        if consent.status != ConsentStatus.awaiting_recording.value:
            raise Conflict(f"consent {consent_id!r} is {consent.status}; a recording is taken only once")
        key = keys.consent_recording_key(g.tenant_id, consent_id)
        c.storage.put(key, data, upload.mimetype or "application/octet-stream")
        consent.recording_key = key
        consent.status = ConsentStatus.verifying.value
        record(s, g.tenant_id, f"key:{g.key_prefix}", "consent.recorded", "consent", consent_id)
    c.enqueue(jobs.VERIFY_CONSENT, consent_id)
    with c.sessions() as s:
        return jsonify(consent_json(tenant_consent(s, consent_id))), 202
