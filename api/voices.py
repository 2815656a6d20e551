"""Voices: upload a reference, an enrollment job builds the voice, poll its status."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api import validation
from api.auth import owned, require
from api.context import ctx
from api.idempotency import idempotent
from api.schema import Choice, Field, Flag, Form, Language, Text, operation
from shared import dispatch, stock_voices
from shared.audio_limits import AudioLimits
from shared.audio_types import stored_audio_type
from shared.consent import usable_consent
from shared.errors import InvalidInput
from shared.models import ReferenceAudio, Voice, VoiceVersion
from shared.services import register_voice
from shared.withdrawal import delete_voice as mark_deleted

bp = Blueprint("voices", __name__, url_prefix="/v1/voices")
VOICE_FORM = Form({
    "name": Text(max_len=200, required=True),
    "language": Language(),
    "consent_id": Field({"type": "string"}, description="a verified consent of the speaker"),  # checked with the row
}, files={"reference": "the speaker's recording: WAV, FLAC, OGG, MP3, M4A or WebM"},
    required=("name", "language", "reference", "consent_id"))
LIST_QUERY = {"kind": Choice(values=("own", "stock"), default="own",
                             description="own: the tenant's voices; stock: the stock catalogue")}
DELETE_QUERY = {"keep_outputs": Flag(default=False, description="keep audio already rendered with it")}


def voice_json(voice: Voice, version: VoiceVersion | None) -> dict[str, object]:
    out: dict[str, object] = {
        "id": voice.id, "name": voice.name, "language": voice.language, "status": voice.status,
        "error": voice.error, "consent_id": voice.consent_id, "created_at": voice.created_at.isoformat(),
    }
    if voice.deleted_at is not None:
        out["deleted_at"] = voice.deleted_at.isoformat()
        out["purged_at"] = voice.purged_at.isoformat() if voice.purged_at else None
    if version is not None:
        out["version"] = {
            "id": version.id, "version": version.version, "engine": version.engine,
            "engine_version": version.engine_version, "method": version.method,
            "lexicon_version": version.lexicon_version, "adapter_version": version.adapter_version,
            "similarity": version.metrics.get("similarity"),
            "conversion": version.metrics.get("conversion"),
        }
    return out


def tenant_voice(session, voice_id: str) -> Voice:  # type: ignore[no-untyped-def]
    return owned(session, Voice, voice_id, "voice")


def usable_voice(session, ref: str) -> Voice:  # type: ignore[no-untyped-def]
    """The voice a request names: a stock voice by its name (adopted on first use, no
    consent), or one of the tenant's voices by id."""
    stock = stock_voices.find(ctx().settings.model_cache, ref)
    if stock is not None:
        return tenant_voice(session, stock_voices.adopt(session, g.tenant_id, stock))
    return tenant_voice(session, ref)


@operation(
    "Upload a reference recording; an enrollment job builds the voice",
    {202: ("accepted", "Voice")},
    errors=(401, 403, 413, 415, 422),
    body=VOICE_FORM,
)
@bp.post("")
@require("write")
@idempotent
def create_voice() -> ResponseReturnValue:
    form = request.form
    fields = VOICE_FORM.read()
    name, lang = fields["name"], fields["language"]
    upload = request.files.get("reference")
    if upload is None:
        raise InvalidInput("'reference' (an audio file, multipart/form-data) is required", field="reference")
    data = upload.read()
    c = ctx()
    validation.audio_upload(data, AudioLimits.reference(c.settings))
    with c.sessions.begin() as s:
        consent = usable_consent(s, g.tenant_id, form.get("consent_id"), language=lang)
        voice_id = register_voice(s, c.storage, g.tenant_id, name, lang, data, stored_audio_type(data),
                                  f"key:{g.key_prefix}", consent_id=consent.id)
    c.queue.send(dispatch.ENROLL, voice_id)
    with c.sessions() as s:
        voice = tenant_voice(s, voice_id)
        body = voice_json(voice, s.get(VoiceVersion, voice.current_version_id) if voice.current_version_id else None)
    return jsonify(body), 202, {"Location": url_for("voices.get_voice", voice_id=voice_id)}


@operation("A voice and its status",
           {200: ("voice", "Voice")},
           errors=(401, 404))
@bp.get("/<voice_id>")
@require("read")
def get_voice(voice_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        voice = tenant_voice(s, voice_id)
        version = s.get(VoiceVersion, voice.current_version_id) if voice.current_version_id else None
        body = voice_json(voice, version)
        ref = s.scalars(select(ReferenceAudio).where(ReferenceAudio.voice_id == voice_id)).first()
        if ref is not None:
            body["reference_qa"] = ref.qa_report
    return jsonify(body)


@operation("The tenant's own voices (its clones and the stock voices it has used), or ?kind=stock the stock "
           "catalogue (no consent needed)",
           {200: "voices"}, errors=(401, 422), query=LIST_QUERY)
@bp.get("")
@require("read")
def list_voices() -> ResponseReturnValue:
    """The tenant's own voices (its clones, and the stock voices it has used); ``?kind=stock``
    the stock catalogue (no consent needed: name one as ``voice_id`` in a batch or a preview,
    or as ``voice`` in /v1/audio/speech)."""
    kind = LIST_QUERY["kind"].read(request.args, "kind")
    if kind == "stock":
        return jsonify(voices=[{**v.to_json(), "preview_url": url_for("speech.stock_preview", name=v.name)}
                               for v in stock_voices.catalogue(ctx().settings.model_cache)])
    with ctx().sessions() as s:
        voices = s.scalars(select(Voice).where(Voice.tenant_id == g.tenant_id).order_by(Voice.created_at)).all()
        return jsonify(voices=[voice_json(v, None) for v in voices])


def withdraw(voice_id: str, keep_outputs: bool) -> None:
    """Delete one of the caller's voices at once and enqueue the purge of its data (API and console)."""
    c = ctx()
    with c.sessions.begin() as s:
        voice = s.get(Voice, tenant_voice(s, voice_id).id, with_for_update=True)
        mark_deleted(s, voice, keep_outputs=keep_outputs, actor=f"key:{g.key_prefix}")  # type: ignore[arg-type]
    c.queue.send(dispatch.PURGE, "voice", voice_id, keep_outputs)


@operation("Delete a voice now; one job purges its audio and state",
           {202: ("deleted; purge enqueued", "Voice")},
           errors=(401, 403, 404, 409, 422),
           query=DELETE_QUERY)
@bp.delete("/<voice_id>")
@require("write")
def delete_voice(voice_id: str) -> ResponseReturnValue:
    """Delete a voice now (no render can use it from here on); one job purges its stored data.
    ``?keep_outputs=true`` keeps the audio already rendered with it."""
    keep_outputs = DELETE_QUERY["keep_outputs"].read(request.args, "keep_outputs")
    withdraw(voice_id, keep_outputs)
    with ctx().sessions() as s:
        return jsonify(voice_json(tenant_voice(s, voice_id), None)), 202
