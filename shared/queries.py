"""Read-side queries both the API and the worker need."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.models import Item, ItemStatus


def item_counts(session: Session, batch_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Item.status, func.count()).where(Item.batch_id == batch_id).group_by(Item.status)
    ).all()
    counts = {status.value: 0 for status in ItemStatus}
    counts.update({status: n for status, n in rows})
    return counts


def reused_count(session: Session, batch_id: str) -> int:
    """Items whose audio came from the render cache instead of the model."""
    return int(session.scalar(select(func.count()).where(Item.batch_id == batch_id, Item.reused.is_(True))) or 0)
