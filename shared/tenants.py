"""Tenant and key administration, shared by the CLI and tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.audit import record
from shared.errors import Conflict, InvalidInput, NotFound
from shared.models import ApiKey, Tenant, utcnow
from shared.security import SCOPES, generate_key


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


def create_key(session: Session, tenant: Tenant, scope: str, actor: str = "admin") -> tuple[ApiKey, str]:
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}")
    new = generate_key()
    key = ApiKey(tenant_id=tenant.id, prefix=new.prefix, key_hash=new.key_hash, scope=scope)
    session.add(key)
    session.flush()
    record(session, tenant.id, actor, "api_key.created", "api_key", key.id, scope=scope, prefix=new.prefix)
    return key, new.secret


def revoke_key(session: Session, prefix: str, actor: str = "admin") -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    key.revoked_at = utcnow()
    record(session, key.tenant_id, actor, "api_key.revoked", "api_key", key.id, prefix=prefix)
    return key
