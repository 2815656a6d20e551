"""Turning due schedules into batches: what the beat task ``narrator.run_due_schedules`` does.

Each due schedule is locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two beat ticks
or two workers never run the same schedule twice), its runs are decided by the pure
:func:`shared.schedules.due_runs`, a batch is created through
:func:`shared.services.create_batch` exactly as the API does, and ``checked_at`` /
``next_run_at`` advance in the same transaction as the batch rows.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared import services
from shared.audit import record
from shared.batch_source import Row, check_row, format_for, iter_rows
from shared.consent import in_force
from shared.models import Consent, ItemStatus, Schedule, Voice, VoiceStatus, utcnow
from shared.schedules import due_runs, next_run, zone
from shared.settings import Settings
from shared.storage import ObjectNotFound, Storage

log = logging.getLogger(__name__)
ACTOR = "scheduler"


class RunFailed(Exception):
    """This run cannot make a batch (voice not ready, source missing or empty)."""


def voice_problem(session: Session, tenant_id: str, voice_id: str) -> str | None:
    """Why a batch cannot use the voice now, or None."""
    voice = session.get(Voice, voice_id)
    if voice is None or voice.tenant_id != tenant_id:
        return f"no voice {voice_id!r}"
    if voice.status != VoiceStatus.ready.value:
        return f"voice {voice_id!r} is {voice.status}, not ready"
    consent = session.get(Consent, voice.consent_id) if voice.consent_id else None
    if consent is None or not in_force(consent):
        return f"voice {voice_id!r} has no consent in force"
    return None


def source_items(session: Session, storage: Storage, schedule: Schedule, settings: Settings) -> list[dict[str, Any]]:
    """The items of one run: the schedule's inline items, or the catalogue object read now
    (so edits to the catalogue show in the next run). A line that fails validation becomes a
    failed item with its reason, as in an uploaded batch; no valid line at all fails the run."""
    voices: dict[str, str | None] = {}

    def voice_error(voice_id: str) -> str | None:
        if voice_id not in voices:
            voices[voice_id] = voice_problem(session, schedule.tenant_id, voice_id)
        return voices[voice_id]

    source = schedule.source or {}
    if "items" in source:
        rows = [Row(n + 1, it if isinstance(it, dict) else {}, None if isinstance(it, dict) else "not an object")
                for n, it in enumerate(source["items"])]
    else:
        key = source.get("object_key", "")
        try:
            data = storage.get(key)
        except ObjectNotFound as exc:
            raise RunFailed(f"the source object {key!r} does not exist") from exc
        rows = list(iter_rows(io.BytesIO(data), format_for("", key) or "csv"))
    if len(rows) > settings.max_batch_items:
        raise RunFailed(f"the source has {len(rows)} items; a batch holds at most {settings.max_batch_items}")
    items = []
    for row in rows:
        item, problem = check_row(row, schedule.voice_id, settings.max_text_chars, voice_error)
        if problem:
            item.update(voice_id=item["voice_id"] or schedule.voice_id, status=ItemStatus.failed.value,
                        error=f"invalid_input: line {row.line}: {problem}")
        items.append(item)
    if not any(it.get("status") != ItemStatus.failed.value for it in items):
        reasons = "; ".join(it["error"] for it in items[:3]) or "the source has no items"
        raise RunFailed(f"no item of the source can be rendered ({reasons})")
    return items


def run_schedule(session: Session, storage: Storage, settings: Settings, schedule: Schedule,
                 now: datetime) -> str | None:
    """Start the schedule's due run, if any, and advance it past ``now``; returns the batch id."""
    grace = timedelta(seconds=settings.schedule_misfire_grace_seconds)
    runs = due_runs(schedule.cron, schedule.timezone, schedule.checked_at, now, schedule.missed_policy, grace)
    batch_id = None
    for fire in runs:
        local = fire.astimezone(zone(schedule.timezone))
        try:
            voice_error = voice_problem(session, schedule.tenant_id, schedule.voice_id)
            if voice_error:
                raise RunFailed(voice_error)
            items = source_items(session, storage, schedule, settings)
        except RunFailed as exc:
            schedule.last_error = str(exc)
            record(session, schedule.tenant_id, ACTOR, "schedule.run_failed", "schedule", schedule.id,
                   fire_time=fire.isoformat(), reason=str(exc))
            log.warning("schedule %s run at %s failed: %s", schedule.id, fire.isoformat(), exc)
            continue
        batch_id = services.create_batch(
            session, schedule.tenant_id, items, f"{schedule.name} {local:%Y-%m-%d %H:%M %Z}"[:200],
            {"speed": 1.0, "schedule_id": schedule.id, "fire_time": fire.isoformat()}, ACTOR)
        schedule.last_batch_id, schedule.last_error = batch_id, None
        record(session, schedule.tenant_id, ACTOR, "schedule.run", "schedule", schedule.id,
               fire_time=fire.isoformat(), batch_id=batch_id, items=len(items))
        log.info("schedule %s ran for %s: batch %s", schedule.id, fire.isoformat(), batch_id)
    if runs:
        schedule.last_run_at = runs[-1]
    schedule.checked_at = now
    schedule.next_run_at = next_run(schedule.cron, schedule.timezone, now)
    return batch_id


def run_due_schedules(sessions: sessionmaker[Session], storage: Storage, settings: Settings,
                      now: datetime | None = None, limit: int = 100) -> list[str]:
    """Every schedule due at ``now``, each in its own transaction; returns the new batch ids
    for the caller to enqueue for planning (after they committed)."""
    now = now or utcnow()
    batches: list[str] = []
    while True:
        with sessions.begin() as s:
            # One due schedule per transaction: a slow source read holds one lock, not many.
            schedule = s.scalars(
                select(Schedule)
                .where(Schedule.paused.is_(False), Schedule.next_run_at.is_not(None), Schedule.next_run_at <= now)
                .order_by(Schedule.next_run_at).limit(1).with_for_update(skip_locked=True)
            ).first()
            if schedule is None:
                break
            batch_id = run_schedule(s, storage, settings, schedule, now)
        if batch_id:
            batches.append(batch_id)
        if len(batches) >= limit:
            break
    return batches
