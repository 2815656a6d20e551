"""Voices and what they rest on: the speaker's consent, the reference recordings, and
the immutable model states (versions) every render names."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.base import Base, new_id, utcnow


class VoiceStatus(str, enum.Enum):
    pending = "pending"
    ready = "ready"
    failed = "failed"
    deleted = "deleted"  # a tombstone: its audio and model state are purged, the row stays for the audit trail


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

    versions: Mapped[list[VoiceVersion]] = relationship(back_populates="voice", cascade="all, delete-orphan")


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
