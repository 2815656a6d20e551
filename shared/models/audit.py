"""The append-only audit trail and the signed checkpoints of its hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, utcnow


class AuditEvent(Base):
    """Append-only: rows are inserted, never updated or deleted (on PostgreSQL a trigger refuses
    both). A hash chain (shared.audit) shows any row changed behind the trigger's back.

    ``tenant_id`` is a plain string, not a foreign key: deleting a tenant keeps its history."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(36))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Unique: two rows can never extend the same predecessor, so the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement "the chain's row ``event_id`` was the ``rows``-th and had hash
    ``head_hash``". The signature is an HMAC keyed by a secret the application never holds
    (shared.audit_anchor), so a chain rewritten and re-hashed from some row on no longer
    meets a checkpoint after that row. Only the migrating role may insert; nobody updates."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    signature: Mapped[str] = mapped_column(String(64))
