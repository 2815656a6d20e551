"""Batches: submit many texts at once (JSON, CSV or JSONL), watch progress, page through items.

Up to ``Settings.max_batch_items`` (100 000) items. A CSV or JSONL upload is never held
whole in memory: it is spooled to a temporary file as it arrives, checked for inline
overrides, stored, and a worker reads it into items.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.auth import owned, require
from api.context import ctx
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import idempotent
from api.schema import Body, Choice, Field, Number, Text, operation, paging, paging_query
from api.voices import usable_voice
from shared import dispatch, services, storage_keys
from shared.audio_types import FILE_FORMATS
from shared.audit import record
from shared.batch_source import (
    CountingReader,
    SourceRejected,
    encode_jsonl,
    format_for,
    peek_header,
    refuse_bad_overrides,
)
from shared.errors import Conflict, InvalidInput, VoiceNotReady
from shared.items import check_item
from shared.models import Batch, BatchStatus, Item, ItemStatus, Voice, VoiceStatus, new_id, utcnow
from shared.queries import item_counts, reused_count

bp = Blueprint("batches", __name__, url_prefix="/v1/batches")
ITEM_STATUS = Choice(values=tuple(s.value for s in ItemStatus))
OUTPUT_FORMAT = Choice(values=FILE_FORMATS, default="wav",
                       description="each item's file: 16-bit WAV, MP3 (64 kbit/s) or FLAC; 24 kHz mono")
BATCH_REQUEST = Body({
    "name": Text(max_len=200),
    "voice_id": Field({"type": "string"}, description="default for items"),
    "speed": Number(low=0.5, high=2.0, default=1.0),
    "zip": Field({"type": "boolean"}, description="also deliver a ZIP of the audio and the manifest"),
    "output_format": OUTPUT_FORMAT,
    # each item checked by shared.items.check_item (validate_items)
    "items": Field({"type": "array", "minItems": 1, "maxItems": 100000, "items": {
        "type": "object", "required": ["text"],
        "properties": {"text": {"type": "string"}, "voice_id": {"type": "string"}, "id": {"type": "string"}}}}),
}, name="BatchRequest", required=("items",))
UPLOAD = {"required": True, "content": {
    "application/json": {"schema": BATCH_REQUEST},
    "text/csv": {"schema": {"type": "string", "description": "header row with text[, voice_id, id]"}},
    "application/x-ndjson": {"schema": {"type": "string", "description": "one {text, voice_id, id} object a line"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "CSV, or JSONL (.jsonl)"},
        "voice_id": {"type": "string"}, "name": {"type": "string"}, "speed": {"type": "number"},
        "zip": {"type": "boolean"}, "output_format": {"enum": list(FILE_FORMATS)}}}},
}}
PAGE_MAX = 200
# A JSON batch up to this size is inserted in the request; a larger one is stored as a
# JSONL source and inserted by the planner, so accepting it stays quick.
INLINE_MAX_ITEMS = 1000
# A source on its way to storage is held in memory up to this size, then in a temporary file.
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024


def _json_request() -> tuple[list[Any], dict[str, Any]]:
    """Items and the batch-level fields of a JSON body ``{voice_id, items: [...], name, speed, zip, output_format}``."""
    body = BATCH_REQUEST.read()
    items = body.get("items")
    if not isinstance(items, list):
        raise InvalidInput("'items' must be a list of {text, voice_id} objects", field="items")
    return items, body


def _params(speed: float, fields: Any) -> dict[str, Any]:
    """The batch's render parameters, each only when it differs from the default."""
    fmt = OUTPUT_FORMAT.read(fields, "output_format")
    return {"speed": speed, **({"zip": True} if _zip_flag(fields.get("zip")) else {}),
            **({"output_format": fmt} if fmt != "wav" else {})}


def _zip_flag(value: Any) -> bool:
    if value is None or value is False or value in ("", "false", "0"):
        return False
    if value is True or value in ("true", "1"):
        return True
    raise InvalidInput("'zip' must be true or false", field="zip")


def validate_items(session: Session, items: list[Any], max_items: int, max_chars: int,
                   default_voice: str | None = None) -> list[dict[str, Any]]:
    """Every item checked by :func:`shared.items.check_item` (the first fault is the 422)
    and its voice one of the caller's ready voices (404/409)."""
    if not items:
        raise InvalidInput("the batch has no items", field="items")
    if len(items) > max_items:
        raise InvalidInput(f"a batch holds at most {max_items} items; this one has {len(items)}", field="items")
    voices: dict[str, Voice] = {}
    clean = []
    for n, raw in enumerate(items):
        if not isinstance(raw, dict):
            raise InvalidInput(f"items[{n}] must be an object", field=f"items[{n}]")
        item, problem = check_item(raw, max_chars, default_voice, label=f"items[{n}].")
        if problem is not None:
            raise problem.error()
        voice_id = item["voice_id"]
        if voice_id not in voices:
            voices[voice_id] = usable_voice(session, voice_id)
            if voices[voice_id].status != VoiceStatus.ready.value:
                raise VoiceNotReady(f"voice {voice_id!r} is {voices[voice_id].status}, not ready", field=f"items[{n}]")
        clean.append({**item, "voice_id": voices[voice_id].id})
    return clean


@operation(
    "Submit a batch of up to 100 000 items: JSON, or a streamed CSV ('text' column) or JSONL",
    {202: ("accepted", "Batch")},
    errors=(401, 403, 404, 409, 413, 415, 422),
    description="JSON is validated whole (4xx on any bad item). A CSV or JSONL body (or multipart 'file') is "
    "stored as it arrives and read by a worker: a bad line becomes a failed item with its line number and "
    "reason, except an unreadable inline {word|reading} override, refused at upload (422 items[n].text) as in "
    "JSON. For a raw body, voice_id, name, speed, zip and output_format are query parameters.",
    query={
        "voice_id": Field({"type": "string"}),
        "name": Field({"type": "string"}),
        "speed": Field({"type": "number"}),
        "zip": Field({"type": "boolean"}),
        "output_format": OUTPUT_FORMAT,
    },
    body=UPLOAD,
)
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
    name = fields["name"]
    params = _params(fields["speed"], fields)
    actor = f"key:{g.key_prefix}"
    with c.sessions.begin() as s:  # a stock voice named for the first time is adopted
        items = validate_items(s, raw_items, c.settings.max_batch_items, c.settings.max_text_chars,
                               fields.get("voice_id"))
    if len(items) <= INLINE_MAX_ITEMS:
        with c.sessions.begin() as s:
            batch_id = services.create_batch(s, g.tenant_id, items, name, params, actor)
        c.queue.send(dispatch.PLAN_BATCH, batch_id,
                     queue=dispatch.synth_queue(len(items), c.settings.interactive_max_items))
        return batch_id
    # Many items: the request stays short; they go the streamed way, as a JSONL source.
    batch_id = new_id()
    key = storage_keys.batch_source_key(g.tenant_id, batch_id, "jsonl")
    with tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES) as spool:
        spool.writelines(encode_jsonl(items))
        spool.seek(0)
        c.storage.put_file(key, spool, "application/x-ndjson")  # type: ignore[arg-type]
    with c.sessions.begin() as s:
        services.create_sourced_batch(s, g.tenant_id, batch_id, key, "jsonl", name, params, actor, len(items))
    c.queue.send(dispatch.PLAN_BATCH, batch_id, queue=dispatch.SYNTH)
    return batch_id


def _create_from_source() -> str:
    """A CSV or JSONL body (raw, or a multipart ``file``): spooled to a temporary file as it
    arrives (memory holds one chunk), refused whole for a bad inline override as a JSON batch
    is, then stored for the planner, which turns any other bad line into a failed item."""
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
    name = Text(max_len=200).parse(fields.get("name"), "name")
    speed = Number(low=0.5, high=2.0, default=1.0).parse(_float(fields, "speed"), "speed")
    voice_id = Text(max_len=36).parse(fields.get("voice_id"), "voice_id")
    params = _params(speed or 1.0, fields)
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
    key = storage_keys.batch_source_key(g.tenant_id, batch_id, fmt)
    with tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES) as spool:
        reader = CountingReader(stream, head)
        shutil.copyfileobj(reader, spool)  # type: ignore[misc]
        lines = reader.lines - (1 if fmt == "csv" else 0)
        if lines > c.settings.max_batch_items:
            raise InvalidInput(f"a batch holds at most {c.settings.max_batch_items} items; this one has {lines} "
                               "lines", field="items")
        spool.seek(0)
        refuse_bad_overrides(spool, fmt)  # type: ignore[arg-type]
        spool.seek(0)
        c.storage.put_file(key, spool, "text/csv" if fmt == "csv" else "application/x-ndjson")  # type: ignore[arg-type]
    with c.sessions.begin() as s:
        services.create_sourced_batch(s, g.tenant_id, batch_id, key, fmt, name, params, f"key:{g.key_prefix}", lines)
    c.queue.send(dispatch.PLAN_BATCH, batch_id, queue=dispatch.synth_queue(lines, c.settings.interactive_max_items))
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


@operation("Counts per status and progress",
           {200: ("batch", "Batch")},
           errors=(401, 404))
@bp.get("/<batch_id>")
@require("read")
def get_batch(batch_id: str) -> ResponseReturnValue:
    return jsonify(batch_summary(batch_id))


@operation(
    "Items, paginated; each with a presigned URL once rendered",
    {200: ("page", "ItemPage")},
    errors=(401, 404, 422),
    query={
        "status": ITEM_STATUS,
        **paging_query(PAGE_MAX),
    },
)
@bp.get("/<batch_id>/items")
@require("read")
def list_items(batch_id: str) -> ResponseReturnValue:
    c = ctx()
    status = ITEM_STATUS.read(request.args, "status")
    cursor, limit = paging(50, PAGE_MAX)
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


@operation("Cancel a batch: queued items stop now, a running item finishes",
           {202: ("cancelled", "Batch")},
           errors=(401, 403, 404, 409))
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
