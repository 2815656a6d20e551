"""Fine-tune runs of the caller's pronunciation adapter: list them with the gate's verdict,
start one now, roll the adapter in use back, and re-render what its corrections touched;
and the tenant's nightly schedule (local hour, time zone, on or off)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import owned, require
from api.context import ctx
from api.schema import Body, Field, Text, list_of, operation
from shared import dispatch, services
from shared.audit import canonical_time
from shared.errors import Conflict, InvalidInput, NotFound
from shared.finetune import (
    NightlySchedule,
    active_adapter,
    create_run,
    next_slot,
    rollback,
    schedule_of,
    set_schedule,
)
from shared.models import FinetuneRun, FinetuneStatus, Item, Tenant, Voice, VoiceStatus, utcnow
from shared.schedules import zone

bp = Blueprint("finetune", __name__, url_prefix="/v1/finetune")
RERENDER_REQUEST = Body({"voice_id": Text(max_len=36, required=True)}, required=("voice_id",))
# Checked by parse_schedule: an hour's and a time zone's rules depend on each other.
SCHEDULE_REQUEST = Body({
    "hour": Field({"type": ["integer", "null"], "minimum": 0, "maximum": 23},
                  description="local hour the nightly run may start from; null: the deployment's default hour, in UTC"),
    "timezone": Field({"type": ["string", "null"], "maxLength": 64},
                      description="IANA, e.g. Europe/Berlin (needs an hour; null: UTC)"),
    "enabled": Field({"type": "boolean", "default": True}, description="false: no nightly runs"),
}, name="FinetuneScheduleRequest", closed=True)
RERENDER_MAX_ITEMS = 10000
SCHEDULE_FIELDS = ("hour", "timezone", "enabled")


def run_view(run: FinetuneRun, active_id: str | None) -> dict[str, Any]:
    return {"id": run.id, "version": run.version, "trigger": run.trigger, "status": run.status,
            "active": run.id == active_id, "reason": run.reason, "metrics": run.metrics,
            "created_at": canonical_time(run.created_at),
            "finished_at": canonical_time(run.finished_at) if run.finished_at else None,
            "rolled_back_at": canonical_time(run.rolled_back_at) if run.rolled_back_at else None}


def _actor() -> str:
    return f"key:{g.key_prefix}"


def _active_id(session) -> str | None:  # type: ignore[no-untyped-def]
    active = active_adapter(session, g.tenant_id)
    return active.run_id if active else None


@operation("Fine-tune runs of the tenant's pronunciation adapter, newest first",
           {200: ("runs", list_of("runs", "FinetuneRun"))},
           errors=(401,))
@bp.get("/runs")
@require("read")
def list_runs() -> ResponseReturnValue:
    with ctx().sessions() as s:
        runs = s.scalars(select(FinetuneRun).where(FinetuneRun.tenant_id == g.tenant_id)
                         .order_by(FinetuneRun.version.desc()).limit(200)).all()
        active = _active_id(s)
        return jsonify({"runs": [run_view(r, active) for r in runs]})


@operation("A run: the gate's metrics, promoted or not and why",
           {200: ("run", "FinetuneRun")},
           errors=(401, 404))
@bp.get("/runs/<run_id>")
@require("read")
def get_run(run_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        return jsonify(run_view(owned(s, FinetuneRun, run_id, "fine-tune run"), _active_id(s)))


@operation("Fine-tune now on the accepted corrections (the nightly job, started at once)",
           {202: ("queued", "FinetuneRun")},
           errors=(401, 403))
@bp.post("/runs")
@require("write")
def start_run() -> ResponseReturnValue:
    """Train now instead of waiting for the night (the same job the nightly beat starts)."""
    c = ctx()
    with c.sessions.begin() as s:
        run = create_run(s, g.tenant_id, "manual", _actor())
        body = run_view(run, _active_id(s))
    c.queue.send(dispatch.FINETUNE, run.id)
    return jsonify(body), 202


@operation("Retire the adapter in use; renders return to the previous promoted one (admin)",
           {200: "rolled back"},
           errors=(401, 403, 404))
@bp.post("/runs/<run_id>/rollback")
@require("admin")
def rollback_run(run_id: str) -> ResponseReturnValue:
    return jsonify(roll_back(run_id))


def roll_back(run_id: str) -> dict[str, Any]:
    """Retire the caller's adapter in use (API and console); audited in shared/finetune.py."""
    with ctx().sessions.begin() as s:
        run = owned(s, FinetuneRun, run_id, "fine-tune run")
        previous = rollback(s, run, _actor())
        return {"rolled_back": run_view(run, None),
                "now_using": run_view(previous, previous.id) if previous else None}


@operation("Opt-in: a new batch of the tenant's texts containing what the run learned",
           {202: "batch queued"},
           errors=(401, 403, 404, 409, 415, 422),
           body=RERENDER_REQUEST)
@bp.post("/runs/<run_id>/rerender")
@require("write")
def rerender(run_id: str) -> ResponseReturnValue:
    """Opt-in: a new batch of the tenant's distinct texts containing a character the run
    learned, in a ready voice of the caller's choice."""
    c = ctx()
    voice_id = RERENDER_REQUEST.read()["voice_id"]
    with c.sessions.begin() as s:
        run = owned(s, FinetuneRun, run_id, "fine-tune run")
        if run.status != FinetuneStatus.promoted.value:
            raise Conflict(f"run {run_id} is {run.status}; only a promoted run's corrections can be re-rendered")
        voice = owned(s, Voice, str(voice_id), "voice")
        if voice.status != VoiceStatus.ready.value:
            raise Conflict(f"voice {voice.id} is {voice.status}, not ready")
        chars = set(run.metrics.get("chars", []))
        texts: dict[str, None] = {}
        for text in s.scalars(select(Item.text).where(Item.tenant_id == g.tenant_id).order_by(Item.created_at)):
            if chars.intersection(text):
                texts.setdefault(text)
            if len(texts) >= RERENDER_MAX_ITEMS:
                break
        if not texts:
            raise Conflict("no rendered text contains a character this run learned")
        items = [{"text": t, "voice_id": voice.id} for t in texts]
        batch_id = services.create_batch(s, g.tenant_id, items, f"re-render after fine-tune v{run.version}",
                                         {"speed": 1.0}, _actor())
    c.queue.send(dispatch.PLAN_BATCH, batch_id, queue=dispatch.synth_queue(len(items), c.settings.interactive_max_items))
    return jsonify({"batch_id": batch_id, "items": len(items)}), 202


# -- the nightly schedule --------------------------------------------------------------


def schedule_view(nightly: NightlySchedule, now: datetime) -> dict[str, Any]:
    """The effective schedule and when its next slot is: a run starts then only if
    corrections arrived since the last run."""
    upcoming = next_slot(now, nightly.hour, nightly.timezone) if nightly.enabled else None
    return {"hour": nightly.hour, "timezone": nightly.timezone, "enabled": nightly.enabled,
            "default": nightly.default,
            "next_run_at": canonical_time(upcoming) if upcoming else None,
            "next_run_local": upcoming.astimezone(zone(nightly.timezone)).isoformat() if upcoming else None}


def _tenant(session: Session, for_update: bool = False) -> Tenant:
    tenant = session.get(Tenant, g.tenant_id, with_for_update=for_update)
    if tenant is None:  # the key outlived its tenant between authentication and here
        raise NotFound("no tenant for this API key")
    return tenant


def tenant_schedule(session: Session) -> dict[str, Any]:
    """The caller's schedule as the API shows it (API and console)."""
    return schedule_view(schedule_of(_tenant(session), ctx().settings.finetune_hour_utc), utcnow())


def parse_schedule(body: dict[str, Any]) -> tuple[int | None, str | None, bool]:
    """(hour, timezone, enabled) from a PUT body, every field checked before anything is
    stored. The body replaces the schedule: a missing or null hour means the deployment's
    default hour in UTC, a missing enabled means on."""
    unknown = sorted(set(body) - set(SCHEDULE_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown field {', '.join(repr(f[:64]) for f in unknown[:5])}: a schedule has only "
                           f"{', '.join(SCHEDULE_FIELDS)}", field=unknown[0])
    hour = body.get("hour")
    if hour is not None:
        if isinstance(hour, bool) or not isinstance(hour, int):
            raise InvalidInput("'hour' must be a whole number from 0 to 23, or null for the default", field="hour")
        if not 0 <= hour <= 23:
            raise InvalidInput("'hour' must be from 0 to 23 (a local hour)", field="hour")
    tz = body.get("timezone")
    if tz is not None:
        if not isinstance(tz, str):
            raise InvalidInput("'timezone' must be a string naming an IANA time zone such as 'Europe/Berlin'",
                               field="timezone")
        if len(tz) > 64:
            raise InvalidInput("'timezone' is longer than 64 characters; IANA names are shorter", field="timezone")
        zone(tz)
        if hour is None:
            raise InvalidInput("'timezone' needs an 'hour' to apply to (without one the default hour is in UTC)",
                               field="timezone")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput("'enabled' must be true or false", field="enabled")
    return hour, tz, enabled


@operation("When the tenant's nightly fine-tune may start, and the next slot",
           {200: ("schedule", "FinetuneSchedule")},
           errors=(401,))
@bp.get("/schedule")
@require("read")
def get_schedule() -> ResponseReturnValue:
    with ctx().sessions() as s:
        return jsonify(tenant_schedule(s))


@operation("Set the nightly fine-tune's local hour, time zone and on/off (the whole schedule; audited)",
           {200: ("the effective schedule", "FinetuneSchedule")},
           errors=(401, 403, 415, 422),
           body=SCHEDULE_REQUEST)
@bp.put("/schedule")
@require("write")
def put_schedule() -> ResponseReturnValue:
    """Set when the nightly run may start; audited in shared/finetune.py when it changes."""
    hour, tz, enabled = parse_schedule(SCHEDULE_REQUEST.read())
    with ctx().sessions.begin() as s:
        set_schedule(s, _tenant(s, for_update=True), hour, tz, enabled, _actor())
        body = tenant_schedule(s)
    return jsonify(body)
