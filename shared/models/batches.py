"""Batches of items to render: each item's row is its job's state (claims, attempts,
outcome), not the Celery message."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, new_id, utcnow


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
    # batch never floods the queue ahead of others (see worker.jobs.window.dispatch_window).
    dispatched_seq: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    # Last sign of life of the task planning this batch (each stored chunk); a batch left
    # `planning` or `queued` past the planner lease lost its planner (worker.jobs.sweep.replan_stalled).
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
