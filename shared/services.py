"""Write-side operations both the API and the CLI perform: one implementation each."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from shared import keys
from shared.audit import record
from shared.models import Batch, Item, ReferenceAudio, Voice, new_id
from shared.storage import Storage


def register_voice(
    session: Session, storage: Storage, tenant_id: str, name: str, language: str, reference: bytes,
    content_type: str | None, actor: str,
) -> str:
    """Store the reference and record a pending voice; the caller enqueues enrollment."""
    voice_id, ref_id = new_id(), new_id()
    original_key = keys.reference_key(tenant_id, voice_id, ref_id, "original")
    storage.put(original_key, reference, content_type or "application/octet-stream")
    session.add(Voice(id=voice_id, tenant_id=tenant_id, name=name, language=language))
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
