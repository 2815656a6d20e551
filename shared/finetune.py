"""Fine-tune runs as rows: which adapter a tenant's renders use, when the next nightly run
is due, and rolling back. The training itself is the worker's (``worker/finetune.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shared.audit import record
from shared.errors import Conflict
from shared.models import Feedback, FeedbackState, FinetuneRun, FinetuneStatus, Tenant, utcnow
from shared.schedules import zone

# Corrections a fine-tune learns from: accepted with a reading (an entry in the lexicon),
# and those a later render confirmed.
LEARNABLE = (FeedbackState.applied.value, FeedbackState.verified.value)


@dataclass(frozen=True)
class ActiveAdapter:
    run_id: str
    version: int
    chars: frozenset[str]
    key: str


def newest_promoted_query(tenant_id: Any) -> Select[tuple[str]]:
    """The id of the tenant's newest promoted run that was not rolled back: as a query, so
    a worker's claim can join it into its own read (``tenant_id`` may be a column)."""
    return (select(FinetuneRun.id).where(FinetuneRun.tenant_id == tenant_id,
                                         FinetuneRun.status == FinetuneStatus.promoted.value)
            .order_by(FinetuneRun.version.desc()).limit(1).correlate_except(FinetuneRun))


def adapter_of(run_id: str | None, version: int | None, metrics: dict[str, Any] | None,
               adapter_key: str | None) -> ActiveAdapter | None:
    """The adapter a run's columns describe; None for no run, or a run without one."""
    if run_id is None or version is None or adapter_key is None:
        return None
    return ActiveAdapter(run_id, version, frozenset((metrics or {}).get("chars", [])), adapter_key)


def active_adapter(session: Session, tenant_id: str) -> ActiveAdapter | None:
    """The newest promoted run that was not rolled back, if any."""
    run = session.execute(select(FinetuneRun.id, FinetuneRun.version, FinetuneRun.metrics, FinetuneRun.adapter_key)
                          .where(FinetuneRun.id == newest_promoted_query(tenant_id).scalar_subquery())).first()
    return adapter_of(*run) if run is not None else None


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


@dataclass(frozen=True)
class NightlySchedule:
    """When a tenant's nightly fine-tune may start: from ``hour`` o'clock, local time in
    ``timezone``; ``default`` when the tenant chose no time and the deployment's hour applies."""

    hour: int
    timezone: str
    enabled: bool
    default: bool


def schedule_of(tenant: Tenant, default_hour_utc: int) -> NightlySchedule:
    """The tenant's own hour and zone, or the deployment's ``finetune_hour_utc`` in UTC when it
    set none (a zone without an hour has nothing to apply to; an hour without a zone is UTC)."""
    enabled = tenant.finetune_enabled is not False  # None only on a row not yet inserted
    if tenant.finetune_hour is None:
        return NightlySchedule(default_hour_utc, "UTC", enabled, True)
    return NightlySchedule(tenant.finetune_hour, tenant.finetune_timezone or "UTC", enabled, False)


def set_schedule(session: Session, tenant: Tenant, hour: int | None, timezone: str | None, enabled: bool,
                 actor: str) -> bool:
    """Store a validated schedule (the API checks hour, zone and types first); audited, and
    only when something changed. Returns whether it did."""
    before = {"hour": tenant.finetune_hour, "timezone": tenant.finetune_timezone,
              "enabled": tenant.finetune_enabled is not False}
    after = {"hour": hour, "timezone": timezone, "enabled": enabled}
    if before == after:
        return False
    tenant.finetune_hour, tenant.finetune_timezone, tenant.finetune_enabled = hour, timezone, enabled
    record(session, tenant.id, actor, "finetune.schedule_changed", "tenant", tenant.id, before=before, after=after)
    return True


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a zone; they were written as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _slot(day: date, hour: int, local: ZoneInfo) -> datetime:
    """The instant ``hour``:00 of the local ``day``, in UTC. fold=0: an hour the clock skips
    (spring forward) is the moment of the jump past it; an hour that happens twice (fall
    back) is its first occurrence. Either way a local day has exactly one slot."""
    return datetime.combine(day, time(hour), tzinfo=local).astimezone(UTC)


def last_slot(now: datetime, hour: int, timezone: str = "UTC") -> datetime:
    """The latest nightly slot at or before ``now`` (UTC)."""
    now, local = _aware(now), zone(timezone)
    day = now.astimezone(local).date()
    while (moment := _slot(day, hour, local)) > now:
        day -= timedelta(days=1)
    return moment


def next_slot(now: datetime, hour: int, timezone: str = "UTC") -> datetime:
    """The first nightly slot strictly after ``now`` (UTC)."""
    now, local = _aware(now), zone(timezone)
    day = now.astimezone(local).date()
    while (moment := _slot(day, hour, local)) <= now:
        day += timedelta(days=1)
    return moment


def nightly_due(now: datetime, hour: int, last_run_at: datetime | None, last_correction: datetime | None,
                *, timezone: str = "UTC", enabled: bool = True) -> bool:
    """Once a local day, from ``hour`` o'clock in ``timezone`` on, and only when corrections
    arrived since the last run. A tenant's first run too waits for its hour: the first
    slot after its first correction (training takes the worker's CPU for minutes, at the
    time the tenant chose). A disabled tenant is never due. Raises InvalidInput for an
    unknown zone."""
    if not enabled or last_correction is None:
        return False
    slot = last_slot(now, hour, timezone)
    if last_run_at is None:
        return _aware(last_correction) < slot
    last_run_at = _aware(last_run_at)
    return last_run_at < slot and _aware(last_correction) > last_run_at
