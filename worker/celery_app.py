"""The Celery app: Redis broker, one queue per kind of work, the database as the record.

In embedded mode (no broker configured) tasks run eagerly in the calling process: the same
task functions, no separate worker, sent through an ``InProcessQueue`` that runs them from
this app's registry.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

from celery import Celery, signals

from shared.dispatch import (
    RUN_DUE_SCHEDULES,
    START_DUE_FINETUNES,
    SWEEP,
    SWEEP_WEBHOOKS,
    Arg,
    CeleryQueue,
    InProcessQueue,
    RunTask,
    TaskQueue,
    celery_conf,
)
from shared.secret_keys import SecretKeys
from shared.settings import Settings
from shared.speech_channel import Channels
from worker import tasks
from worker.context import WorkerContext


def make_celery(settings: Settings, channels: Channels | None = None) -> Celery:
    """The worker's (or beat's, or the embedded process's) app, its ``WorkerContext`` as
    ``app.narrator``; ``channels`` are the speech streams' when the API shares the process."""
    # Every task is a CountedTask: a message that keeps killing its worker is set aside.
    app = Celery("narrator", broker=settings.broker_url or "memory://localhost/", include=["worker.tasks"],
                 task_cls=tasks.CountedTask)
    app.conf.update(
        celery_conf(settings),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_always_eager=settings.embedded,
        task_eager_propagates=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep-stuck-items": {"task": SWEEP, "schedule": float(settings.sweep_interval_seconds)},
            "run-due-schedules": {"task": RUN_DUE_SCHEDULES, "schedule": float(settings.schedule_interval_seconds)},
            "sweep-webhooks": {"task": SWEEP_WEBHOOKS, "schedule": float(settings.webhook_sweep_interval_seconds)},
            "start-due-finetunes": {"task": START_DUE_FINETUNES, "schedule": float(settings.finetune_check_seconds)},
        },
    )
    # A worker or beat (and the embedded API) refuses to start with a missing, published or
    # short NARRATOR_SECRET_KEY: WeakSecret names the variable and the rule.
    SecretKeys.of(settings)
    queue = InProcessQueue(_runner(app)) if settings.embedded else CeleryQueue(app)
    ctx = app.narrator = WorkerContext(settings, queue=queue, channels=channels)  # type: ignore[attr-defined]
    context = weakref.ref(ctx)  # the signal must not keep an app's context (and its pools) alive

    def drain(**_: object) -> None:
        """A stopping worker (or pool process) finishes its deferred bookkeeping first."""
        if (alive := context()) is not None:
            alive.drain()

    for stopping in (signals.worker_shutdown, signals.worker_process_shutdown):
        stopping.connect(drain, weak=False)
    return app


def _runner(app: Celery) -> RunTask:
    """Run a task of ``app``'s registry here and now (eagerly; its errors propagate)."""
    def run(task: str, args: Sequence[Arg]) -> None:
        app.tasks[task].apply(args=tuple(args))

    return run


def in_process_queue(settings: Settings, channels: Channels) -> TaskQueue:
    """The embedded worker, for a process without a broker (``shared.dispatch.open_queue``)."""
    return make_celery(settings, channels).narrator.queue  # type: ignore[attr-defined,no-any-return]


def celery_from_env() -> Celery:
    return make_celery(Settings.from_env())
