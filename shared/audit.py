"""Append-only audit trail: one helper so every state change is recorded the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shared.models import AuditEvent


def record(
    session: Session, tenant_id: str | None, actor: str, action: str, target_type: str, target_id: str,
    **details: Any,
) -> None:
    session.add(AuditEvent(tenant_id=tenant_id, actor=actor, action=action, target_type=target_type,
                           target_id=target_id, details=details))
