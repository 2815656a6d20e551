"""Batches: submit many texts at once (JSON, CSV or JSONL), watch progress, page through items.

Up to ``Settings.max_batch_items`` (100 000) items. A CSV or JSONL upload is never held
whole: it is spooled to storage as it arrives and a worker reads it into items.
"""

from __future__ import annotations

import io
import tempfile
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update

from api import validation
from api.auth import owned, require
from api.context import ctx
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import idempotent
from api.voices import usable_voice
from shared import jobs, keys, services
from shared.audit import record
from shared.batch_source import CountingReader, SourceRejected, encode_jsonl, format_for, peek_header
from shared.errors import Conflict, InvalidInput, VoiceNotReady
from shared.models import Batch, BatchStatus, Item, ItemStatus, Voice, VoiceStatus, new_id, utcnow
from shared.queries import item_counts, reused_count
from shared.pronunciation.readings import check_overrides

bp = Blueprint("batches", __name__, url_prefix="/v1/batches")
PAGE_MAX = 200
# A JSON batch up to this size is inserted in the request; a larger one is stored as a
# JSONL source and inserted by the planner, so accepting it stays quick.
INLINE_MAX_ITEMS = 1000


def _json_request() -> tuple[list[Any], dict[str, Any]]:
    """Items and the batch-level fields of a JSON body ``{voice_id, items: [...], name, speed, zip}``."""
    body = validation.json_body()
    items = body.get("items")
    if not isinstance(items, list):
        raise InvalidInput("'items' must be a list of {text, voice_id} objects", field="items")
    default_voice = body.get("voice_id")
    for item in items:
        if isinstance(item, dict) and default_voice and not item.get("voice_id"):
            item["voice_id"] = default_voice
    return items, body


def _zip_flag(value: Any) -> bool:
    if value is None or value is False or value in ("", "false", "0"):
        return False
    if value is True or value in ("true", "1"):
        return True
    raise InvalidInput("'zip' must be true or false", field="zip")


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
        try:
            check_overrides(text or "")
        except ValueError as exc:
            raise InvalidInput(f"items[{n}].text: {exc}", field=f"items[{n}].text") from None
        voice_id = validation.string(item.get("voice_id"), f"items[{n}].voice_id", max_len=36)
        external = validation.string(item.get("id"), f"items[{n}].id", max_len=200, required=False)
        if voice_id not in voices:
            voices[voice_id] = usable_voice(session, voice_id)
            if voices[voice_id].status != VoiceStatus.ready.value:
                raise VoiceNotReady(f"voice {voice_id!r} is {voices[voice_id].status}, not ready", field=f"items[{n}]")
        clean.append({"text": text, "voice_id": voices[voice_id].id, "external_id": external})
    return clean


@bp.post("")
@require("write")
@idempotent
def create_batch() -> ResponseReturnValue:
    """JSON is validated here, whole (4xx on any bad item); CSV and JSONL are streamed to
    storage and read by the planner, where a bad line fails its own item only."""
    batch_id = _create_from_json() if request.is_json else _create_from_source()
    return jsonify(batch_summary(batch_id)), 202, {"Location": url_for("batches.get_batch", batch_id=batch_id)}


def _create_from_json() -> str:
    c = ctx()
    raw_items, fields = _json_request()
    name = validation.string(fields.get("name"), "name", max_len=200, required=False)
    speed = validation.number(fields.get("speed"), "speed", low=0.5, high=2.0, default=1.0)
    params: dict[str, Any] = {"speed": speed, **({"zip": True} if _zip_flag(fields.get("zip")) else {})}
    actor = f"key:{g.key_prefix}"
    with c.sessions.begin() as s:  # a stock voice named for the first time is adopted
        items = validate_items(s, raw_items, c.settings.max_batch_items, c.settings.max_text_chars)
    if len(items) <= INLINE_MAX_ITEMS:
        with c.sessions.begin() as s:
            batch_id = services.create_batch(s, g.tenant_id, items, name, params, actor)
        c.enqueue(jobs.PLAN_BATCH, batch_id, queue=jobs.synth_queue(len(items), c.settings.interactive_max_items))
        return batch_id
    # Many items: the request stays short; they go the streamed way, as a JSONL source.
    batch_id = new_id()
    key = keys.batch_source_key(g.tenant_id, batch_id, "jsonl")
    with tempfile.SpooledTemporaryFile(8 * 1024 * 1024) as spool:
        spool.writelines(encode_jsonl(items))
        spool.seek(0)
        c.storage.put_file(key, spool, "application/x-ndjson")  # type: ignore[arg-type]
    with c.sessions.begin() as s:
        services.create_sourced_batch(s, g.tenant_id, batch_id, key, "jsonl", name, params, actor, len(items))
    c.enqueue(jobs.PLAN_BATCH, batch_id, queue="synth")
    return batch_id


def _create_from_source() -> str:
    """A CSV or JSONL body (raw, or a multipart ``file``): spooled to storage as it arrives."""
    c = ctx()
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    if upload is not None:
        fmt, fields = format_for(upload.mimetype, upload.filename), request.form
        stream: Any = upload.stream
    else:
        fmt, fields = format_for(request.mimetype), request.args
        # Idempotency-Key hashed the body already (and kept it); otherwise read the socket directly.
        stream = io.BytesIO(request.get_data(cache=True)) if IDEMPOTENCY_HEADER in request.headers \
            else request.stream
    if fmt is None:
        raise InvalidInput("send JSON {voice_id, items: [...]}, a CSV or JSONL body (Content-Type text/csv or "
                           "application/x-ndjson), or a multipart 'file'")
    name = validation.string(fields.get("name"), "name", max_len=200, required=False)
    speed = validation.number(_float(fields, "speed"), "speed", low=0.5, high=2.0, default=1.0)
    voice_id = validation.string(fields.get("voice_id"), "voice_id", max_len=36, required=False)
    params: dict[str, Any] = {"speed": speed, **({"zip": True} if _zip_flag(fields.get("zip")) else {})}
    if voice_id:
        with c.sessions.begin() as s:
            voice = usable_voice(s, voice_id)
            if voice.status != VoiceStatus.ready.value:
                raise VoiceNotReady(f"voice {voice_id!r} is {voice.status}, not ready", field="voice_id")
            voice_id = voice.id
        params["voice_id"] = voice_id
    try:
        head = peek_header(stream, fmt)
    except SourceRejected as exc:
        raise InvalidInput(str(exc), **({"field": "file"} if upload is not None else {})) from exc
    batch_id = new_id()
    key = keys.batch_source_key(g.tenant_id, batch_id, fmt)
    reader = CountingReader(stream, head)
    c.storage.put_file(key, reader, "text/csv" if fmt == "csv" else "application/x-ndjson")  # type: ignore[arg-type]
    lines = reader.lines - (1 if fmt == "csv" else 0)
    if lines > c.settings.max_batch_items:
        c.storage.delete(key)
        raise InvalidInput(f"a batch holds at most {c.settings.max_batch_items} items; this one has {lines} lines",
                           field="items")
    with c.sessions.begin() as s:
        services.create_sourced_batch(s, g.tenant_id, batch_id, key, fmt, name, params, f"key:{g.key_prefix}", lines)
    c.enqueue(jobs.PLAN_BATCH, batch_id, queue=jobs.synth_queue(lines, c.settings.interactive_max_items))
    return batch_id


def _float(fields: Any, field: str) -> float | None:
    raw = fields.get(field)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidInput(f"'{field}' must be a number", field=field) from exc


def batch_summary(batch_id: str) -> dict[str, Any]:
    with ctx().sessions() as s:
        batch = owned(s, Batch, batch_id, "batch")
        counts = item_counts(s, batch_id)
        finished = sum(counts[k] for k in ("succeeded", "needs_review", "failed", "cancelled"))
        planning = batch.status == BatchStatus.planning.value
        return {
            "id": batch.id, "name": batch.name, "status": batch.status, "total": batch.total,
            "counts": counts, "reused": reused_count(s, batch_id),
            "progress": 0.0 if planning else round(finished / batch.total, 4) if batch.total else 1.0,
            "source_format": batch.source_format,
            "params": batch.params, "created_at": batch.created_at.isoformat(),
            "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
            "manifest_url": ctx().download_url(batch.manifest_key)
            if batch.manifest_key else None,
            "zip_url": ctx().download_url(batch.zip_key)
            if batch.zip_key else None,
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
    cursor, limit = validation.paging(50, PAGE_MAX)
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
            "reused": it.reused, "lexicon_version": it.lexicon_version, "readings": it.readings,
            "url": c.download_url(it.storage_key) if it.storage_key else None,
        }
        for it in page
    ]
    return jsonify(items=items, next_cursor=rows[-1].seq if more else None)


@bp.post("/<batch_id>/cancel")
@require("write")
@idempotent
def cancel_batch(batch_id: str) -> ResponseReturnValue:
    """Stop a batch: queued items are cancelled now; a running item finishes, and workers skip the rest."""
    cancel(batch_id)
    return jsonify(batch_summary(batch_id)), 202


def cancel(batch_id: str) -> None:
    """Cancel one of the caller's batches (API and console); 409 once it has finished."""
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
