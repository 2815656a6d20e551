"""Signed checkpoints: what anchors the audit hash chain against a rewrite plus re-hash.

The chain (shared.audit) shows a row changed behind the trigger's back, unless whoever changed
it also recomputed every hash after it: the chain is then whole again, only different. A
checkpoint pins one row: "row ``event_id`` was the ``rows``-th of the chain and had hash
``head_hash``", signed with HMAC-SHA256 under ``Settings.audit_hmac_key``. That key is given to
the job that writes checkpoints (``narrator migrate``, ``narrator audit checkpoint``, run as the
schema owner) and to whoever verifies, never to the API, workers or beat; their database role
may read checkpoints but not write them (shared/db_roles.py), and a trigger keeps the table
append-only. A rewrite of any row up to the last checkpoint then fails verification, because
no one holding only the database can sign the new head. Rows after the last checkpoint are
covered by the chain alone until the next one: checkpoint as often as that gap matters.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit import Anchor, Verification, canonical_time, serialize_appends, verify
from shared.errors import Conflict, InvalidInput
from shared.models import AuditCheckpoint, AuditEvent, utcnow


def signature(key: str, event_id: int, rows: int, head_hash: str, created_at: datetime) -> str:
    message = f"narrator-audit-checkpoint|{event_id}|{rows}|{head_hash}|{canonical_time(created_at)}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def _require_key(key: str) -> None:
    if len(key) < 16:
        raise InvalidInput("NARRATOR_AUDIT_HMAC_KEY must be set (16 characters or more) to sign or check "
                           "audit checkpoints", field="audit_hmac_key")


def write_checkpoint(session: Session, key: str) -> AuditCheckpoint | None:
    """Sign the chain's current head, after checking the chain up to it (a checkpoint must never
    bless a chain already broken). None when the chain is empty. Run as the schema owner: the
    services' role cannot insert checkpoints."""
    _require_key(key)
    serialize_appends(session)  # no row is appended between the check and the signature
    result = verify_anchored(session, key)
    if not result.ok:
        raise Conflict(f"the audit chain is broken at row {result.first_broken_id} ({result.reason}); "
                       "no checkpoint was written")
    if not result.rows or result.head is None:
        return None
    last_id = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    assert last_id is not None  # rows > 0
    now = utcnow()
    checkpoint = AuditCheckpoint(event_id=last_id, rows=result.rows, head_hash=result.head, created_at=now,
                                 signature=signature(key, last_id, result.rows, result.head, now))
    session.add(checkpoint)
    session.flush()
    return checkpoint


def verify_anchored(session: Session, key: str) -> Verification:
    """The chain checked against every signed checkpoint; a checkpoint whose signature does not
    hold (forged, or written without the key) fails verification by itself."""
    _require_key(key)
    anchors: dict[int, Anchor] = {}
    checkpoints = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).all()
    for cp in checkpoints:
        expected = signature(key, cp.event_id, cp.rows, cp.head_hash, cp.created_at)
        if not hmac.compare_digest(expected, cp.signature):
            return Verification(False, 0, first_broken_id=cp.event_id, checkpoints=len(checkpoints),
                                reason=f"checkpoint {cp.id} does not carry a valid signature (forged, or signed "
                                       "with another key)")
        anchors[cp.event_id] = Anchor(cp.id, cp.rows, cp.head_hash)
    return replace(verify(session, anchors=anchors), checkpoints=len(checkpoints))
