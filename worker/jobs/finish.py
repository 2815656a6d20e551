"""An item's end: its outcome recorded (``finish_item``), and what that sets off
(``after_item``): the audio withdrawn if the consent was revoked meanwhile, the batch
settled, its window topped up. An item that fails is released for another try while it
has attempts left (``retry_or_fail``)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from sqlalchemy import select, update

from shared.errors import NarratorError
from shared.models import Item, ItemStatus, utcnow
from shared.services import finish_batch_if_done
from worker.context import Defer, WorkerContext, run_now
from worker.jobs import item_sql
from worker.jobs.errors import ConsentRevoked, InternalError, recorded
from worker.jobs.notify import send_webhooks
from worker.jobs.window import Dispatch, dispatch_window, wants_top_up

log = logging.getLogger(__name__)


def finish_item(ctx: WorkerContext, item_id: str, status: ItemStatus, failure: str | None = None,
                **values: Any) -> None:
    """Record the item's outcome: the one durable step of its end (``after_item`` does the rest).
    ``failure`` is the code of the error it failed with (``fail_item``), the ``items``
    metric's reason."""
    with ctx.autocommit.connect() as conn:
        batch_id = conn.scalar(item_sql.FINISH, {"item_id": item_id, "status": status.value, "finished_at": utcnow(),
                                                 **values})
    if batch_id is None:
        return
    reason = failure or ("none" if status == ItemStatus.succeeded
                         else "quality_gate" if status == ItemStatus.needs_review else status.value)
    ctx.metrics.items.labels(status.value, reason).inc()
    log.info("item %s %s", item_id, status.value, extra={"batch_id": batch_id, "item_id": item_id})


def fail_item(ctx: WorkerContext, item_id: str, error: NarratorError) -> None:
    """The item failed with ``error``: stored as ``code: reason``, counted under its code."""
    finish_item(ctx, item_id, ItemStatus.failed, failure=error.code, error=recorded(error))


def retry_or_fail(ctx: WorkerContext, item_id: str, exc: BaseException) -> bool:
    """An item's render raised something no step expected (a bug, corrupt stored data):
    released for another try while it has been claimed fewer than ``item_max_attempts``
    times (True), else failed with the reason (False), so the batch still settles."""
    cap = ctx.settings.item_max_attempts
    with ctx.sessions() as s:
        attempts = s.scalar(select(Item.attempts).where(Item.id == item_id)) or 0
    if attempts < cap:
        release_item(ctx, item_id)
        return True
    fail_item(ctx, item_id, InternalError(f"the render failed unexpectedly on each of {attempts} attempts "
                                          f"({type(exc).__name__}: {str(exc)[:300]}); it is not tried again"))
    return False


def fail_unfinished_item(ctx: WorkerContext, item_id: str, error: NarratorError) -> None:
    """Fail an item that has not finished (its message was set aside); a finished one stays."""
    with ctx.sessions() as s:
        status = s.scalar(select(Item.status).where(Item.id == item_id))
    if status in (ItemStatus.queued.value, ItemStatus.running.value):
        fail_item(ctx, item_id, error)


def release_item(ctx: WorkerContext, item_id: str) -> None:
    """running → queued, so a retried delivery can claim the item again."""
    with ctx.sessions.begin() as s:
        s.execute(update(Item).where(Item.id == item_id, Item.status == ItemStatus.running.value)
                  .values(status=ItemStatus.queued.value))


def after_item(ctx: WorkerContext, item_id: str, dispatch: Dispatch | None = None, defer: Defer = run_now) -> None:
    """What an item's end sets off, decided by one read once its row has committed: its
    audio is withdrawn if the consent was revoked meanwhile, its batch is settled when
    nothing is left to run, and the batch's window is topped up when a tenth of it is free.

    The read and a withdrawal happen here, before the task acknowledges its message, so
    a worker killed after the item's commit leaves a message whose redelivery does them
    (the claim finds the item finished; this runs all the same). The settling and the
    top-up, which nothing waits for, go to ``defer`` (a worker runs them on its background
    thread while the next item renders); lost with a killed worker, they have sweepers:
    ``worker.jobs.sweep.settle_idle_batches`` and ``worker.jobs.window.refill_stalled``.
    Tasks that run inline (embedded) need no top-up: their planner ran every item.
    """
    with ctx.autocommit.connect() as conn:
        row = conn.execute(item_sql.AFTER_ITEM, {"item_id": item_id}).first()
    if row is None:
        return
    storage_key, in_force_now, batch_id, status, total, cursor, settled_at, unfinished, in_broker = row
    if storage_key is not None and not in_force_now:
        withdraw(ctx, item_id, storage_key)
    if batch_id is None or settled_at is not None:
        return
    if not unfinished:
        defer(lambda: finish_batch_if_done(ctx.sessions, ctx.storage, batch_id, notify=partial(send_webhooks, ctx)))
    elif not ctx.queue.runs_inline and wants_top_up(ctx.settings, status, total, cursor, in_broker):
        defer(lambda: dispatch_window(ctx, batch_id, dispatch))


def withdraw(ctx: WorkerContext, item_id: str, storage_key: str) -> None:
    """Consent revoked while this item rendered: its audio must not outlive the purge.

    Decided after the item's row is committed (``after_item``): a purge that ran before
    that commit could not see the audio, and the check then sees the revocation (which
    precedes the purge).
    """
    ctx.storage.delete(storage_key)
    with ctx.sessions.begin() as s:
        item = s.get(Item, item_id)
        if item is not None:
            item.status = ItemStatus.failed.value
            item.storage_key = item.checksum = item.content_hash = None
            item.error = recorded(ConsentRevoked("the consent was revoked while this item rendered"))
    log.info("item %s withdrawn: consent revoked mid-render", item_id)
