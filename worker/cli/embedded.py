"""An embedded narrator for ``narrator render``: the jobs the API's workers run, in process."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

from shared import dispatch, storage_keys
from shared.consent import create_consent
from shared.errors import NotFound
from shared.migrate import upgrade
from shared.models import Consent, ConsentStatus, ReferenceAudio, Voice, VoiceStatus
from shared.services import register_voice
from shared.settings import Settings
from shared.tenants import create_tenant, find_tenant
from worker.celery_app import make_celery
from worker.cli.consent import LocalConsent


class Embedded:
    """An embedded narrator: migrated database, local tenant, the in-process task queue."""

    TENANT = "local"

    def __init__(self, settings: Settings) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
        self.ctx = make_celery(settings).narrator  # type: ignore[attr-defined]
        with self.ctx.sessions.begin() as s:
            try:
                self.tenant_id = find_tenant(s, self.TENANT).id
            except NotFound:
                self.tenant_id = create_tenant(s, self.TENANT, actor="cli").id

    def run(self, task: str, *args: str) -> None:
        self.ctx.queue.send(task, *args)

    def consent_for(self, consent: LocalConsent, language: str) -> str:
        """Record and verify the speaker's consent, through the same job the API uses."""
        with self.ctx.sessions.begin() as s:
            row = create_consent(
                s, self.tenant_id, speaker_name=consent.speaker, company_name=consent.company,
                agreement_version="cli", agreement_text=f"consent recording {consent.recording.name}",
                signature=consent.speaker, language=language, client_ip=None, user_agent="narrator-cli", actor="cli")
            row.statement, row.code = consent.statement(language), None
            row.recording_key = storage_keys.consent_recording_key(self.tenant_id, row.id)
            self.ctx.storage.put(row.recording_key, consent.recording.read_bytes(), "audio/wav")
            row.status = ConsentStatus.verifying.value
            consent_id = row.id
        self.run(dispatch.VERIFY_CONSENT, consent_id)
        with self.ctx.sessions() as s:
            row = s.get(Consent, consent_id)
            assert row is not None
            if row.status != ConsentStatus.verified.value:
                raise SystemExit(f"narrator: consent not verified: {(row.verification or {}).get('reason')}")
        return consent_id

    def voice_for(self, reference: Path, language: str, consent: LocalConsent) -> str:
        """Enroll a reference once, through the enroll job; the same file (by SHA-256) reuses the ready voice."""
        data = reference.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        consent_id = self.consent_for(consent, language)  # every run: the speaker's word is checked anew
        with self.ctx.sessions() as s:
            existing = s.scalar(
                select(Voice.id).join(ReferenceAudio, ReferenceAudio.voice_id == Voice.id)
                .where(ReferenceAudio.sha256 == digest, Voice.language == language,
                       Voice.status == VoiceStatus.ready.value, Voice.tenant_id == self.tenant_id)
            )
        if existing:
            return existing
        with self.ctx.sessions.begin() as s:
            voice_id = register_voice(s, self.ctx.storage, self.tenant_id, reference.stem, language, data,
                                      "audio/wav", actor="cli", consent_id=consent_id)
        self.run(dispatch.ENROLL, voice_id)
        with self.ctx.sessions() as s:
            voice = s.get(Voice, voice_id)
            assert voice is not None
            if voice.status != VoiceStatus.ready.value:
                raise SystemExit(f"narrator: enrollment failed: {voice.error}")
        return voice_id
