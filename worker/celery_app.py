"""The Celery app: Redis broker, one queue per kind of work, the database as the record.

In embedded mode (no broker configured) tasks run eagerly in the calling process:
the same task functions, no separate worker.
"""

from __future__ import annotations

import weakref

from celery import Celery, signals
from kombu import Queue

from shared.jobs import QUEUES, ROUTES, RUN_DUE_SCHEDULES, START_DUE_FINETUNES, SWEEP, SWEEP_WEBHOOKS
from shared.secret_keys import SecretKeys
from shared.settings import Settings
from worker.context import WorkerContext


def make_celery(settings: Settings) -> Celery:
    # Every task is a CountedTask: a message that keeps killing its worker is set aside.
    app = Celery("narrator", broker=settings.broker_url or "memory://localhost/", include=["worker.tasks"],
                 task_cls="worker.tasks:CountedTask")
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="synth",
        task_routes=ROUTES,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_always_eager=settings.embedded,
        task_eager_propagates=True,
        broker_connection_retry_on_startup=True,
        # A worker reading several queues empties them in the order given to --queues
        # (``interactive`` first), instead of round robin: a preview waits for one item at most.
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_seconds,
                                  "queue_order_strategy": "priority"},
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep-stuck-items": {"task": SWEEP, "schedule": float(settings.sweep_interval_seconds)},
            "run-due-schedules": {"task": RUN_DUE_SCHEDULES, "schedule": float(settings.schedule_interval_seconds)},
            "sweep-webhooks": {"task": SWEEP_WEBHOOKS, "schedule": float(settings.webhook_sweep_interval_seconds)},
            "start-due-finetunes": {"task": START_DUE_FINETUNES, "schedule": float(settings.finetune_check_seconds)},
        },
        task_serializer="json",
        accept_content=["json"],
    )
    # A worker or beat (and the embedded API) refuses to start with a missing, published or
    # short NARRATOR_SECRET_KEY: WeakSecret names the variable and the rule.
    SecretKeys.of(settings)
    ctx = app.narrator = WorkerContext(settings, celery=app)  # type: ignore[attr-defined]
    context = weakref.ref(ctx)  # the signal must not keep an app's context (and its pools) alive

    def drain(**_: object) -> None:
        """A stopping worker (or pool process) finishes its deferred bookkeeping first."""
        if (alive := context()) is not None:
            alive.drain()

    for stopping in (signals.worker_shutdown, signals.worker_process_shutdown):
        stopping.connect(drain, weak=False)
    return app


def celery_from_env() -> Celery:
    return make_celery(Settings.from_env())
