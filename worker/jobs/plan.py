"""Planning a batch: its uploaded source read into items, and its first window sent.

Planning streams the source (``shared.batch_source``) and inserts items a chunk at a
time; the first chunks render while the rest is read. Items go to the broker a window at
a time (``worker.jobs.window``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import func, select

from shared.audit import record
from shared.batch_source import Row, check_row, iter_rows
from shared.models import Batch, BatchStatus, Item, ItemStatus, Voice, VoiceStatus, utcnow
from shared.services import finish_batch_if_done, insert_items
from worker.context import WorkerContext
from worker.jobs.notify import send_webhooks
from worker.jobs.window import Dispatch, dispatch_window, send_items

log = logging.getLogger(__name__)

PLAN_CHUNK = 1000


def plan_batch(ctx: WorkerContext, batch_id: str, dispatch: Dispatch | None = None) -> int:
    """Read an uploaded source into items (streamed, in chunks), mark the batch running and
    hand its first window of items to the broker; returns how many were dispatched.

    Later items are dispatched as earlier ones finish (``worker.jobs.finish.after_item``).
    When tasks run inline (embedded) every item is dispatched here, since ``dispatch`` runs
    it in this process.
    """
    dispatch = dispatch or send_items(ctx)
    inline = ctx.queue.runs_inline
    with ctx.sessions.begin() as s:
        batch = s.get(Batch, batch_id)
        if batch is None or batch.status == BatchStatus.cancelled.value:
            return 0
        if batch.status == BatchStatus.queued.value:
            batch.status = BatchStatus.running.value
        planning = batch.status == BatchStatus.planning.value
        batch.planner_seen_at = utcnow()
    sent = 0
    if planning:
        def early() -> None:  # the first chunks render while the rest of the source is read
            nonlocal sent
            if not inline:
                sent += dispatch_window(ctx, batch_id, dispatch)

        ingest_source(ctx, batch_id, on_chunk=early)
    while True:
        n = dispatch_window(ctx, batch_id, dispatch)
        sent += n
        if n == 0 or not inline:
            break
    finish_batch_if_done(ctx.sessions, ctx.storage, batch_id, notify=partial(send_webhooks, ctx))
    return sent


def ingest_source(ctx: WorkerContext, batch_id: str, on_chunk: Callable[[], None] | None = None) -> int:
    """Read the batch's stored source into items; returns the batch's total.

    Resumable: a redelivered planning task skips the lines already inserted (items are
    numbered by their position among the data lines). ``on_chunk`` runs after each
    committed chunk, so rendering starts while a long source is still being read.
    """
    with ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        if batch is None or batch.source_key is None or batch.source_format is None:
            return batch.total if batch else 0
        tenant_id, key, fmt = batch.tenant_id, batch.source_key, batch.source_format
        default_voice = (batch.params or {}).get("voice_id")
        done = s.scalar(select(func.count()).select_from(Item).where(Item.batch_id == batch_id)) or 0
    voices: dict[str, str | None] = {}

    def voice_error(voice_id: str) -> str | None:
        if voice_id not in voices:
            with ctx.sessions() as s:
                voice = s.get(Voice, voice_id)
                if voice is None or voice.tenant_id != tenant_id:
                    voices[voice_id] = f"voice {voice_id!r} not found"
                elif voice.status != VoiceStatus.ready.value:
                    voices[voice_id] = f"voice {voice_id!r} is {voice.status}, not ready"
                else:
                    voices[voice_id] = None
        return voices[voice_id]

    max_items, max_chars = ctx.settings.max_batch_items, ctx.settings.max_text_chars
    seq, invalid = 0, 0
    chunk: list[dict[str, Any]] = []
    stream = ctx.storage.open(key)
    for row in iter_rows(stream, fmt):
        if seq >= max_items:
            log.warning("batch %s: source has more than %d items; the rest is ignored", batch_id, max_items,
                        extra={"batch_id": batch_id})
            break
        if seq >= done:
            item = _item_for(row, default_voice, max_chars, voice_error)
            invalid += item.get("status") == ItemStatus.failed.value
            chunk.append(item)
        seq += 1
        if len(chunk) >= PLAN_CHUNK:
            if not _store_chunk(ctx, batch_id, tenant_id, seq - len(chunk), chunk):
                return seq - len(chunk)  # cancelled while planning: stop reading
            chunk = []
            if on_chunk is not None:
                on_chunk()
    if chunk and not _store_chunk(ctx, batch_id, tenant_id, seq - len(chunk), chunk):
        return seq - len(chunk)
    with ctx.sessions.begin() as s:
        batch = s.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            return 0
        batch.total = seq
        if batch.status == BatchStatus.planning.value:
            batch.status = BatchStatus.running.value
        record(s, tenant_id, "worker", "batch.planned", "batch", batch_id, total=seq, invalid=invalid)
    log.info("batch %s planned: %d items, %d invalid", batch_id, seq, invalid, extra={"batch_id": batch_id})
    return seq


def _item_for(row: Row, default_voice: str | None, max_chars: int,
              voice_error: Callable[[str], str | None]) -> dict[str, Any]:
    item, problem = check_row(row, default_voice, max_chars, voice_error)
    if problem:
        item.update(status=ItemStatus.failed.value, error=f"invalid_input: line {row.line}: {problem}")
    return item


def _store_chunk(ctx: WorkerContext, batch_id: str, tenant_id: str, first_seq: int,
                 chunk: list[dict[str, Any]]) -> bool:
    """Insert one chunk; False when the batch was cancelled (or deleted) meanwhile.

    A second planner (the sweeper replaced one it took for dead, which was only slow)
    finds the chunk already stored under the batch's lock and skips it."""
    with ctx.sessions.begin() as s:
        batch = s.get(Batch, batch_id, with_for_update=True)
        if batch is None or batch.status == BatchStatus.cancelled.value:
            return False
        batch.planner_seen_at = utcnow()
        if batch.total >= first_seq + len(chunk):
            return True
        insert_items(s, batch_id, tenant_id, first_seq, chunk)
        batch.total = first_seq + len(chunk)  # progress while planning
    return True
