"""Who may call the API: tenants, their API keys and console sessions, the deployment
operator's keys, and the responses kept for idempotent retries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, new_id, utcnow


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
