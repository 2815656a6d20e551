"""Celery tasks: thin wrappers that hand ids to the jobs (``worker.jobs``) and retry transient faults.

Only storage, database and connection faults retry (exponential backoff with jitter);
bad input was already recorded on the row by the job and is not retried. An item
whose render raises anything else is tried again until it has been claimed
``item_max_attempts`` times, then failed with the reason, so its batch settles. Every task
counts its deliveries (``CountedTask``): a message that keeps killing its worker is set aside.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from shared import dispatch, logs, schedule_runs, webhooks
from shared.errors import NarratorError
from shared.storage import StorageError
from worker.context import WorkerContext
from worker.jobs import consent, enroll, finish, plan, purge, render, stream, sweep, window
from worker.jobs.errors import InternalError, PoisonMessage, Transient, recorded
from worker.jobs.notify import send_webhooks

TRANSIENT = (StorageError, OperationalError, ConnectionError, TimeoutError)
log = logging.getLogger(__name__)

MAX_RETRIES = 8  # backoff with jitter: at least ~2 minutes of outage ridden out before an item fails


def context(task: Task) -> WorkerContext:
    return task.app.narrator  # type: ignore[attr-defined,no-any-return]


class CountedTask(Task):  # type: ignore[misc]
    """Every narrator task: counts its deliveries (``worker.deliveries``) and does not run a
    message that has already taken ``max_deliveries`` workers down with it; the row the
    message is about is failed with the reason (``GIVE_UP``) and the message set aside."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        deliveries = None if self.request.is_eager or not self.request.id else context(self).deliveries
        if deliveries is None:
            return super().__call__(*args, **kwargs)
        count = deliveries.started(self.request.id)
        if not deliveries.poisoned(count):
            try:
                return super().__call__(*args, **kwargs)
            finally:  # returned, raised, or retrying (resent under the same id): its worker lived
                deliveries.finished(self.request.id)
        poison = PoisonMessage(
            f"the {self.name.removeprefix('narrator.')} task stopped its worker on each of {count - 1} deliveries "
            "(killed mid-task: out of memory or a crash); it was set aside, not run again")
        reason = recorded(poison)
        give_up = GIVE_UP.get(self.name)
        if give_up is not None and args:
            give_up(self, str(args[0]), poison)
        deliveries.set_aside(self.name, self.request.id, list(args), count - 1, reason)
        return None


def _retry(task: Task, exc: Exception) -> None:
    countdown = min(300, 2 ** task.request.retries) * (0.5 + random.random())
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES)


@shared_task(bind=True, name=dispatch.ENROLL, max_retries=MAX_RETRIES)
def enroll_voice(self: Task, voice_id: str) -> None:
    ctx = context(self)
    started, status = time.monotonic(), "error"
    with logs.log_context(task="enroll", voice_id=voice_id), ctx.metrics.active.labels("enroll").track_inprogress():
        try:
            enroll.enroll_voice(ctx, voice_id)
            status = "done"
        except TRANSIENT as exc:
            if self.request.retries >= MAX_RETRIES:
                enroll.fail_voice(ctx, voice_id, f"gave up after {MAX_RETRIES} retries: {exc}")
                return
            status = "retry"
            _retry(self, exc)
        finally:
            ctx.metrics.enroll_seconds.labels(status).observe(time.monotonic() - started)


@shared_task(bind=True, name=dispatch.VERIFY_CONSENT, max_retries=MAX_RETRIES)
def verify_consent(self: Task, consent_id: str) -> None:
    with logs.log_context(task="verify_consent"):
        try:
            consent.verify_consent(context(self), consent_id)
        except TRANSIENT as exc:
            _retry(self, exc)


@shared_task(bind=True, name=dispatch.PLAN_BATCH, max_retries=MAX_RETRIES)
def plan_batch(self: Task, batch_id: str) -> None:
    with logs.log_context(task="plan_batch", batch_id=batch_id):
        try:
            plan.plan_batch(context(self), batch_id)
        except TRANSIENT as exc:
            _retry(self, exc)


@shared_task(bind=True, name=dispatch.SYNTHESIZE_ITEM, max_retries=MAX_RETRIES)
def synthesize_item(self: Task, item_id: str) -> None:
    ctx = context(self)
    with logs.log_context(task="synthesize_item", item_id=item_id), \
            ctx.metrics.active.labels("synthesize_item").track_inprogress():
        try:
            render.synthesize_item(ctx, item_id)
        except TRANSIENT as exc:
            if self.request.retries < MAX_RETRIES:
                finish.release_item(ctx, item_id)
                _retry(self, exc)
            finish.fail_item(ctx, item_id, Transient(str(exc)))
        except Exception as exc:  # a bug or corrupt data: a few more tries, then the item fails
            log.exception("item %s: unexpected error", item_id)
            if self.request.retries >= MAX_RETRIES:  # outages used the message's retries up
                finish.fail_item(ctx, item_id, InternalError(str(exc)))
            elif finish.retry_or_fail(ctx, item_id, exc):
                if self.request.is_eager:  # embedded: no broker to send the retry through
                    return self.run(item_id)  # type: ignore[no-any-return]
                _retry(self, exc)
        finish.after_item(ctx, item_id, defer=ctx.defer)


@shared_task(bind=True, name=dispatch.STREAM_SPEECH)
def stream_speech(self: Task, item_id: str) -> None:
    """Not retried: a listener waits on the first attempt only (``worker.jobs.stream``)."""
    ctx = context(self)
    with logs.log_context(task="stream_speech", item_id=item_id), \
            ctx.metrics.active.labels("stream_speech").track_inprogress():
        stream.stream_item(ctx, item_id, ctx.speech)
    finish.after_item(ctx, item_id, defer=ctx.defer)


@shared_task(bind=True, name=dispatch.PURGE, max_retries=MAX_RETRIES)
def purge_voice(self: Task, scope: str, target_id: str, keep_outputs: bool = False) -> None:
    """Delete a revoked consent's or a deleted voice's stored data; safe to run again."""
    with logs.log_context(task="purge", **{f"{scope}_id": target_id}):
        try:
            purge.purge(context(self), scope, target_id, keep_outputs)
        except TRANSIENT as exc:
            _retry(self, exc)


@shared_task(bind=True, name=dispatch.SWEEP)
def sweep_stuck_items(self: Task) -> int:
    ctx = context(self)
    swept = sweep.replan_stalled(ctx) + sweep.sweep_stuck_items(ctx) + window.refill_stalled(ctx)
    sweep.settle_idle_batches(ctx, notify=partial(send_webhooks, ctx))  # last: it writes to storage
    return swept


@shared_task(bind=True, name=dispatch.DELIVER_WEBHOOK, max_retries=MAX_RETRIES)
def deliver_webhook(self: Task, delivery_id: str) -> None:
    """One attempt at one delivery; a failed attempt schedules the next as a new message
    (the row, not Celery's retry count, is the record of attempts)."""
    ctx = context(self)
    with logs.log_context(task="deliver_webhook", delivery_id=delivery_id):
        try:
            retry_in = webhooks.attempt(ctx.sessions, ctx.settings, delivery_id)
        except TRANSIENT as exc:  # our database, not the receiver: Celery retries the message
            _retry(self, exc)
            return
        if retry_in is not None:
            ctx.queue.send(dispatch.DELIVER_WEBHOOK, delivery_id, countdown=retry_in)


@shared_task(bind=True, name=dispatch.SWEEP_WEBHOOKS)
def sweep_webhooks(self: Task) -> int:
    """Beat: enqueue pending deliveries whose message never arrived (the outbox's safety net)."""
    ctx = context(self)
    overdue = webhooks.overdue(ctx.sessions, timedelta(seconds=ctx.settings.webhook_sweep_interval_seconds))
    for delivery_id in overdue:
        ctx.queue.send(dispatch.DELIVER_WEBHOOK, delivery_id)
    return len(overdue)


@shared_task(bind=True, name=dispatch.RUN_DUE_SCHEDULES)
def run_due_schedules(self: Task) -> int:
    """Beat: start a batch for every schedule that is due; returns how many were started."""
    ctx = context(self)
    with logs.log_context(task="run_due_schedules"):
        batch_ids = schedule_runs.run_due_schedules(ctx.sessions, ctx.storage, ctx.settings)
    for batch_id in batch_ids:
        ctx.queue.send(dispatch.PLAN_BATCH, batch_id)
    return len(batch_ids)


@shared_task(bind=True, name=dispatch.FINETUNE)
def finetune(self: Task, run_id: str) -> None:
    """Not retried: a failed run is recorded as failed and the next night tries again."""
    # deferred: torch (the polyphone adapter) loads only where a fine-tune runs
    from worker.jobs import finetune as tuning

    ctx, started, status = context(self), time.perf_counter(), "failed"
    try:
        status = tuning.run_finetune(ctx, run_id)
    finally:
        ctx.metrics.finetune_seconds.labels(status).observe(time.perf_counter() - started)


@shared_task(bind=True, name=dispatch.START_DUE_FINETUNES)
def start_due_finetunes(self: Task) -> int:
    # deferred: torch (the polyphone adapter) loads only where a fine-tune runs
    from worker.jobs import finetune as tuning

    return len(tuning.start_due_finetunes(context(self)))


def _fail_item(task: Task, item_id: str, error: NarratorError) -> None:
    ctx = context(task)
    finish.fail_unfinished_item(ctx, item_id, error)
    finish.after_item(ctx, item_id, defer=ctx.defer)  # its batch may settle now


# What a set-aside message's row becomes (its first argument is the row's id). A planning or
# purge message has no row to fail: its sweeper or the operator (reading the dead letters) acts.
GIVE_UP: dict[str, Callable[[Task, str, NarratorError], None]] = {
    dispatch.ENROLL: lambda task, voice_id, error: enroll.fail_voice(context(task), voice_id, recorded(error)),
    dispatch.VERIFY_CONSENT:
        lambda task, consent_id, error: consent.refuse_consent(context(task), consent_id, recorded(error)),
    dispatch.SYNTHESIZE_ITEM: _fail_item,
}
