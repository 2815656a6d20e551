"""Batches: submit many texts at once (JSON or CSV), watch progress, page through items."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update

from api import validation
from api.auth import owned, require
from api.context import ctx
from api.idempotency import idempotent
from api.voices import tenant_voice
from shared import jobs, services
from shared.audit import record
from shared.errors import Conflict, InvalidInput, VoiceNotReady
from shared.models import Batch, BatchStatus, Item, ItemStatus, Voice, VoiceStatus, utcnow
from shared.queries import item_counts, reused_count

bp = Blueprint("batches", __name__, url_prefix="/v1/batches")
PAGE_MAX = 200


def _items_from_csv(data: str, default_voice: str | None) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(data))
    if not reader.fieldnames or "text" not in reader.fieldnames:
        raise InvalidInput("the CSV needs a header row with a 'text' column (optional: voice_id, id)")
    rows = []
    for row in reader:
        rows.append({"text": row.get("text"), "voice_id": row.get("voice_id") or default_voice, "id": row.get("id")})
    return rows


def _parse_request() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Items and the batch-level fields, from a JSON body or a CSV upload."""
    if request.is_json:
        body = validation.json_body()
        items = body.get("items")
        if not isinstance(items, list):
            raise InvalidInput("'items' must be a list of {text, voice_id} objects", field="items")
        default_voice = body.get("voice_id")
        fields = body
    else:
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("send JSON {items: [...]} or a multipart 'file' CSV with a 'text' column")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the CSV must be UTF-8 text", field="file") from exc
        default_voice = request.form.get("voice_id")
        items = _items_from_csv(text, default_voice)
        fields = {"name": request.form.get("name"), "speed": _form_float("speed")}
    for item in items:
        if isinstance(item, dict) and default_voice and not item.get("voice_id"):
            item["voice_id"] = default_voice
    return items, fields


def _form_float(field: str) -> float | None:
    raw = request.form.get(field)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidInput(f"'{field}' must be a number", field=field) from exc


def validate_items(session, items: list[Any], max_items: int, max_chars: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    if not items:
        raise InvalidInput("the batch has no items", field="items")
    if len(items) > max_items:
        raise InvalidInput(f"a batch holds at most {max_items} items; this one has {len(items)}", field="items")
    voices: dict[str, Voice] = {}
    clean = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"items[{n}] must be an object", field=f"items[{n}]")
        text = validation.string(item.get("text"), f"items[{n}].text", max_len=max_chars)
        voice_id = validation.string(item.get("voice_id"), f"items[{n}].voice_id", max_len=36)
        external = validation.string(item.get("id"), f"items[{n}].id", max_len=200, required=False)
        if voice_id not in voices:
            voices[voice_id] = tenant_voice(session, voice_id)
            if voices[voice_id].status != VoiceStatus.ready.value:
                raise VoiceNotReady(f"voice {voice_id!r} is {voices[voice_id].status}, not ready", field=f"items[{n}]")
        clean.append({"text": text, "voice_id": voice_id, "external_id": external})
    return clean


@bp.post("")
@require("write")
@idempotent
def create_batch() -> ResponseReturnValue:
    c = ctx()
    raw_items, fields = _parse_request()
    name = validation.string(fields.get("name"), "name", max_len=200, required=False)
    speed = validation.number(fields.get("speed"), "speed", low=0.5, high=2.0, default=1.0)
    with c.sessions.begin() as s:
        items = validate_items(s, raw_items, c.settings.max_batch_items, c.settings.max_text_chars)
        batch_id = services.create_batch(s, g.tenant_id, items, name, {"speed": speed}, f"key:{g.key_prefix}")
    c.enqueue(jobs.PLAN_BATCH, batch_id)
    return jsonify(batch_summary(batch_id)), 202, {"Location": url_for("batches.get_batch", batch_id=batch_id)}


def batch_summary(batch_id: str) -> dict[str, Any]:
    with ctx().sessions() as s:
        batch = owned(s, Batch, batch_id, "batch")
        counts = item_counts(s, batch_id)
        finished = sum(counts[k] for k in ("succeeded", "needs_review", "failed", "cancelled"))
        return {
            "id": batch.id, "name": batch.name, "status": batch.status, "total": batch.total,
            "counts": counts, "reused": reused_count(s, batch_id),
            "progress": round(finished / batch.total, 4) if batch.total else 1.0,
            "params": batch.params, "created_at": batch.created_at.isoformat(),
            "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
            "manifest_url": ctx().storage.presigned_url(batch.manifest_key, ctx().settings.presign_ttl_seconds)
            if batch.manifest_key else None,
        }


@bp.get("/<batch_id>")
@require("read")
def get_batch(batch_id: str) -> ResponseReturnValue:
    return jsonify(batch_summary(batch_id))


@bp.get("/<batch_id>/items")
@require("read")
def list_items(batch_id: str) -> ResponseReturnValue:
    c = ctx()
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in ItemStatus}:
        raise InvalidInput(f"'status' must be one of {', '.join(s.value for s in ItemStatus)}", field="status")
    try:
        cursor = int(request.args.get("cursor", "0"))
        limit = int(request.args.get("limit", "50"))
    except ValueError as exc:
        raise InvalidInput("'cursor' and 'limit' must be integers") from exc
    if cursor < 0 or not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"'cursor' must be ≥ 0 and 'limit' between 1 and {PAGE_MAX}")
    batch_summary(batch_id)  # 404 for another tenant's batch
    with c.sessions() as s:
        query = select(Item).where(Item.batch_id == batch_id, Item.seq >= cursor)
        if status:
            query = query.where(Item.status == status)
        rows = s.scalars(query.order_by(Item.seq).limit(limit + 1)).all()
    page, more = rows[:limit], len(rows) > limit
    items = [
        {
            "id": it.id, "seq": it.seq, "external_id": it.external_id, "text": it.text, "status": it.status,
            "attempts": it.attempts, "error": it.error, "duration_s": it.duration_s, "checksum": it.checksum,
            "voice_id": it.voice_id, "voice_version_id": it.voice_version_id, "quality": it.quality,
            "reused": it.reused,
            "url": c.storage.presigned_url(it.storage_key, c.settings.presign_ttl_seconds) if it.storage_key else None,
        }
        for it in page
    ]
    return jsonify(items=items, next_cursor=rows[-1].seq if more else None)


@bp.post("/<batch_id>/cancel")
@require("write")
@idempotent
def cancel_batch(batch_id: str) -> ResponseReturnValue:
    """Stop a batch: queued items are cancelled now; a running item finishes, and workers skip the rest."""
    c = ctx()
    batch_summary(batch_id)  # 404 for another tenant's batch
    with c.sessions.begin() as s:
        batch = s.get(Batch, batch_id, with_for_update=True)
        assert batch is not None
        if batch.finished_at is not None:
            raise Conflict(f"batch {batch_id!r} already finished ({batch.status})")
        batch.status = BatchStatus.cancelled.value
        s.execute(update(Item).where(Item.batch_id == batch_id, Item.status == ItemStatus.queued.value)
                  .values(status=ItemStatus.cancelled.value, error="batch cancelled", finished_at=utcnow()))
        record(s, g.tenant_id, f"key:{g.key_prefix}", "batch.cancelled", "batch", batch_id)
    services.finish_batch_if_done(c.sessions, c.storage, batch_id)
    return jsonify(batch_summary(batch_id)), 202
