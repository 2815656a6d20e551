"""Schedules: a batch rendered again and again on a cron in the tenant's time zone
(courseware re-voiced every night, a weekly bulletin). Beat runs the due ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import owned, require
from api.batches import validate_items
from api.context import ctx
from api.idempotency import idempotent
from api.schema import Body, Choice, Field, Text, list_of, operation
from api.voices import tenant_voice
from shared import storage_keys
from shared.audit import record
from shared.batch_source import format_for
from shared.errors import Conflict, InvalidInput, VoiceNotReady
from shared.models import MissedPolicy, Schedule, VoiceStatus, utcnow
from shared.schedules import next_run, validate_cron, zone

bp = Blueprint("schedules", __name__, url_prefix="/v1/schedules")
POLICIES = tuple(p.value for p in MissedPolicy)
SOURCE_SHAPE = {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {"items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}, "voice_id": {"type": "string"}, "id": {"type": "string"}}}}, "object_key": {"type": "string", "maxLength": 500}}}
SCHEDULE_REQUEST = Body({
    "name": Text(max_len=200, required=True),
    "cron": Text(max_len=200, required=True,
                 description="5 fields (minute hour day month weekday), in the schedule's time zone"),
    "timezone": Text(max_len=64, required=True, description="IANA, e.g. Europe/Berlin"),
    "voice_id": Text(max_len=36, required=True, description="the default voice of the items"),
    "missed_policy": Choice(values=POLICIES, default=MissedPolicy.skip.value,
                            description="skip: a run more than the misfire grace late is dropped; catch_up_once: "
                                        "however many runs were missed, run once"),
    # checked by _source: inline items as a batch's are, an object key against the tenant's storage
    "source": Field(SOURCE_SHAPE, description="{items: [...]} rendered as given, or {object_key} naming a CSV/JSONL catalogue in the tenant's storage, read at every run"),
    "paused": Field({"type": "boolean"}),
}, name="ScheduleRequest", required=("name", "cron", "timezone", "source", "voice_id"))


def schedule_json(sc: Schedule) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": sc.id, "name": sc.name, "cron": sc.cron, "timezone": sc.timezone, "source": sc.source,
        "voice_id": sc.voice_id, "missed_policy": sc.missed_policy, "paused": sc.paused,
        "next_run_at": None if sc.paused else iso(sc.next_run_at), "last_run_at": iso(sc.last_run_at),
        "last_batch_id": sc.last_batch_id, "last_error": sc.last_error, "created_at": iso(sc.created_at),
    }


def _source(session: Session, source: Any, voice_id: str) -> dict[str, Any]:
    """Exactly one of ``items`` (inline, validated now as a batch's are) or ``object_key`` (a
    CSV/JSONL catalogue in the tenant's storage, read at each run)."""
    c = ctx()
    if not isinstance(source, dict) or len(source) != 1 or not {"items", "object_key"} & set(source):
        raise InvalidInput("'source' must be {\"items\": [...]} or {\"object_key\": \"...\"}", field="source")
    if "items" in source:
        raw = source["items"]
        if not isinstance(raw, list):
            raise InvalidInput("'source.items' must be a list of {text, voice_id, id} objects", field="source.items")
        items = validate_items(session, raw, c.settings.max_batch_items, c.settings.max_text_chars, voice_id)
        return {"items": [{"text": it["text"], "voice_id": it["voice_id"], "id": it["external_id"]} for it in items]}
    key = Text(max_len=500, required=True).parse(source.get("object_key"), "source.object_key") or ""
    if not key.startswith(storage_keys.tenant_prefix(g.tenant_id)) or ".." in key.split("/"):
        raise InvalidInput(f"'source.object_key' must be an object of yours, under {storage_keys.tenant_prefix(g.tenant_id)}",
                           field="source.object_key")
    if not key.lower().endswith((".csv", ".jsonl", ".ndjson")) or format_for("", key) is None:
        raise InvalidInput("'source.object_key' must name a .csv or .jsonl catalogue", field="source.object_key")
    if not c.storage.exists(key):
        raise InvalidInput(f"no object {key!r} in your storage", field="source.object_key")
    return {"object_key": key}


@operation("A batch on a cron in a time zone; beat starts each due run",
           {201: ("scheduled", "Schedule")},
           errors=(401, 403, 404, 409, 415, 422),
           body=SCHEDULE_REQUEST)
@bp.post("")
@require("write")
@idempotent
def create_schedule() -> ResponseReturnValue:
    c = ctx()
    body = SCHEDULE_REQUEST.read()
    name, cron, tz, voice_id, policy = body["name"], validate_cron(body["cron"]), body["timezone"], body["voice_id"], \
        body["missed_policy"]
    zone(tz)
    paused = body.get("paused", False)
    if not isinstance(paused, bool):
        raise InvalidInput("'paused' must be true or false", field="paused")
    now = utcnow()
    upcoming = next_run(cron, tz, now)
    if upcoming is None:
        raise InvalidInput(f"'cron' {cron!r} does not fire in the coming years", field="cron")
    with c.sessions.begin() as s:
        voice = tenant_voice(s, voice_id)
        if voice.status != VoiceStatus.ready.value:
            raise VoiceNotReady(f"voice {voice_id!r} is {voice.status}, not ready", field="voice_id")
        source = _source(s, body.get("source"), voice_id)
        schedule = Schedule(tenant_id=g.tenant_id, name=name, cron=cron, timezone=tz, source=source,
                            voice_id=voice_id, missed_policy=policy, paused=paused, checked_at=now,
                            next_run_at=upcoming)
        s.add(schedule)
        s.flush()
        record(s, g.tenant_id, f"key:{g.key_prefix}", "schedule.created", "schedule", schedule.id, name=name,
               cron=cron, timezone=tz, missed_policy=policy, paused=paused)
        result = schedule_json(schedule)
    return jsonify(result), 201, {"Location": url_for("schedules.get_schedule", schedule_id=result["id"])}


@operation("The tenant's schedules",
           {200: ("schedules", list_of("schedules", "Schedule"))},
           errors=(401,))
@bp.get("")
@require("read")
def list_schedules() -> ResponseReturnValue:
    with ctx().sessions() as s:
        rows = s.scalars(select(Schedule).where(Schedule.tenant_id == g.tenant_id).order_by(Schedule.created_at)).all()
        return jsonify(schedules=[schedule_json(sc) for sc in rows])


@operation("A schedule, its next and last run",
           {200: ("schedule", "Schedule")},
           errors=(401, 404))
@bp.get("/<schedule_id>")
@require("read")
def get_schedule(schedule_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        return jsonify(schedule_json(owned(s, Schedule, schedule_id, "schedule")))


def _set_paused(schedule_id: str, paused: bool) -> ResponseReturnValue:
    with ctx().sessions.begin() as s:
        schedule = owned(s, Schedule, schedule_id, "schedule")
        if schedule.paused == paused:
            raise Conflict(f"schedule {schedule_id!r} is already {'paused' if paused else 'running'}")
        schedule.paused = paused
        if not paused:
            # Runs that fell while paused are not missed runs: count from the resume.
            now = utcnow()
            schedule.checked_at, schedule.next_run_at = now, next_run(schedule.cron, schedule.timezone, now)
        action = "schedule.paused" if paused else "schedule.resumed"
        record(s, g.tenant_id, f"key:{g.key_prefix}", action, "schedule", schedule_id)
        return jsonify(schedule_json(schedule))


@operation("No runs until resumed",
           {200: ("paused", "Schedule")},
           errors=(401, 403, 404, 409, 422))
@bp.post("/<schedule_id>/pause")
@require("write")
@idempotent
def pause_schedule(schedule_id: str) -> ResponseReturnValue:
    return _set_paused(schedule_id, True)


@operation("Run again from the next fire time (runs that fell while paused are not caught up)",
           {200: ("resumed", "Schedule")},
           errors=(401, 403, 404, 409, 422))
@bp.post("/<schedule_id>/resume")
@require("write")
@idempotent
def resume_schedule(schedule_id: str) -> ResponseReturnValue:
    return _set_paused(schedule_id, False)


@operation("Stop a schedule for good (its batches stay)",
           {204: "deleted"},
           errors=(401, 403, 404))
@bp.delete("/<schedule_id>")
@require("write")
def delete_schedule(schedule_id: str) -> ResponseReturnValue:
    """Stops future runs; batches it already started are the tenant's and stay."""
    with ctx().sessions.begin() as s:
        schedule = owned(s, Schedule, schedule_id, "schedule")
        record(s, g.tenant_id, f"key:{g.key_prefix}", "schedule.deleted", "schedule", schedule_id,
               name=schedule.name)
        s.delete(schedule)
    return "", 204
