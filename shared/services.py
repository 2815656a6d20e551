"""Write-side operations both the API and the CLI perform: one implementation each."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from shared import storage_keys, webhooks
from shared.audit import record
from shared.manifests import write_deliverables
from shared.models import Batch, BatchStatus, Item, ItemStatus, ReferenceAudio, Voice, new_id, utcnow
from shared.queries import item_counts
from shared.storage import Storage

INSERT_CHUNK = 1000


def register_voice(
    session: Session, storage: Storage, tenant_id: str, name: str, language: str, reference: bytes,
    content_type: str | None, actor: str, consent_id: str | None = None,
) -> str:
    """Store the reference and record a pending voice; the caller enqueues enrollment."""
    voice_id, ref_id = new_id(), new_id()
    original_key = storage_keys.reference_key(tenant_id, voice_id, ref_id, "original")
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
    insert_items(session, batch_id, tenant_id, 0, items)
    record(session, tenant_id, actor, "batch.submitted", "batch", batch_id, total=len(items))
    return batch_id


def insert_items(session: Session, batch_id: str, tenant_id: str, first_seq: int, items: list[dict[str, Any]]) -> None:
    """Bulk-insert items (executemany, ``INSERT_CHUNK`` rows a statement) numbered from ``first_seq``.

    An item dict may carry ``status`` and ``error``: a source line that failed validation is
    stored as a failed item, so it shows in the counts and the manifest beside the others.
    """
    now = utcnow()
    rows = [
        {"id": new_id(), "batch_id": batch_id, "tenant_id": tenant_id, "seq": first_seq + n, "text": it["text"],
         "voice_id": it["voice_id"], "external_id": it.get("external_id"),
         "status": it.get("status", ItemStatus.queued.value), "error": it.get("error"), "attempts": 0,
         "reused": False, "created_at": now, "finished_at": now if it.get("status") == ItemStatus.failed.value
         else None}
        for n, it in enumerate(items)
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(Item), rows[start:start + INSERT_CHUNK])


def create_sourced_batch(
    session: Session, tenant_id: str, batch_id: str, source_key: str, fmt: str, name: str | None,
    params: dict[str, Any], actor: str, expected_lines: int,
) -> str:
    """Record a batch whose items are still in an uploaded source (already stored under
    ``source_key``); the caller enqueues planning, which reads the source into items."""
    session.add(Batch(id=batch_id, tenant_id=tenant_id, name=name, total=0, params=params,
                      status=BatchStatus.planning.value, source_key=source_key, source_format=fmt))
    record(session, tenant_id, actor, "batch.submitted", "batch", batch_id, source=fmt, lines=expected_lines)
    return batch_id


def finish_batch_if_done(sessions: sessionmaker[Session], storage: Storage, batch_id: str,
                         notify: Callable[[list[str]], None] | None = None) -> None:
    """When no item is left to run, settle the batch's status and write its manifest (and ZIP).

    The webhook event (``batch.completed`` / ``batch.failed``) is written in the same
    transaction as the status; ``notify`` gets the delivery ids after commit to enqueue them.

    Callers may call it on a hunch (the API after a cancel, the purge, the sweeper, a
    worker whose read after an item saw nothing left): the first check is one index probe
    without a lock, and the counting under the batch's lock happens only when it passes.
    """
    unfinished = (ItemStatus.queued.value, ItemStatus.running.value)
    with sessions() as s:
        if s.scalar(select(Item.id).where(Item.batch_id == batch_id, Item.status.in_(unfinished)).limit(1)):
            return
    with sessions.begin() as s:
        batch = s.get(Batch, batch_id, with_for_update=True)
        if batch is None or batch.finished_at is not None or batch.status == BatchStatus.planning.value:
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
        key = storage_keys.manifest_key(batch.tenant_id, batch_id)
        zip_key = storage_keys.batch_zip_key(batch.tenant_id, batch_id) if (batch.params or {}).get("zip") else None
        s.flush()
        write_deliverables(s, storage, batch_id, key, zip_key)
        batch.manifest_key, batch.zip_key = key, zip_key
        record(s, batch.tenant_id, "worker", f"batch.{batch.status}", "batch", batch_id, counts=counts)
        deliveries = webhooks.emit_batch_finished(s, batch, counts)
    if notify is not None and deliveries:
        notify(deliveries)
