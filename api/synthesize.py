"""Previews: one short text, answered synchronously with a WAV.

The API does not run the model: it records a one-item batch, sends it to a worker like
any other, and waits for the row to finish (in embedded mode the in-process worker has
finished it by the time ``queue.send`` returns).

The wait holds one API thread, never a whole server process: the API runs gunicorn's
threaded workers (``-k gthread``, sized in the manifests), the wait is bounded
(``preview_timeout_seconds``), a tenant has at most ``preview_max_concurrent`` previews in
flight (429 past it, ``api.preview_slots``) and one process waits on at most
``preview_max_waiting`` (503 past it), fewer than its threads, so the probes and other
requests always find a thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, g
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session, sessionmaker

from api import preview_slots
from api.auth import require
from api.batches import validate_items
from api.context import ctx
from api.idempotency import idempotent
from api.schema import Body, Field, Number, operation
from shared import dispatch
from shared.errors import NarratorError, ServiceUnavailable
from shared.models import FINISHED_ITEM_STATES, Item, ItemStatus
from shared.services import create_batch

bp = Blueprint("synthesize", __name__, url_prefix="/v1")
PREVIEW_MAX_CHARS = 300
# text and voice_id are checked as a one-item batch's are (api.batches.validate_items)
SYNTHESIZE_REQUEST = Body({
    "text": Field({"type": "string", "maxLength": PREVIEW_MAX_CHARS}),
    "voice_id": Field({"type": "string"}),
    "speed": Number(low=0.5, high=2.0, default=1.0),
}, name="SynthesizeRequest", required=("text", "voice_id"))


class RenderFailed(NarratorError):
    code = "render_failed"
    status = 422


@operation("Render one short text synchronously (preview)",
           {200: ("WAV audio", {"audio/wav": {}})},
           errors=(401, 403, 404, 409, 415, 422, 503),
           body=SYNTHESIZE_REQUEST)
@bp.post("/synthesize")
@require("write")
@idempotent
def synthesize() -> ResponseReturnValue:
    c = ctx()
    body = SYNTHESIZE_REQUEST.read()
    speed = body["speed"]
    raw = [{"text": body.get("text"), "voice_id": body.get("voice_id")}]
    with preview_slots.held(c.previews, g.tenant_id), _waiting_thread(c.waiting):
        with c.sessions.begin() as s:
            items = validate_items(s, raw, 1, PREVIEW_MAX_CHARS)
            batch_id = create_batch(s, g.tenant_id, items, "preview", {"speed": speed, "preview": True},
                                    f"key:{g.key_prefix}")
            item_id = s.query(Item.id).filter(Item.batch_id == batch_id).scalar()
        c.queue.send(dispatch.SYNTHESIZE_ITEM, item_id, queue=dispatch.INTERACTIVE)  # never behind a big batch
        item = _finished(c.sessions, item_id, c.settings.preview_timeout_seconds)
    if item.status not in (ItemStatus.succeeded.value, ItemStatus.needs_review.value) or not item.storage_key:
        raise RenderFailed(item.error or f"the preview ended {item.status}")
    audio = c.storage.get(item.storage_key)
    return Response(audio, mimetype="audio/wav", headers={"X-Item-Id": item_id, "X-Batch-Id": batch_id,
                                                          "X-Duration-Seconds": str(item.duration_s)})


@contextmanager
def _waiting_thread(waiting: threading.BoundedSemaphore) -> Iterator[None]:
    if not waiting.acquire(blocking=False):
        raise ServiceUnavailable("this API process is already waiting on as many previews as it may; "
                                 "try again in a few seconds")
    try:
        yield
    finally:
        waiting.release()


def _finished(sessions: sessionmaker[Session], item_id: str, timeout: float) -> Item:
    """The item once it has finished, polled every 0.1 s for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with sessions() as s:
            item = s.get(Item, item_id)
            if item is None:
                raise ServiceUnavailable("the preview's item disappeared")
            if item.status in FINISHED_ITEM_STATES:
                s.expunge(item)
                return item
        if time.monotonic() > deadline:
            raise ServiceUnavailable("no worker finished the preview in time; try again later")
        time.sleep(0.1)
