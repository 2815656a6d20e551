"""Append-only audit trail: one helper so every state change is recorded the same way.

Rows form a hash chain. Each row stores the hash of the row before it (``prev_hash``) and
its own ``hash``: SHA-256 over a canonical JSON of its fields and ``prev_hash``. Editing,
deleting or reordering a row breaks the chain at that row, and ``verify`` reports where.
Appends are serialized (one writer at a time extends the chain), and ``prev_hash`` is
unique, so the database itself refuses a fork. On PostgreSQL a trigger (migration 0005)
refuses UPDATE, DELETE and TRUNCATE for every role; the chain catches whoever gets past it.
Who can get past the trigger is the table's owner, which the services' role is not
(shared/db_roles.py); and a chain rewritten and re-hashed from some row on would verify
again, so signed checkpoints (shared/audit_anchor.py) pin rows of it with a key the services
never hold: ``verify`` checks them when it is given them as ``anchors``.

The row id is not hashed: it is minted by the database at insert time, after the hash is
computed, and sequences may leave gaps anyway. Order is carried by the links instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.models import AuditEvent, utcnow

GENESIS = "0" * 64  # the prev_hash of the first row
# The key of the PostgreSQL advisory lock that serializes appends ("narrator audit" in ASCII, truncated).
AUDIT_LOCK_KEY = 0x6E61727261746F72
HASHED_FIELDS = ("tenant_id", "actor", "action", "target_type", "target_id", "details", "created_at")


def canonical_time(value: datetime) -> str:
    """UTC with microseconds; SQLite hands timestamps back without a zone, and they were written as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of a row's hashed fields and its predecessor's hash."""
    doc = {name: fields[name] for name in HASHED_FIELDS}
    doc["created_at"] = canonical_time(doc["created_at"])
    doc["prev_hash"] = prev_hash
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in HASHED_FIELDS}


def serialize_appends(session: Session) -> None:
    """Hold the chain's write lock until this transaction ends, so reading the last hash and
    appending the next row happen with no other append in between."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    elif dialect == "sqlite":
        # SQLite has one writer, but a read followed by a write is not atomic unless the write
        # lock is taken first: a statement that writes nothing still takes it.
        session.execute(text("UPDATE audit_events SET id = id WHERE 0"))


def record(
    session: Session, tenant_id: str | None, actor: str, action: str, target_type: str, target_id: str,
    **details: Any,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction (its commit publishes it)."""
    session.flush()  # the caller's own pending writes first: they come before the audit row
    serialize_appends(session)
    prev_hash = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    # Through JSON and back: the hash is taken over exactly what the database will hand back.
    stored_details = json.loads(json.dumps(details, ensure_ascii=False, allow_nan=False, default=str))
    event = AuditEvent(tenant_id=tenant_id, actor=actor, action=action, target_type=target_type,
                       target_id=target_id, details=stored_details, created_at=utcnow(), prev_hash=prev_hash)
    event.hash = row_hash(_fields(event), prev_hash)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class Verification:
    ok: bool
    rows: int
    head: str | None = None  # the last row's hash: kept elsewhere, it also proves nothing was cut off the end
    first_broken_id: int | None = None
    reason: str | None = None
    checkpoints: int | None = None  # signed checkpoints checked; None: the chain alone (unanchored)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "rows": self.rows, "anchored": self.checkpoints is not None}
        if self.checkpoints is not None:
            out["checkpoints"] = self.checkpoints
        if self.head is not None:
            out["head"] = self.head
        if not self.ok:
            out["first_broken_id"] = self.first_broken_id
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Anchor:
    """What a signed checkpoint says of one row: it was the ``rows``-th and had ``head_hash``."""

    checkpoint_id: int
    rows: int
    head_hash: str


def verify(session: Session, batch_size: int = 1000, anchors: Mapping[int, Anchor] | None = None) -> Verification:
    """Walk the chain in id order and recompute every link; stop at the first broken one.
    With ``anchors`` (row id → checkpoint, signatures already checked), each anchored row must
    still be where, and what, its checkpoint says."""
    anchors = anchors or {}
    met: set[int] = set()
    expected_prev = GENESIS
    rows = 0
    columns = [AuditEvent.id, AuditEvent.prev_hash, AuditEvent.hash,
               *(getattr(AuditEvent, name) for name in HASHED_FIELDS)]
    result = session.execute(select(*columns).order_by(AuditEvent.id).execution_options(yield_per=batch_size))
    for row in result.mappings():
        rows += 1
        if row["prev_hash"] != expected_prev:
            return Verification(False, rows, first_broken_id=row["id"],
                                reason="prev_hash does not match the previous row's hash "
                                       "(a row before it was removed, inserted or reordered)")
        if row["hash"] != row_hash(row, row["prev_hash"]):
            return Verification(False, rows, first_broken_id=row["id"],
                                reason="hash does not match the row's contents (the row was modified)")
        anchor = anchors.get(row["id"])
        if anchor is not None:
            met.add(row["id"])
        if anchor is not None and (anchor.head_hash != row["hash"] or anchor.rows != rows):
            return Verification(False, rows, first_broken_id=row["id"],
                                reason=f"the chain no longer matches signed checkpoint {anchor.checkpoint_id} at this "
                                       "row: rows up to it were rewritten and re-hashed, removed or inserted")
        expected_prev = row["hash"]
    missing = sorted(set(anchors) - met)
    if missing:
        anchor = anchors[missing[0]]
        return Verification(False, rows, first_broken_id=missing[0],
                            reason=f"row {missing[0]}, signed by checkpoint {anchor.checkpoint_id}, is gone "
                                   "(rows were removed)")
    return Verification(True, rows, head=expected_prev if rows else None)
