"""Recurring batches: a cron expression in the tenant's time zone and the texts to render."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, new_id, utcnow


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
