"""Review console sessions kept as rows, so the server decides who a cookie speaks for.

The console's cookie carries a random token and nothing else about its holder; the row
(keyed by the token's SHA-256, so a database dump holds no usable token) names the API key.
Every request reads the key's tenant and scope from ``api_keys`` and checks, in order: the
row exists and was not ended (sign-out), the absolute and idle lifetimes, and that the key
is still live (revocation, a rotation's grace period). A failed check ends the row; a
key's revocation ends its rows too (``shared.tenants.revoke_key``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from shared.models import ApiKey, ConsoleSession, utcnow
from shared.tenants import key_usable

# How stale ``last_seen_at`` may be: the idle lifetime is kept to within this.
SEEN_PRECISION_SECONDS = 30


@dataclass(frozen=True)
class Lifetimes:
    idle_seconds: int
    max_seconds: int


@dataclass(frozen=True)
class Holder:
    """Who a live session speaks for, read from the key row on this request."""

    key_id: str
    key_prefix: str
    tenant_id: str
    scope: str


@dataclass(frozen=True)
class Ended:
    """The session is not (or no longer) valid; ``reason`` is for the sign-in page."""

    reason: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def start(session: Session, key_id: str, lifetimes: Lifetimes) -> str:
    """A new session for the key ``key_id`` (checked by the caller); returns the token for the cookie. The key's own ended or
    expired rows are dropped here, so the table holds about one row per signed-in browser."""
    now = utcnow()
    session.execute(ConsoleSession.__table__.delete().where(
        ConsoleSession.key_id == key_id,
        (ConsoleSession.ended_at.is_not(None)) | (ConsoleSession.created_at < now - timedelta(
            seconds=lifetimes.max_seconds))))
    token = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id=_digest(token), key_id=key_id, created_at=now, last_seen_at=now))
    session.flush()
    return token


def resolve(session: Session, token: str, lifetimes: Lifetimes) -> Holder | Ended:
    """The holder of a live session, its last-seen time moved on; else why it ended (and the
    row is ended, in the caller's transaction)."""
    row = session.get(ConsoleSession, _digest(token))
    if row is None:
        return Ended("Your console session has ended; sign in again.")
    now = utcnow()
    key = session.get(ApiKey, row.key_id)
    if key is None or not key_usable(key, now):  # said first: signing in again with it will not help
        row.ended_at = row.ended_at or now
        return Ended("That API key has been revoked or has expired; sign in with another.")
    if row.ended_at is not None:
        return Ended("Your console session has ended; sign in again.")
    if now - _utc(row.created_at) > timedelta(seconds=lifetimes.max_seconds):
        row.ended_at = now
        return Ended(f"Console sessions last {lifetimes.max_seconds // 60} minutes at most; sign in again.")
    if now - _utc(row.last_seen_at) > timedelta(seconds=lifetimes.idle_seconds):
        row.ended_at = now
        return Ended(f"Signed out after {lifetimes.idle_seconds // 60} minutes without activity; sign in again.")
    if now - _utc(row.last_seen_at) > timedelta(seconds=SEEN_PRECISION_SECONDS):
        row.last_seen_at = now  # not on every request: a batch page polls every 2 s
    return Holder(key.id, key.prefix, key.tenant_id, key.scope)


def end(session: Session, token: str) -> None:
    """Sign-out: the row is ended, so the same cookie (or a copy of it) is refused."""
    session.execute(update(ConsoleSession).where(ConsoleSession.id == _digest(token),
                                                 ConsoleSession.ended_at.is_(None)).values(ended_at=utcnow()))
