"""Write-side operations both the API and the CLI perform: one implementation each."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared import keys
from shared.audit import record
from shared.models import Batch, BatchStatus, Item, ItemStatus, ReferenceAudio, Voice, new_id, utcnow
from shared.queries import item_counts
from shared.storage import Storage


def register_voice(
    session: Session, storage: Storage, tenant_id: str, name: str, language: str, reference: bytes,
    content_type: str | None, actor: str, consent_id: str | None = None,
) -> str:
    """Store the reference and record a pending voice; the caller enqueues enrollment."""
    voice_id, ref_id = new_id(), new_id()
    original_key = keys.reference_key(tenant_id, voice_id, ref_id, "original")
    storage.put(original_key, reference, content_type or "application/octet-stream")
    session.add(Voice(id=voice_id, tenant_id=tenant_id, name=name, language=language, consent_id=consent_id))
    session.flush()
    session.add(ReferenceAudio(id=ref_id, voice_id=voice_id, original_key=original_key,
                               sha256=hashlib.sha256(reference).hexdigest(), content_type=content_type,
                               size_bytes=len(reference)))
    record(session, tenant_id, actor, "voice.created", "voice", voice_id, name=name, language=language)
    return voice_id


def create_batch(
    session: Session, tenant_id: str, items: list[dict[str, Any]], name: str | None, params: dict[str, Any],
    actor: str,
) -> str:
    """Record a batch and its items (validated by the caller); the caller enqueues planning."""
    batch_id = new_id()
    session.add(Batch(id=batch_id, tenant_id=tenant_id, name=name, total=len(items), params=params))
    session.flush()
    session.add_all(
        Item(batch_id=batch_id, tenant_id=tenant_id, seq=n, text=it["text"], voice_id=it["voice_id"],
             external_id=it.get("external_id"))
        for n, it in enumerate(items)
    )
    record(session, tenant_id, actor, "batch.created", "batch", batch_id, total=len(items))
    return batch_id


def finish_batch_if_done(sessions: sessionmaker[Session], storage: Storage, batch_id: str) -> None:
    """When no item is left to run, settle the batch's status and write its manifest."""
    with sessions.begin() as s:
        batch = s.get(Batch, batch_id, with_for_update=True)
        if batch is None or batch.finished_at is not None:
            return
        counts = item_counts(s, batch_id)
        if counts[ItemStatus.queued.value] or counts[ItemStatus.running.value]:
            return
        done = counts[ItemStatus.succeeded.value] + counts[ItemStatus.needs_review.value]
        if batch.status == BatchStatus.cancelled.value:
            pass
        elif done == batch.total:
            batch.status = BatchStatus.succeeded.value
        elif done == 0:
            batch.status = BatchStatus.failed.value
        else:
            batch.status = BatchStatus.partial.value
        batch.finished_at = utcnow()
        items = s.scalars(select(Item).where(Item.batch_id == batch_id).order_by(Item.seq)).all()
        lines = [
            json.dumps({
                "item_id": it.id, "seq": it.seq, "external_id": it.external_id, "text": it.text,
                "status": it.status, "storage_key": it.storage_key, "duration_s": it.duration_s,
                "checksum": it.checksum, "voice_version_id": it.voice_version_id, "error": it.error,
                "reused": it.reused,
            }, ensure_ascii=False)
            for it in items
        ]
        key = keys.manifest_key(batch.tenant_id, batch_id)
        storage.put(key, ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
        batch.manifest_key = key
        record(s, batch.tenant_id, "worker", f"batch.{batch.status}", "batch", batch_id, counts=counts)
