"""Fine-tune runs as rows: which adapter a tenant's renders use, when the next nightly run
is due, and rolling back. The training itself is the worker's (``worker/finetune.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.audit import record
from shared.errors import Conflict
from shared.models import Feedback, FeedbackState, FinetuneRun, FinetuneStatus, utcnow

# Corrections a fine-tune learns from: accepted with a reading (an entry in the lexicon),
# and those a later render confirmed.
LEARNABLE = (FeedbackState.applied.value, FeedbackState.verified.value)


@dataclass(frozen=True)
class ActiveAdapter:
    run_id: str
    version: int
    chars: frozenset[str]
    key: str


def active_adapter(session: Session, tenant_id: str) -> ActiveAdapter | None:
    """The newest promoted run that was not rolled back, if any."""
    run = session.scalar(select(FinetuneRun).where(
        FinetuneRun.tenant_id == tenant_id, FinetuneRun.status == FinetuneStatus.promoted.value,
    ).order_by(FinetuneRun.version.desc()).limit(1))
    if run is None or run.adapter_key is None:
        return None
    return ActiveAdapter(run.id, run.version, frozenset(run.metrics.get("chars", [])), run.adapter_key)


def create_run(session: Session, tenant_id: str, trigger: str, actor: str) -> FinetuneRun:
    """A queued run with the tenant's next version number (the caller enqueues it after commit)."""
    busy = session.scalar(select(FinetuneRun.id).where(
        FinetuneRun.tenant_id == tenant_id,
        FinetuneRun.status.in_((FinetuneStatus.queued.value, FinetuneStatus.running.value))).limit(1))
    if busy is not None:
        raise Conflict(f"fine-tune run {busy} is still queued or running")
    last = session.scalar(select(func.max(FinetuneRun.version)).where(FinetuneRun.tenant_id == tenant_id)) or 0
    run = FinetuneRun(tenant_id=tenant_id, version=last + 1, trigger=trigger, metrics={})
    session.add(run)
    session.flush()
    record(session, tenant_id, actor, "model.finetune_requested", "finetune_run", run.id, trigger=trigger)
    return run


def rollback(session: Session, run: FinetuneRun, actor: str) -> FinetuneRun | None:
    """Retire the active adapter; renders go back to the previous promoted one (returned,
    or None for the base model)."""
    active = active_adapter(session, run.tenant_id)
    if active is None or active.run_id != run.id:
        raise Conflict(f"run {run.id} is not the adapter in use (status {run.status}); only that one can be "
                       f"rolled back")
    run.status = FinetuneStatus.rolled_back.value
    run.rolled_back_at = utcnow()
    session.flush()
    previous = active_adapter(session, run.tenant_id)
    record(session, run.tenant_id, actor, "model.rolled_back", "finetune_run", run.id, version=run.version,
           now_using=previous.version if previous else None)
    return session.get(FinetuneRun, previous.run_id) if previous else None


def last_correction_at(session: Session, tenant_id: str) -> datetime | None:
    return session.scalar(select(func.max(func.coalesce(Feedback.updated_at, Feedback.created_at))).where(
        Feedback.tenant_id == tenant_id, Feedback.state.in_(LEARNABLE), Feedback.reading.is_not(None)))


def nightly_due(now: datetime, hour_utc: int, last_run_at: datetime | None,
                last_correction: datetime | None) -> bool:
    """Once a day, from ``hour_utc`` on, and only when corrections arrived since the last run."""
    if last_correction is None:
        return False
    slot = now.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    if now < slot:
        slot -= timedelta(days=1)
    if last_run_at is None:
        return True
    return last_run_at < slot and last_correction > last_run_at
