"""Fine-tune runs of the caller's pronunciation adapter: list them with the gate's verdict,
start one now, roll the adapter in use back, and re-render what its corrections touched."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api import validation
from api.auth import owned, require
from api.context import ctx
from shared import jobs, services
from shared.audit import canonical_time
from shared.errors import Conflict
from shared.finetune import active_adapter, create_run, rollback
from shared.models import FinetuneRun, FinetuneStatus, Item, Voice, VoiceStatus

bp = Blueprint("finetune", __name__, url_prefix="/v1/finetune/runs")
RERENDER_MAX_ITEMS = 10000


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


@bp.get("")
@require("read")
def list_runs() -> ResponseReturnValue:
    with ctx().sessions() as s:
        runs = s.scalars(select(FinetuneRun).where(FinetuneRun.tenant_id == g.tenant_id)
                         .order_by(FinetuneRun.version.desc()).limit(200)).all()
        active = _active_id(s)
        return jsonify({"runs": [run_view(r, active) for r in runs]})


@bp.get("/<run_id>")
@require("read")
def get_run(run_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        return jsonify(run_view(owned(s, FinetuneRun, run_id, "fine-tune run"), _active_id(s)))


@bp.post("")
@require("write")
def start_run() -> ResponseReturnValue:
    """Train now instead of waiting for the night (the same job the nightly beat starts)."""
    c = ctx()
    with c.sessions.begin() as s:
        run = create_run(s, g.tenant_id, "manual", _actor())
        body = run_view(run, _active_id(s))
    c.enqueue(jobs.FINETUNE, run.id)
    return jsonify(body), 202


@bp.post("/<run_id>/rollback")
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


@bp.post("/<run_id>/rerender")
@require("write")
def rerender(run_id: str) -> ResponseReturnValue:
    """Opt-in: a new batch of the tenant's distinct texts containing a character the run
    learned, in a ready voice of the caller's choice."""
    c = ctx()
    body = validation.json_body()
    voice_id = validation.string(body.get("voice_id"), "voice_id", max_len=36)
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
    c.enqueue(jobs.PLAN_BATCH, batch_id, queue=jobs.synth_queue(len(items), c.settings.interactive_max_items))
    return jsonify({"batch_id": batch_id, "items": len(items)}), 202
