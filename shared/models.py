"""The system of record: every job's state lives in these rows, not in Celery.

Ids are UUID strings so they can be minted anywhere (API, worker, CLI) without a
round trip, and are safe to show to tenants.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class VoiceStatus(str, enum.Enum):
    pending = "pending"
    ready = "ready"
    failed = "failed"


class BatchStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    partial = "partial"  # finished, some items failed
    failed = "failed"
    cancelled = "cancelled"


class ItemStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    needs_review = "needs_review"  # rendered, but the quality gate did not pass it
    failed = "failed"
    cancelled = "cancelled"


FINISHED_ITEM_STATES = (
    ItemStatus.succeeded.value,
    ItemStatus.needs_review.value,
    ItemStatus.failed.value,
    ItemStatus.cancelled.value,
)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Only the SHA-256 of a key is stored; the prefix finds the row without a scan."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Consent(Base):
    __tablename__ = "consents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    speaker_name: Mapped[str] = mapped_column(String(200))
    company_name: Mapped[str] = mapped_column(String(200))
    agreement_version: Mapped[str] = mapped_column(String(50))
    agreement_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), server_default="zh")
    statement: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(16), default=None)  # the one-time code inside the statement
    status: Mapped[str] = mapped_column(String(20), default="pending")
    recording_key: Mapped[str | None] = mapped_column(String(500), default=None)
    client_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(500), default=None)
    verification: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsentStatus(str, enum.Enum):
    awaiting_recording = "awaiting_recording"
    verifying = "verifying"
    verified = "verified"
    rejected = "rejected"
    revoked = "revoked"


class Voice(Base):
    __tablename__ = "voices"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), default=VoiceStatus.pending.value)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    consent_id: Mapped[str | None] = mapped_column(ForeignKey("consents.id", ondelete="SET NULL"), default=None)
    current_version_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list["VoiceVersion"]] = relationship(back_populates="voice", cascade="all, delete-orphan")


class VoiceVersion(Base):
    """A voice's immutable model state; every render names the version it used."""

    __tablename__ = "voice_versions"
    __table_args__ = (UniqueConstraint("voice_id", "version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state_key: Mapped[str] = mapped_column(String(500))
    state_sha256: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(50))
    engine_version: Mapped[str] = mapped_column(String(50))
    lexicon_version: Mapped[int] = mapped_column(Integer, default=0)
    adapter_version: Mapped[int] = mapped_column(Integer, default=0)
    method: Mapped[str] = mapped_column(String(50))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    voice: Mapped[Voice] = relationship(back_populates="versions")


class ReferenceAudio(Base):
    __tablename__ = "reference_audio"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id", ondelete="CASCADE"), index=True)
    original_key: Mapped[str] = mapped_column(String(500))
    cleaned_key: Mapped[str | None] = mapped_column(String(500), default=None)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    size_bytes: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    qa_report: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.queued.value)
    total: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    manifest_key: Mapped[str | None] = mapped_column(String(500), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("batch_id", "seq"),
        Index("ix_items_batch_status", "batch_id", "status"),
        Index("ix_items_tenant_content_hash", "tenant_id", "content_hash"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    text: Mapped[str] = mapped_column(Text)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id", ondelete="CASCADE"), index=True)
    voice_version_id: Mapped[str | None] = mapped_column(String(36), default=None)
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.queued.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    storage_key: Mapped[str | None] = mapped_column(String(500), default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    checksum: Mapped[str | None] = mapped_column(String(64), default=None)
    normalized_text: Mapped[str | None] = mapped_column(Text, default=None)
    # What the audio is a function of (voice version, normalized text, parameters, engine):
    # an item with the same hash reuses stored audio instead of calling the model.
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    reused: Mapped[bool] = mapped_column(default=False, server_default=false())
    quality: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Feedback(Base):
    __tablename__ = "feedback"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    span_start: Mapped[int] = mapped_column(Integer)
    span_end: Mapped[int] = mapped_column(Integer)
    reading: Mapped[str | None] = mapped_column(String(200), default=None)
    reviewer: Mapped[str | None] = mapped_column(String(200), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    state: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """A POST's response, kept so a retry with the same Idempotency-Key gets the same answer."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)  # None while the first is running
    response: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only: rows are inserted, never updated or deleted by the application."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(36))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
