"""Tenant and key administration, shared by the CLI and tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.audit import record
from shared.errors import Conflict, InvalidInput, NotFound
from shared.models import ApiKey, ConsoleSession, Tenant, utcnow
from shared.security import SCOPES, NewKey, generate_key

MAX_GRACE_SECONDS = 30 * 86400
PREFIX_ATTEMPTS = 8


def create_tenant(session: Session, name: str, actor: str = "admin") -> Tenant:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("tenant name must be 1–200 characters")
    if session.scalar(select(Tenant).where(Tenant.name == name)) is not None:
        raise Conflict(f"a tenant named {name!r} already exists")
    tenant = Tenant(name=name)
    session.add(tenant)
    session.flush()
    record(session, tenant.id, actor, "tenant.created", "tenant", tenant.id, name=name)
    return tenant


def find_tenant(session: Session, name_or_id: str) -> Tenant:
    tenant = session.get(Tenant, name_or_id) or session.scalar(select(Tenant).where(Tenant.name == name_or_id))
    if tenant is None:
        raise NotFound(f"no tenant {name_or_id!r}")
    return tenant


def _unused_key(session: Session, generate: Callable[[], NewKey]) -> NewKey:
    """A new key whose public prefix no key has yet. Prefixes are 32 random bits, so among
    many keys a repeat is rare but real; it is drawn again instead of failing the insert."""
    for _ in range(PREFIX_ATTEMPTS):
        new = generate()
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == new.prefix)) is None:
            return new
    raise RuntimeError(f"{PREFIX_ATTEMPTS} key prefixes in a row were taken: the random source is broken")


def create_key(session: Session, tenant: Tenant, scope: str, actor: str = "admin",
               generate: Callable[[], NewKey] = generate_key) -> tuple[ApiKey, str]:
    """A new key for the tenant; the secret is returned here once and never stored.
    ``generate`` draws a candidate key (tests pass one that repeats a prefix)."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    new = _unused_key(session, generate)
    key = ApiKey(tenant_id=tenant.id, prefix=new.prefix, key_hash=new.key_hash, scope=scope, created_at=utcnow())
    session.add(key)
    session.flush()
    record(session, tenant.id, actor, "key.created", "api_key", key.id, scope=scope, prefix=new.prefix)
    return key, new.secret


def find_key(session: Session, prefix: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    return key


def _as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def key_usable(key: ApiKey, now: datetime | None = None) -> bool:
    """Not revoked, and not past the end of a rotation's grace period."""
    now = now or utcnow()
    if key.revoked_at is not None:
        return False
    return key.expires_at is None or _as_utc(key.expires_at) > now


def _require_live(key: ApiKey) -> None:
    if not key_usable(key):
        raise Conflict(f"API key {key.prefix!r} is already revoked or expired")


def _end_console_sessions(session: Session, key: ApiKey) -> None:
    """A revoked key's console sessions end with it (each request checks the key as well)."""
    session.execute(update(ConsoleSession).where(ConsoleSession.key_id == key.id, ConsoleSession.ended_at.is_(None))
                    .values(ended_at=utcnow()))


def revoke_key(session: Session, key: ApiKey, actor: str = "admin") -> ApiKey:
    _require_live(key)
    key.revoked_at = utcnow()
    _end_console_sessions(session, key)
    session.flush()
    record(session, key.tenant_id, actor, "key.revoked", "api_key", key.id, prefix=key.prefix)
    return key


def rotate_key(session: Session, key: ApiKey, actor: str = "admin", grace_seconds: int = 0,
               generate: Callable[[], NewKey] = generate_key) -> tuple[ApiKey, str]:
    """A new key with the old one's tenant and scope. The old key is revoked now, or — with a
    grace period, so deployed clients can switch over — keeps working until ``expires_at``."""
    if grace_seconds < 0 or grace_seconds > MAX_GRACE_SECONDS:
        raise InvalidInput(f"the grace period must be 0–{MAX_GRACE_SECONDS} seconds", field="grace_seconds")
    _require_live(key)
    if key.expires_at is not None:
        raise Conflict(f"API key {key.prefix!r} was already rotated; its replacement is the key to rotate")
    new = _unused_key(session, generate)
    now = utcnow()
    replacement = ApiKey(tenant_id=key.tenant_id, prefix=new.prefix, key_hash=new.key_hash, scope=key.scope,
                         created_at=now)
    session.add(replacement)
    if grace_seconds:
        key.expires_at = now + timedelta(seconds=grace_seconds)
    else:
        key.revoked_at = now
        _end_console_sessions(session, key)
    session.flush()
    record(session, key.tenant_id, actor, "key.rotated", "api_key", key.id, prefix=key.prefix,
           new_key_id=replacement.id, new_prefix=new.prefix, scope=key.scope, grace_seconds=grace_seconds)
    return replacement, new.secret
