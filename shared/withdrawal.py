"""Withdrawal: a speaker revokes consent, or a tenant deletes a voice.

Both take effect at once, in the request: the consent is ``revoked`` and its voices are
``deleted`` (tombstones that stay for the audit trail), so no enrollment, batch or render
can use them from that moment. Deleting the stored audio and model state is slower and
touches storage, so it is one purge job (``worker.jobs.purge``) enqueued by the caller.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit import record
from shared.errors import Conflict
from shared.models import Consent, ConsentStatus, Voice, VoiceStatus, utcnow


def revoke_consent(session: Session, consent: Consent, *, keep_outputs: bool, actor: str) -> list[str]:
    """Revoke ``consent`` and delete every voice built on it; returns those voices' ids."""
    if consent.status == ConsentStatus.revoked.value or consent.revoked_at is not None:
        raise Conflict(f"consent {consent.id!r} is already revoked")
    now = utcnow()
    previous = consent.status
    consent.status, consent.revoked_at = ConsentStatus.revoked.value, now
    voices = session.scalars(select(Voice).where(Voice.consent_id == consent.id).order_by(Voice.created_at)).all()
    voice_ids = [v.id for v in voices]
    record(session, consent.tenant_id, actor, "consent.revoked", "consent", consent.id, previous_status=previous,
           keep_outputs=keep_outputs, voice_ids=voice_ids)
    for voice in voices:
        if voice.status != VoiceStatus.deleted.value:
            _mark_deleted(session, voice, actor, keep_outputs, reason="consent revoked")
    return voice_ids


def delete_voice(session: Session, voice: Voice, *, keep_outputs: bool, actor: str) -> None:
    """Delete one voice (its consent stays in force for other voices of the same speaker)."""
    if voice.status == VoiceStatus.deleted.value:
        raise Conflict(f"voice {voice.id!r} is already deleted")
    _mark_deleted(session, voice, actor, keep_outputs, reason="deleted by the tenant")


def _mark_deleted(session: Session, voice: Voice, actor: str, keep_outputs: bool, reason: str) -> None:
    voice.status, voice.deleted_at = VoiceStatus.deleted.value, utcnow()
    voice.error = None
    record(session, voice.tenant_id, actor, "voice.deleted", "voice", voice.id, reason=reason,
           keep_outputs=keep_outputs)
