"""The sweepers (beat, every ``sweep_interval_seconds``): what a dead worker or a lost
message left behind is picked up again — items stuck ``running``, batches whose planner
stopped, batches whose last item finished without settling them. Lost window top-ups are
``worker.jobs.window.refill_stalled``'s."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select, update

from shared.dispatch import PLAN_BATCH, SYNTH, SYNTHESIZE_ITEM, synth_queue
from shared.models import Batch, BatchStatus, Item, ItemStatus, utcnow
from shared.services import finish_batch_if_done
from worker.context import WorkerContext
from worker.jobs.errors import WorkerLost
from worker.jobs.finish import fail_item
from worker.jobs.window import Dispatch

log = logging.getLogger(__name__)

# Sends one stuck item's render again (its id)
Enqueue = Callable[[str], None]


def sweep_stuck_items(ctx: WorkerContext, enqueue: Enqueue | None = None) -> int:
    """Requeue items whose worker died mid-render (``running`` past the lease); returns how many.
    One that has used its ``item_max_attempts`` claims is failed instead (the sweeper's count
    is the claims'): an item that kills its worker must not be handed to the next one forever.

    The broker redelivers an unacknowledged message eventually, but only after its
    visibility timeout; the sweeper makes recovery prompt and covers a lost message.

    Each message is published before its item is marked ``queued``: were the broker down,
    the item stays ``running`` past its lease and the next sweep tries again, instead of
    waiting ``queued`` for a message that was never sent. (``claim_item`` accepts either.)
    """
    enqueue = enqueue or (lambda item_id: ctx.queue.send(SYNTHESIZE_ITEM, item_id, queue=SYNTH))
    expired = utcnow() - timedelta(seconds=ctx.settings.item_lease_seconds)
    with ctx.sessions() as s:
        stuck = s.execute(select(Item.id, Item.attempts).where(Item.status == ItemStatus.running.value,
                                                               Item.started_at < expired).limit(1000)).all()
    for item_id, attempts in stuck:
        if attempts >= ctx.settings.item_max_attempts:  # it takes its worker down: no more tries
            fail_item(ctx, item_id, WorkerLost(f"the item's worker stopped mid-render on each of {attempts} "
                                               "attempts; it is not tried again"))
            log.warning("failed item %s: its worker stopped on each of %d attempts", item_id, attempts,
                        extra={"item_id": item_id})
            continue
        enqueue(item_id)
        with ctx.sessions.begin() as s:  # unless a worker claimed it from that message already
            s.execute(update(Item).where(Item.id == item_id, Item.status == ItemStatus.running.value,
                                         Item.started_at < expired).values(status=ItemStatus.queued.value))
        log.warning("requeued item %s: its worker stopped mid-render", item_id, extra={"item_id": item_id})
    return len(stuck)


def replan_stalled(ctx: WorkerContext, send_plan: Dispatch | None = None) -> int:
    """Plan again the batches whose planner is gone; returns how many.

    A batch waits in ``planning`` (source being read) or ``queued`` (not yet started) for
    its planning task. When that task's worker died, or its message was lost, nothing else
    moves the batch. Planning is resumable and idempotent (``worker.jobs.plan.ingest_source`` skips
    stored lines, ``dispatch_window`` moves a locked cursor), so a second planner for a
    batch whose first one was merely slow does no harm. The heartbeat is reset here so
    the next sweep waits a whole lease for the new planner.
    """
    send_plan = send_plan or (lambda batch_id, queue: ctx.queue.send(PLAN_BATCH, batch_id, queue=queue))
    expired = utcnow() - timedelta(seconds=ctx.settings.plan_lease_seconds)
    waiting = (BatchStatus.planning.value, BatchStatus.queued.value)
    with ctx.sessions.begin() as s:
        stalled = s.execute(select(Batch.id, Batch.status, Batch.total).where(
            Batch.finished_at.is_(None), Batch.status.in_(waiting),
            func.coalesce(Batch.planner_seen_at, Batch.created_at) < expired).limit(100)).all()
        if stalled:
            s.execute(update(Batch).where(Batch.id.in_([b.id for b in stalled])).values(planner_seen_at=utcnow()))
    for batch_id, status, total in stalled:  # the queue the API would have picked
        send_plan(batch_id, SYNTH if status == BatchStatus.planning.value
                  else synth_queue(total, ctx.settings.interactive_max_items))
        log.warning("planning batch %s again: its planner stopped", batch_id, extra={"batch_id": batch_id})
    return len(stalled)


def settle_idle_batches(ctx: WorkerContext, notify: Callable[[list[str]], None] | None = None) -> int:
    """Settle unfinished batches that have nothing left to run; returns how many.

    The worker that finishes a batch's last item settles the batch on its background thread,
    after the item's message was acknowledged (``after_item``). When that failed (storage
    down while the manifest was written, the worker killed in between), no message is left
    to retry it, so the sweeper settles the batch.
    """
    unfinished = (ItemStatus.queued.value, ItemStatus.running.value)
    with ctx.sessions() as s:
        idle = list(s.scalars(select(Batch.id).where(
            Batch.finished_at.is_(None), Batch.status != BatchStatus.planning.value,
            ~select(Item.id).where(Item.batch_id == Batch.id, Item.status.in_(unfinished)).exists(),
        ).limit(100)))
    for batch_id in idle:
        log.warning("settling batch %s: its last item finished without settling it", batch_id,
                    extra={"batch_id": batch_id})
        finish_batch_if_done(ctx.sessions, ctx.storage, batch_id, notify=notify)
    return len(idle)
