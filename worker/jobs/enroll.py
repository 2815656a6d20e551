"""Enrollment: a voice's reference audio cleaned, checked against its consent, and cloned.

The consent is checked here, where the reference is in hand: it must be in force, in the
voice's language, and recorded by the same speaker (``worker.enrollment``, the core the
CLI's in-memory enrollment shares). The consent's own
recording is checked when it is uploaded (``worker.jobs.consent``).
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from shared import storage_keys, webhooks
from shared.audio_limits import AudioLimits
from shared.audio_types import SAMPLE_RATE
from shared.audit import record
from shared.consent import in_force, same_language
from shared.models import Consent, ReferenceAudio, Voice, VoiceStatus, VoiceVersion
from worker.context import WorkerContext
from worker.jobs.notify import send_webhooks
from worker.tts.checks.decode import decode_audio
from worker.tts.checks.reference_report import ReferenceRejected
from worker.tts.synthesis.audio import sha256, to_wav_bytes

log = logging.getLogger(__name__)


def enroll_voice(ctx: WorkerContext, voice_id: str) -> None:
    # deferred: reference QA loads scipy and librosa (seconds); only the enroll queue's workers need it
    from worker.enrollment import SpeakerMismatch, clean, enroll_cleaned

    with ctx.sessions() as s:
        voice = s.get(Voice, voice_id)
        if voice is None:
            log.warning("enroll: voice %s no longer exists", voice_id)
            return
        if voice.status in (VoiceStatus.ready.value, VoiceStatus.deleted.value):
            return  # redelivered after success, or deleted (and purged) before enrollment began
        ref = s.scalars(
            select(ReferenceAudio).where(ReferenceAudio.voice_id == voice_id).order_by(ReferenceAudio.created_at.desc())
        ).first()
        consent = s.get(Consent, voice.consent_id) if voice.consent_id else None
        tenant_id, language = voice.tenant_id, voice.language
    if ref is None:
        fail_voice(ctx, voice_id, "the voice has no reference audio")
        return
    if not in_force(consent):
        fail_voice(ctx, voice_id, "consent_required: the voice has no verified, unrevoked consent")
        return
    if not same_language(consent.language, language):
        fail_voice(ctx, voice_id, f"consent_language_mismatch: the consent was given in {consent.language!r}, "
                                  f"the voice is {language!r}")
        return
    ref_id, original_key, consent_key = ref.id, ref.original_key, consent.recording_key

    data = ctx.storage.get(original_key)
    models = ctx.models
    try:
        cleaned = clean(models, data, language, AudioLimits.reference(ctx.settings))
    except ReferenceRejected as exc:
        report = exc.report.to_dict() if exc.report is not None else None
        with ctx.sessions.begin() as s:
            ref_row = s.get(ReferenceAudio, ref_id)
            if ref_row is not None:
                ref_row.qa_report = report
        fail_voice(ctx, voice_id, f"reference audio rejected: {exc}")
        return

    try:
        consent_audio = decode_audio(ctx.storage.get(consent_key), AudioLimits.consent(ctx.settings))
    except ReferenceRejected as exc:
        fail_voice(ctx, voice_id, f"consent recording unusable: {exc}")
        return
    try:
        enrolled = enroll_cleaned(models, cleaned, consent_audio, language, ctx.settings.consent_speaker_threshold)
    except SpeakerMismatch as exc:
        fail_voice(ctx, voice_id, exc.reason)
        return
    state, similarity = enrolled.state, enrolled.similarity

    cleaned_key = storage_keys.reference_key(tenant_id, voice_id, ref_id, "cleaned.wav")
    ctx.storage.put(cleaned_key, to_wav_bytes(cleaned.audio, SAMPLE_RATE), "audio/wav")

    with ctx.sessions.begin() as s:
        voice = s.get(Voice, voice_id, with_for_update=True)  # serialises with a revocation
        if voice is None or voice.status == VoiceStatus.deleted.value:
            ctx.storage.delete(cleaned_key)  # deleted mid-enrollment: the purge may already have run
            return
        version = (s.scalar(select(func.max(VoiceVersion.version)).where(VoiceVersion.voice_id == voice_id)) or 0) + 1
        blob = state.to_bytes()
        state_key = storage_keys.voice_state_key(tenant_id, voice_id, version)
        ctx.storage.put(state_key, blob)
        vv = VoiceVersion(
            voice_id=voice_id,
            version=version,
            state_key=state_key,
            state_sha256=sha256(blob),
            engine=models.engine.name,
            engine_version=state.engine_version,
            method=state.method,
            metrics={**state.metrics, "reference_qa": cleaned.report.to_dict(),
                     "consent_similarity": round(similarity, 4)},
        )
        s.add(vv)
        s.flush()
        ref_row = s.get(ReferenceAudio, ref_id)
        if ref_row is not None:
            ref_row.cleaned_key = cleaned_key
            ref_row.qa_report = cleaned.report.to_dict()
            ref_row.duration_s = round(len(cleaned.audio) / SAMPLE_RATE, 3)
        voice.current_version_id = vv.id
        voice.status = VoiceStatus.ready.value
        voice.error = None
        record(s, tenant_id, "worker", "voice.ready", "voice", voice_id, version=version, method=state.method)
        deliveries = webhooks.emit_voice_settled(s, voice)
    send_webhooks(ctx, deliveries)
    log.info("voice %s ready (version %d)", voice_id, version)


def fail_voice(ctx: WorkerContext, voice_id: str, reason: str) -> None:
    with ctx.sessions.begin() as s:
        voice = s.get(Voice, voice_id)
        if voice is None or voice.status == VoiceStatus.deleted.value:
            return
        voice.status = VoiceStatus.failed.value
        voice.error = reason
        record(s, voice.tenant_id, "worker", "voice.failed", "voice", voice_id, reason=reason)
        deliveries = webhooks.emit_voice_settled(s, voice)
    send_webhooks(ctx, deliveries)
    log.info("voice %s failed: %s", voice_id, reason)

