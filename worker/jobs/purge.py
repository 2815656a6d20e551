"""The purge job: a revoked consent's (or a deleted voice's) stored data is deleted.

What goes, for every voice in scope: the reference audio (original and cleaned), each
version's model state, anything else under the voice's storage prefix (adapters), and the
``reference_audio`` and ``voice_versions`` rows. The voice row stays as a ``deleted``
tombstone, because items and audit events name it. Unless ``keep_outputs``, rendered item
audio is deleted as well and the items keep their text and status but lose
``storage_key``, ``checksum`` and ``content_hash`` (so nothing can be served or reused from
them); so is the ZIP (``batch.zip``, served by ``zip_url``) of every batch holding an item
of the voice, whose ``zip_key`` is cleared — a ZIP that also carried other voices' items
goes whole (they stay downloadable one by one; the manifest, text only, stays). For a revoked consent the consent recording goes too; the consent row stays as the
record of what was agreed and when it was withdrawn. Audit rows are never touched.

Storage is deleted before the rows that name it, so a job that dies half-way leaves rows
pointing at missing objects, never objects nothing points at; a redelivered job deletes
what is left and finds nothing more to do.
"""

from __future__ import annotations

import logging
from collections import Counter

from sqlalchemy import select, update

from shared import storage_keys
from shared.audit import record
from shared.models import (
    Batch,
    Consent,
    Item,
    ItemStatus,
    ReferenceAudio,
    Voice,
    VoiceStatus,
    VoiceVersion,
    utcnow,
)
from shared.services import finish_batch_if_done
from worker.context import WorkerContext
from worker.jobs.errors import ConsentRevoked, recorded

log = logging.getLogger(__name__)

SCOPES = ("consent", "voice")
REVOKED_ERROR = recorded(ConsentRevoked("the voice was deleted or its consent revoked before this item was rendered"))


def purge(ctx: WorkerContext, scope: str, target_id: str, keep_outputs: bool) -> Counter[str]:
    """Purge everything stored for a revoked consent or a deleted voice; returns what was deleted."""
    if scope not in SCOPES:
        raise ValueError(f"purge scope must be one of {SCOPES}, not {scope!r}")
    with ctx.sessions() as s:
        if scope == "consent":
            consent = s.get(Consent, target_id)
            if consent is None or consent.revoked_at is None:
                log.warning("purge: consent %s is missing or not revoked; nothing purged", target_id)
                return Counter()
            tenant_id = consent.tenant_id
            voice_ids = list(s.scalars(select(Voice.id).where(Voice.consent_id == target_id)))
        else:
            voice = s.get(Voice, target_id)
            if voice is None or voice.status != VoiceStatus.deleted.value:
                log.warning("purge: voice %s is missing or not deleted; nothing purged", target_id)
                return Counter()
            tenant_id, voice_ids = voice.tenant_id, [target_id]
    counts: Counter[str] = Counter()
    for voice_id in voice_ids:
        counts.update(purge_voice(ctx, tenant_id, voice_id, keep_outputs))
    if scope == "consent":
        counts.update(purge_consent_recording(ctx, tenant_id, target_id))
    log.info("purged %s %s: %s", scope, target_id, dict(counts))
    return counts


def purge_voice(ctx: WorkerContext, tenant_id: str, voice_id: str, keep_outputs: bool) -> Counter[str]:
    counts: Counter[str] = Counter()
    counts["items_failed"] = fail_queued_items(ctx, voice_id)
    with ctx.sessions() as s:
        refs = s.scalars(select(ReferenceAudio).where(ReferenceAudio.voice_id == voice_id)).all()
        ref_keys = [k for r in refs for k in (r.original_key, r.cleaned_key) if k]
        state_keys = list(s.scalars(select(VoiceVersion.state_key).where(VoiceVersion.voice_id == voice_id)))
        item_keys = [] if keep_outputs else list(s.scalars(
            select(Item.storage_key).where(Item.voice_id == voice_id, Item.storage_key.is_not(None))))
        zips = {} if keep_outputs else dict(s.execute(
            select(Batch.id, Batch.zip_key).where(Batch.zip_key.is_not(None), Batch.id.in_(
                select(Item.batch_id).where(Item.voice_id == voice_id).distinct()))).all())
    for key in [*ref_keys, *state_keys, *item_keys, *zips.values()]:  # rows may name keys outside the prefix
        ctx.storage.delete(key)
    counts["objects"] = len(ref_keys) + len(state_keys) + len(item_keys) + len(zips)
    counts["zips"] = len(zips)
    counts["objects"] += ctx.storage.delete_prefix(storage_keys.voice_prefix(tenant_id, voice_id))  # adapters, leftovers
    with ctx.sessions.begin() as s:
        voice = s.get(Voice, voice_id, with_for_update=True)
        if voice is None:
            return counts
        for model in (ReferenceAudio, VoiceVersion):
            rows = s.scalars(select(model).where(model.voice_id == voice_id)).all()
            counts[model.__tablename__] = len(rows)
            for row in rows:
                s.delete(row)
        if not keep_outputs:
            counts["items_cleared"] = s.execute(
                update(Item).where(Item.voice_id == voice_id, Item.storage_key.is_not(None))
                .values(storage_key=None, checksum=None, content_hash=None)).rowcount
            if zips:
                s.execute(update(Batch).where(Batch.id.in_(list(zips))).values(zip_key=None))
        voice.current_version_id = None
        first = voice.purged_at is None
        voice.purged_at = voice.purged_at or utcnow()
        if first or any(counts.values()):
            record(s, tenant_id, "worker", "voice.purged", "voice", voice_id, keep_outputs=keep_outputs,
                   **{k: v for k, v in counts.items() if v})
    return counts


def fail_queued_items(ctx: WorkerContext, voice_id: str) -> int:
    """Items still waiting for this voice fail now, so their batches can finish."""
    with ctx.sessions.begin() as s:
        batch_ids = set(s.scalars(select(Item.batch_id).where(Item.voice_id == voice_id,
                                                              Item.status == ItemStatus.queued.value)))
        failed = s.execute(update(Item).where(Item.voice_id == voice_id, Item.status == ItemStatus.queued.value)
                           .values(status=ItemStatus.failed.value, error=REVOKED_ERROR, finished_at=utcnow())
                           ).rowcount
    for batch_id in batch_ids:
        finish_batch_if_done(ctx.sessions, ctx.storage, batch_id)
    return int(failed)


def purge_consent_recording(ctx: WorkerContext, tenant_id: str, consent_id: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    with ctx.sessions() as s:
        consent = s.get(Consent, consent_id)
        key = consent.recording_key if consent else None
    if key:
        ctx.storage.delete(key)
        counts["objects"] += 1
    counts["objects"] += ctx.storage.delete_prefix(storage_keys.consent_prefix(tenant_id, consent_id))
    with ctx.sessions.begin() as s:
        consent = s.get(Consent, consent_id)
        if consent is None:
            return counts
        first = consent.purged_at is None
        consent.recording_key = None
        consent.purged_at = consent.purged_at or utcnow()
        if first or any(counts.values()):
            record(s, tenant_id, "worker", "consent.purged", "consent", consent_id, objects=counts["objects"])
    return counts
