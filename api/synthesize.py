"""Previews: one short text, answered synchronously with a WAV.

The API does not run the model: it records a one-item batch, sends it to a worker like
any other, and waits for the row to finish (in embedded mode the in-process worker has
finished it by the time ``enqueue`` returns).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, g
from flask.typing import ResponseReturnValue

from api import validation
from api.auth import require
from api.batches import validate_items
from api.context import ctx
from api.idempotency import idempotent
from shared import jobs
from shared.errors import NarratorError, ServiceUnavailable
from shared.models import FINISHED_ITEM_STATES, Item, ItemStatus
from shared.services import create_batch

bp = Blueprint("synthesize", __name__, url_prefix="/v1")
PREVIEW_MAX_CHARS = 300
PREVIEW_TIMEOUT_S = 120.0


class RenderFailed(NarratorError):
    code = "render_failed"
    status = 422


@bp.post("/synthesize")
@require("write")
@idempotent
def synthesize() -> ResponseReturnValue:
    c = ctx()
    body = validation.json_body()
    speed = validation.number(body.get("speed"), "speed", low=0.5, high=2.0, default=1.0)
    raw = [{"text": body.get("text"), "voice_id": body.get("voice_id")}]
    with c.sessions.begin() as s:
        items = validate_items(s, raw, 1, PREVIEW_MAX_CHARS)
        batch_id = create_batch(s, g.tenant_id, items, "preview", {"speed": speed, "preview": True},
                                     f"key:{g.key_prefix}")
        item_id = s.query(Item.id).filter(Item.batch_id == batch_id).scalar()
    c.enqueue(jobs.SYNTHESIZE_ITEM, item_id, queue=jobs.INTERACTIVE)  # never behind a big batch
    deadline = time.monotonic() + PREVIEW_TIMEOUT_S
    while True:
        with c.sessions() as s:
            item = s.get(Item, item_id)
            assert item is not None
            if item.status in FINISHED_ITEM_STATES:
                break
        if time.monotonic() > deadline:
            raise ServiceUnavailable("no worker finished the preview in time; try again later")
        time.sleep(0.1)
    if item.status not in (ItemStatus.succeeded.value, ItemStatus.needs_review.value) or not item.storage_key:
        raise RenderFailed(item.error or f"the preview ended {item.status}")
    audio = c.storage.get(item.storage_key)
    return Response(audio, mimetype="audio/wav", headers={"X-Item-Id": item_id, "X-Batch-Id": batch_id,
                                                          "X-Duration-Seconds": str(item.duration_s)})
