"""Big batches: reading an uploaded source into items, and feeding items to the broker.

Planning streams the source (``shared.batch_source``) and inserts items a chunk at a
time. Dispatch is windowed: a batch has at most ``Settings.batch_window`` items in the
broker (queued there or running); finished items top their batch up (``wants_top_up``). Two
tenants' big batches therefore interleave in the ``synth`` queue instead of the second
waiting behind all 100 000 items of the first, and small batches and previews, on the
``interactive`` queue, wait for at most the item a worker is rendering.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Exists, ScalarSelect, and_, func, or_, select

from shared import jobs
from shared.audit import record
from shared.batch_source import Row, check_row, iter_rows
from shared.models import Batch, BatchStatus, Item, ItemStatus, Voice, VoiceStatus, utcnow
from shared.services import insert_items
from shared.settings import Settings
from worker.context import WorkerContext

log = logging.getLogger(__name__)

# (item id, queue name)
Dispatch = Callable[[str, str], None]
PLAN_CHUNK = 1000
EMBEDDED_CHUNK = 1000


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


def in_broker_since(cursor: Any) -> ColumnElement[bool]:
    """An item the broker holds: sent (at or before the dispatch cursor) and not yet finished."""
    return or_(and_(Item.status == ItemStatus.queued.value, Item.seq <= cursor), Item.status == ItemStatus.running.value)


def dispatch_window(ctx: WorkerContext, batch_id: str, dispatch: Dispatch) -> int:
    """Hand the batch's next items to the broker, up to its window; returns how many.

    The batch row is locked while the cursor moves, so two workers topping up the same
    batch never send an item twice. Every query here is a range on (batch, status, seq):
    its cost is the window's size, not the batch's.
    """
    embedded = ctx.settings.embedded
    with ctx.sessions.begin() as s:
        batch = s.get(Batch, batch_id, with_for_update=True)
        if batch is None or batch.finished_at is not None or batch.status == BatchStatus.cancelled.value:
            return 0
        cursor = batch.dispatched_seq
        if embedded:
            room = EMBEDDED_CHUNK
        else:
            in_broker = s.scalar(select(func.count()).select_from(Item).where(
                Item.batch_id == batch_id, in_broker_since(cursor))) or 0
            room = ctx.settings.batch_window - in_broker
        if room <= 0:
            return 0
        rows = s.execute(select(Item.id, Item.seq).where(
            Item.batch_id == batch_id, Item.status == ItemStatus.queued.value, Item.seq > cursor)
            .order_by(Item.seq).limit(room)).all()
        if not rows:
            return 0
        batch.dispatched_seq = rows[-1].seq
        queue = jobs.synth_queue(batch.total, ctx.settings.interactive_max_items)
        if batch.status == BatchStatus.planning.value and batch.total < ctx.settings.interactive_max_items:
            queue = "synth"  # still reading the source: its size is not known yet
    for item_id, _ in rows:
        dispatch(item_id, queue)
    return len(rows)


def in_broker_count() -> ScalarSelect[int]:
    """How many of the batch (the enclosing query's ``Batch``) the broker holds now."""
    return (select(func.count()).select_from(Item)
            .where(Item.batch_id == Batch.id, in_broker_since(Batch.dispatched_seq))
            .correlate(Batch).scalar_subquery())


def unfinished_exists() -> Exists:
    """Whether anything of the batch (the enclosing query's ``Batch``) is left to run."""
    return (select(Item.id).where(Item.batch_id == Batch.id,
                                  Item.status.in_((ItemStatus.queued.value, ItemStatus.running.value)))
            .correlate(Batch).exists())


def wants_top_up(settings: Settings, status: str, total: int, cursor: int, in_broker: int) -> bool:
    """After an item finished: is its batch's window worth topping up now?

    Not in embedded mode (the planner already ran every item in-process), not once every
    item was sent, and not for a single free slot: the locked top-up (four statements and
    a commit) runs once a tenth of the window is free (every fifth item with the default
    50). A stale count only delays a top-up to the next item's check; ``dispatch_window``
    counts again under the batch's lock."""
    if settings.embedded or (status != BatchStatus.planning.value and cursor >= total - 1):
        return False
    return settings.batch_window - in_broker >= max(1, settings.batch_window // 10)


def refill_stalled(ctx: WorkerContext, dispatch: Dispatch) -> int:
    """Top up every unfinished batch: recovers a window whose top-up was lost with its worker."""
    with ctx.sessions() as s:
        batch_ids = list(s.scalars(select(Batch.id).where(
            Batch.finished_at.is_(None), Batch.status == BatchStatus.running.value).limit(1000)))
    return sum(dispatch_window(ctx, batch_id, dispatch) for batch_id in batch_ids)
