"""``narrator admin ...``: tenants, their API keys, and the operator's keys."""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session

from shared.db import make_engine, make_sessionmaker
from shared.operators import create_operator_key, revoke_operator_key
from shared.tenants import create_key, create_tenant, find_key, find_tenant, revoke_key, rotate_key
from worker.cli.options import settings_for


def run(args: argparse.Namespace) -> int:
    """Run ``args.admin_cmd`` in one transaction; secrets are printed once, never stored."""
    sessions = make_sessionmaker(make_engine(settings_for(args).database_url))
    with sessions.begin() as s:
        _ACTIONS[args.admin_cmd](s, args)
    return 0


def _create_tenant(s: Session, args: argparse.Namespace) -> None:
    print(create_tenant(s, args.name).id)


def _create_key(s: Session, args: argparse.Namespace) -> None:
    key, secret = create_key(s, find_tenant(s, args.tenant), args.scope)
    print(f"key {key.prefix} ({args.scope}) for tenant {key.tenant_id}; shown once:")
    print(secret)


def _rotate_key(s: Session, args: argparse.Namespace) -> None:
    old = find_key(s, args.prefix)
    key, secret = rotate_key(s, old, grace_seconds=args.grace)
    until = f"works until {old.expires_at.isoformat()}" if old.expires_at else "is revoked"
    print(f"key {args.prefix} {until}; new key {key.prefix} ({key.scope}) for tenant {key.tenant_id}; "
          "shown once:")
    print(secret)


def _revoke_key(s: Session, args: argparse.Namespace) -> None:
    revoke_key(s, find_key(s, args.prefix))
    print(f"revoked {args.prefix}")


def _create_operator_key(s: Session, args: argparse.Namespace) -> None:
    op_key, secret = create_operator_key(s, args.name)
    print(f"operator key {op_key.prefix} ({args.name}): reviews consents of every tenant; shown once:")
    print(secret)


def _revoke_operator_key(s: Session, args: argparse.Namespace) -> None:
    revoke_operator_key(s, args.prefix)
    print(f"revoked operator key {args.prefix}")


_ACTIONS = {
    "create-tenant": _create_tenant,
    "create-key": _create_key,
    "rotate-key": _rotate_key,
    "revoke-key": _revoke_key,
    "create-operator-key": _create_operator_key,
    "revoke-operator-key": _revoke_operator_key,
}
