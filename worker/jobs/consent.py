"""The consent check: the speaker's recording must say the statement generated for it,
with every key phrase (name, company, code) in it. Speech recognition decides."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.audio_limits import AudioLimits
from shared.audit import record
from shared.consent import key_phrases
from shared.models import Consent, ConsentStatus, utcnow
from worker.context import WorkerContext
from worker.tts.checks.decode import decode_audio
from worker.tts.checks.reference_report import ReferenceRejected
from worker.tts.checks.scoring import error_rate
from worker.tts.text.sounds_like import mentions

if TYPE_CHECKING:  # the model stack: imported where it runs (``WorkerContext.models``)
    from worker.model_cache import ModelCache

log = logging.getLogger(__name__)


def check_statement(models: ModelCache, audio: np.ndarray, sample_rate: int, statement: str, language: str,
                    limit: float, phrases: list[str]) -> dict[str, Any]:
    """Does a recording say ``statement``, with every key phrase (name, company, code) in it?
    Speech recognition decides; returns the verification record."""

    transcript = models.transcriber.transcribe(audio, sample_rate, language=language).text
    errors = error_rate(statement, transcript, language)
    missing = [p for p in phrases if not mentions(transcript, p, language)]
    reason = None
    if errors > limit:
        reason = f"the recording does not say the consent statement (error rate {errors:.0%} > {limit:.0%})"
    elif missing:
        reason = f"the recording does not say {', '.join(repr(p) for p in missing)} as the statement does"
    return {"transcript": transcript, "error_rate": round(errors, 4), "max_error_rate": limit, "reason": reason}


def verify_consent(ctx: WorkerContext, consent_id: str) -> None:
    """The consent's recording must say the statement generated for it."""

    with ctx.sessions() as s:
        consent = s.get(Consent, consent_id)
        if consent is None or consent.status != ConsentStatus.verifying.value or not consent.recording_key:
            return  # redelivered, or revoked meanwhile
        statement, language, key = consent.statement, consent.language, consent.recording_key
        phrases = key_phrases(consent.speaker_name, consent.company_name, consent.code)
    limit = ctx.settings.consent_max_error_rate
    try:
        audio, sr = decode_audio(ctx.storage.get(key), AudioLimits.consent(ctx.settings))
        verification = check_statement(ctx.models, audio, sr, statement, language, limit, phrases)
    except ReferenceRejected as exc:
        verification = {"transcript": "", "error_rate": 1.0, "max_error_rate": limit,
                        "reason": f"the recording could not be decoded: {exc}"}
    with ctx.sessions.begin() as s:
        consent = s.get(Consent, consent_id)
        if consent is None or consent.status != ConsentStatus.verifying.value:
            return
        ok = verification["reason"] is None
        consent.status = (ConsentStatus.verified if ok else ConsentStatus.rejected).value
        consent.verified_at = utcnow() if ok else None
        consent.verification = verification
        record(s, consent.tenant_id, "worker", f"consent.{consent.status}", "consent", consent_id,
               error_rate=verification["error_rate"])
    log.info("consent %s %s", consent_id, consent.status)


def refuse_consent(ctx: WorkerContext, consent_id: str, reason: str) -> None:
    """A consent whose check could not run (its message was set aside): rejected with the
    reason, as a recording that failed the check would be; the speaker records again."""
    with ctx.sessions.begin() as s:
        consent = s.get(Consent, consent_id)
        if consent is None or consent.status != ConsentStatus.verifying.value:
            return
        consent.status = ConsentStatus.rejected.value
        consent.verification = {"transcript": "", "error_rate": 1.0,
                                "max_error_rate": ctx.settings.consent_max_error_rate, "reason": reason}
        record(s, consent.tenant_id, "worker", "consent.rejected", "consent", consent_id, reason=reason)
    log.info("consent %s rejected: %s", consent_id, reason)
