"""Celery tasks: thin wrappers that hand ids to ``worker.jobs`` and retry transient faults.

Only storage, database and connection faults retry (exponential backoff with jitter);
bad input was already recorded on the row by ``worker.jobs`` and is not retried.
"""

from __future__ import annotations

import random
import time

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from shared import jobs as names
from shared import logs
from shared.storage import StorageError
from worker import jobs
from worker.context import WorkerContext

TRANSIENT = (StorageError, OperationalError, ConnectionError, TimeoutError)
MAX_RETRIES = 6


def context(task: Task) -> WorkerContext:
    return task.app.narrator  # type: ignore[attr-defined,no-any-return]


def _retry(task: Task, exc: Exception) -> None:
    countdown = min(300, 2 ** task.request.retries) * (0.5 + random.random())
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES)


@shared_task(bind=True, name=names.ENROLL, max_retries=MAX_RETRIES)
def enroll_voice(self: Task, voice_id: str) -> None:
    ctx = context(self)
    started, status = time.monotonic(), "error"
    with logs.log_context(task="enroll", voice_id=voice_id), ctx.metrics.active.labels("enroll").track_inprogress():
        try:
            jobs.enroll_voice(ctx, voice_id)
            status = "done"
        except TRANSIENT as exc:
            if self.request.retries >= MAX_RETRIES:
                jobs.fail_voice(ctx, voice_id, f"gave up after {MAX_RETRIES} retries: {exc}")
                return
            status = "retry"
            _retry(self, exc)
        finally:
            ctx.metrics.enroll_seconds.labels(status).observe(time.monotonic() - started)


@shared_task(bind=True, name=names.VERIFY_CONSENT, max_retries=MAX_RETRIES)
def verify_consent(self: Task, consent_id: str) -> None:
    with logs.log_context(task="verify_consent"):
        try:
            jobs.verify_consent(context(self), consent_id)
        except TRANSIENT as exc:
            _retry(self, exc)


@shared_task(bind=True, name=names.PLAN_BATCH, max_retries=MAX_RETRIES)
def plan_batch(self: Task, batch_id: str) -> None:
    def enqueue(item_id: str) -> None:
        self.app.tasks[names.SYNTHESIZE_ITEM].apply_async((item_id,), queue="synth")

    with logs.log_context(task="plan_batch", batch_id=batch_id):
        try:
            jobs.plan_batch(context(self), batch_id, enqueue)
        except TRANSIENT as exc:
            _retry(self, exc)


@shared_task(bind=True, name=names.SYNTHESIZE_ITEM, max_retries=MAX_RETRIES)
def synthesize_item(self: Task, item_id: str) -> None:
    ctx = context(self)
    with logs.log_context(task="synthesize_item", item_id=item_id), \
            ctx.metrics.active.labels("synthesize_item").track_inprogress():
        try:
            jobs.synthesize_item(ctx, item_id)
        except TRANSIENT as exc:
            if self.request.retries >= MAX_RETRIES:
                jobs.finish_item(ctx, item_id, jobs.ItemStatus.failed, error=f"transient: {exc}")
                return
            jobs.release_item(ctx, item_id)
            _retry(self, exc)


@shared_task(bind=True, name=names.SWEEP)
def sweep_stuck_items(self: Task) -> int:
    def enqueue(item_id: str) -> None:
        self.app.tasks[names.SYNTHESIZE_ITEM].apply_async((item_id,), queue="synth")

    return jobs.sweep_stuck_items(context(self), enqueue)
