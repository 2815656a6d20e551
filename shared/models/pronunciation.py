"""The pronunciation feedback loop: reviewers' notes on how an item was read, the
versioned lexicon they become, and the fine-tunes of the pronunciation adapter."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, new_id, utcnow


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
