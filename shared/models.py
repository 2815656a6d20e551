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
    true,
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
    deleted = "deleted"  # a tombstone: its audio and model state are purged, the row stays for the audit trail


class BatchStatus(str, enum.Enum):
    queued = "queued"
    planning = "planning"  # the uploaded source is being read into items
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
    # The nightly fine-tune's local hour (0-23) in an IANA zone; None means the deployment's
    # Settings.finetune_hour_utc, in UTC (shared/finetune.py ``schedule_of``).
    finetune_hour: Mapped[int | None] = mapped_column(Integer, default=None)
    finetune_timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    finetune_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())


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
    # Set when a key is rotated with a grace period: it keeps working until then.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class OperatorKey(Base):
    """A key of the deployment's operator, who belongs to no tenant. It opens only the
    operator's routes (``/v1/operator``, ``/console/operator``): the review of consents that
    speech recognition cannot check, which a tenant must not decide for its own speakers.
    Stored like tenant keys: the SHA-256 of the secret, found by its prefix."""

    __tablename__ = "operator_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))  # who holds it, for the audit trail's reader
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsoleSession(Base):
    """A signed-in review console: the cookie carries only a random token, whose SHA-256 is
    this row's id. Tenant and scope are never in the cookie; every request reads them from
    the key row, so a forged or copied cookie cannot choose them, and ending the row (sign-out)
    or the key (revocation) ends the session on the next request."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


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
    # A recording speech recognition cannot check is approved or rejected by the deployment's operator, who listened.
    reviewed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)  # recording and voices deleted


class ConsentStatus(str, enum.Enum):
    awaiting_recording = "awaiting_recording"
    verifying = "verifying"
    needs_review = "needs_review"  # a language speech recognition cannot check: the operator listens
    verified = "verified"
    approved = "approved"  # the operator listened and approved; as good as verified
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
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)  # its stored audio and state are gone

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
    zip_key: Mapped[str | None] = mapped_column(String(500), default=None)
    # A streamed upload (CSV or JSONL) waiting in storage for the planner to read into items.
    source_key: Mapped[str | None] = mapped_column(String(500), default=None)
    source_format: Mapped[str | None] = mapped_column(String(10), default=None)
    # The highest seq handed to the broker: items past it wait in the database, so one big
    # batch never floods the queue ahead of others (see worker.jobs.dispatch_window).
    dispatched_seq: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    # Last sign of life of the task planning this batch (each stored chunk); a batch left
    # `planning` or `queued` past the planner lease lost its planner (worker.jobs.replan_stalled).
    planner_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("batch_id", "seq"),
        Index("ix_items_batch_status", "batch_id", "status"),
        Index("ix_items_batch_status_seq", "batch_id", "status", "seq"),
        Index("ix_items_tenant_content_hash", "tenant_id", "content_hash"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    text: Mapped[str] = mapped_column(Text)
    # None only for a source line that named no usable voice: that item is failed at planning.
    voice_id: Mapped[str | None] = mapped_column(ForeignKey("voices.id", ondelete="CASCADE"), index=True)
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
    # The tenant's lexicon version at render time, and the readings the render used
    # (pinyin, phonemes per sentence, forced readings with their lexicon entry ids).
    lexicon_version: Mapped[int | None] = mapped_column(Integer, default=None)
    readings: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class FeedbackState(str, enum.Enum):
    open = "open"
    accepted = "accepted"  # agreed, with no reading to apply
    rejected = "rejected"
    applied = "applied"  # its reading is a lexicon entry
    verified = "verified"  # a later render used the reading (or a reviewer confirmed it)


class Feedback(Base):
    """A reviewer's note on how a span of a rendered item was read, and what it should be."""

    __tablename__ = "feedback"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    span_start: Mapped[int] = mapped_column(Integer)
    span_end: Mapped[int] = mapped_column(Integer)
    word: Mapped[str] = mapped_column(String(200), server_default="")
    language: Mapped[str] = mapped_column(String(8), server_default="zh")
    reading: Mapped[str | None] = mapped_column(String(200), default=None)
    reviewer: Mapped[str | None] = mapped_column(String(200), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    state: Mapped[str] = mapped_column(String(20), default=FeedbackState.open.value)
    lexicon_entry_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class LexiconVersion(Base):
    """One change to a tenant's lexicon; numbers count up from 1 per tenant."""

    __tablename__ = "lexicon_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LexiconEntry(Base):
    """Immutable history: an entry lives from ``created_version`` until ``deleted_version``
    (exclusive); version N's lexicon is every entry with created ≤ N and not deleted ≤ N."""

    __tablename__ = "lexicon_entries"
    __table_args__ = (Index("ix_lexicon_entries_tenant_live", "tenant_id", "deleted_version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    voice_id: Mapped[str | None] = mapped_column(ForeignKey("voices.id", ondelete="CASCADE"), default=None)
    word: Mapped[str] = mapped_column(String(200))
    reading: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    created_version: Mapped[int] = mapped_column(Integer)
    deleted_version: Mapped[int | None] = mapped_column(Integer, default=None)
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


class WebhookEvent(str, enum.Enum):
    voice_ready = "voice.ready"
    voice_failed = "voice.failed"
    batch_completed = "batch.completed"  # finished succeeded or partial
    batch_failed = "batch.failed"


class DeliveryStatus(str, enum.Enum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # gave up after the last attempt


class WebhookEndpoint(Base):
    """A tenant's receiver. The secret is a shared signing key (not a password), so it is
    kept as given: delivery needs it in the clear to compute the HMAC."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret signs too, until previous_secret_expires_at.
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint: an outbox row written with the state change it reports."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(36))  # the same for every endpoint the event goes to
    event: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class MissedPolicy(str, enum.Enum):
    skip = "skip"  # a run later than the misfire grace is dropped
    catch_up_once = "catch_up_once"  # however many were missed, run once


class Schedule(Base):
    """A recurring batch: a cron expression in the tenant's time zone and the texts to render."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_paused_next_run_at", "paused", "next_run_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id", ondelete="CASCADE"), index=True)
    missed_policy: Mapped[str] = mapped_column(String(20), default=MissedPolicy.skip.value)
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Fire times up to checked_at have been handled (run or skipped); next_run_at is the
    # first one after it, kept as a column so beat finds due schedules with an index.
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)  # the fire time of the last run
    last_batch_id: Mapped[str | None] = mapped_column(String(36), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinetuneStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    promoted = "promoted"  # the tenant's renders use it (the newest promoted run that is not rolled back)
    rejected = "rejected"  # the evaluation gate said no; ``reason`` says why
    failed = "failed"
    rolled_back = "rolled_back"


class FinetuneRun(Base):
    """One fine-tune of a tenant's pronunciation adapter, with the gate's verdict and metrics."""

    __tablename__ = "finetune_runs"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20))  # "nightly" | "manual"
    status: Mapped[str] = mapped_column(String(20), default=FinetuneStatus.queued.value)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    adapter_key: Mapped[str | None] = mapped_column(String(500), default=None)
    adapter_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    rolled_back_at: Mapped[datetime | None] = mapped_column(default=None)
