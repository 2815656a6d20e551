"""Feeding a batch's items to the broker, a window at a time.

A batch has at most ``Settings.batch_window`` items in the broker (queued there or
running); finished items top their batch up (``wants_top_up``). Two tenants' big batches
therefore interleave in the ``synth`` queue instead of the second waiting behind all
100 000 items of the first, and small batches and previews, on the ``interactive`` queue,
wait for at most the item a worker is rendering. When tasks run inline (the embedded mode)
there is no broker to flood: the window is a chunk of items rendered one after another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Exists, ScalarSelect, and_, func, or_, select

from shared.dispatch import SYNTH, SYNTHESIZE_ITEM, synth_queue
from shared.models import Batch, BatchStatus, Item, ItemStatus
from shared.settings import Settings
from worker.context import WorkerContext

# Sends one item's render: (item id, queue name)
Dispatch = Callable[[str, str], None]
INLINE_CHUNK = 1000


def send_items(ctx: WorkerContext) -> Dispatch:
    """Items sent as render tasks through the context's queue, each to the queue its batch's size picked."""
    def send(item_id: str, queue: str) -> None:
        ctx.queue.send(SYNTHESIZE_ITEM, item_id, queue=queue)

    return send


def in_broker_since(cursor: Any) -> ColumnElement[bool]:
    """An item the broker holds: sent (at or before the dispatch cursor) and not yet finished."""
    return or_(and_(Item.status == ItemStatus.queued.value, Item.seq <= cursor), Item.status == ItemStatus.running.value)


def dispatch_window(ctx: WorkerContext, batch_id: str, dispatch: Dispatch | None = None) -> int:
    """Hand the batch's next items to the broker, up to its window; returns how many.

    The batch row is locked while the cursor moves, so two workers topping up the same
    batch never send an item twice. Every query here is a range on (batch, status, seq):
    its cost is the window's size, not the batch's.
    """
    dispatch = dispatch or send_items(ctx)
    with ctx.sessions.begin() as s:
        batch = s.get(Batch, batch_id, with_for_update=True)
        if batch is None or batch.finished_at is not None or batch.status == BatchStatus.cancelled.value:
            return 0
        cursor = batch.dispatched_seq
        if ctx.queue.runs_inline:
            room = INLINE_CHUNK
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
        queue = synth_queue(batch.total, ctx.settings.interactive_max_items)
        if batch.status == BatchStatus.planning.value and batch.total < ctx.settings.interactive_max_items:
            queue = SYNTH  # still reading the source: its size is not known yet
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

    Not once every item was sent, and not for a single free slot: the locked top-up (four
    statements and a commit) runs once a tenth of the window is free (every fifth item
    with the default 50). A stale count only delays a top-up to the next item's check;
    ``dispatch_window`` counts again under the batch's lock. (Tasks that run inline need
    none: the planner already ran every item.)"""
    if status != BatchStatus.planning.value and cursor >= total - 1:
        return False
    return settings.batch_window - in_broker >= max(1, settings.batch_window // 10)


def refill_stalled(ctx: WorkerContext, dispatch: Dispatch | None = None) -> int:
    """Top up every unfinished batch: recovers a window whose top-up was lost with its worker."""
    with ctx.sessions() as s:
        batch_ids = list(s.scalars(select(Batch.id).where(
            Batch.finished_at.is_(None), Batch.status == BatchStatus.running.value).limit(1000)))
    return sum(dispatch_window(ctx, batch_id, dispatch) for batch_id in batch_ids)
