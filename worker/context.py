"""What a task needs, built once per worker process: settings, sessions, storage, models."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.db import make_engine, make_sessionmaker
from shared.secret_keys import SecretKeys
from shared.settings import Settings
from shared.speech_channel import Channels, open_channels
from shared.storage import Storage, open_storage
from worker.deliveries import Deliveries
from worker.leases import Leases

log = logging.getLogger(__name__)

# Where work that nothing waits for goes: ``run_now`` or ``WorkerContext.defer``.
Defer = Callable[[Callable[[], object]], None]


def run_now(work: Callable[[], object]) -> None:
    work()


@dataclass
class WorkerContext:
    settings: Settings
    # The Celery app this context belongs to (set by make_celery): how a job enqueues a
    # follow-up task once its transaction has committed.
    celery: Any = None

    def enqueue(self, task_name: str, *args: str, countdown: float | None = None) -> None:
        """Send a task to its queue. In embedded (eager) mode run it here, now; a delayed
        retry is not run inline (it would block the caller) and waits for a later sweep.
        A context built without an app (a script, a benchmark) sends nothing; a webhook
        delivery stays an outbox row that beat's sweeper sends later."""
        if self.celery is None:
            log.info("no Celery app in this context: %s%s not enqueued", task_name, args)
            return
        if self.celery.conf.task_always_eager:
            if countdown is None:
                import worker.tasks  # noqa: F401  (registers the tasks with this app)

                self.celery.tasks[task_name].apply(args=args)
            return
        self.celery.send_task(task_name, args=args, countdown=countdown)

    def defer(self, work: Callable[[], object]) -> None:
        """Run bookkeeping that nothing waits for (settling a batch, topping up its window)
        off the task's path: on this process's one background thread, in order, while the
        next task runs. It keeps the task's log context; a failure is logged, and the
        sweepers redo what it would have done. ``drain`` waits for it when the worker
        stops. Embedded, the work runs now: the caller waits for the batch."""
        if self.settings.embedded:
            work()
            return
        self._background.submit(contextvars.copy_context().run, self._logged, work)

    def drain(self) -> None:
        """Finish the deferred work before the process goes (a worker's shutdown)."""
        if "_background" in self.__dict__:
            self._background.shutdown(wait=True)
            del self.__dict__["_background"]
        if "leases" in self.__dict__:
            self.leases.close()
            del self.__dict__["leases"]

    @staticmethod
    def _logged(work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            log.exception("background work failed (a sweeper will redo it)")

    @cached_property
    def _background(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="after-item")

    @cached_property
    def speech(self) -> Channels:
        """Where speech streams' audio goes: the broker's Redis, or (embedded) memory the
        API in this same process reads (``api.context.ApiContext.channels``)."""
        return open_channels(self.settings.broker_url)

    @cached_property
    def leases(self) -> Leases:
        """The claims on items this process is rendering, renewed by one thread."""
        return Leases(self.sessions, self.settings.item_lease_seconds)

    @cached_property
    def uploads(self) -> ThreadPoolExecutor:
        """Where an item's audio is stored while the gate checks it: threads kept for the
        process's life, since starting one per item costs more than a database round trip."""
        return ThreadPoolExecutor(max_workers=2, thread_name_prefix="upload")

    @cached_property
    def deliveries(self) -> Deliveries | None:
        """Each task message's delivery count (``worker.deliveries``), in the broker's Redis;
        None in embedded mode, where nothing is redelivered."""
        if self.settings.embedded or not self.settings.broker_url.startswith(("redis://", "rediss://")):
            return None
        import redis

        client = redis.Redis.from_url(self.settings.broker_url, socket_timeout=10, socket_connect_timeout=10)
        return Deliveries(client, self.settings.max_deliveries)

    @cached_property
    def db(self) -> Engine:
        # No ping per checkout: a task retries what a dropped connection breaks
        return make_engine(self.settings.database_url, pre_ping=False)

    @cached_property
    def autocommit(self) -> Engine:
        """The same pool in autocommit, for statements that stand alone (``worker.item_sql``):
        no BEGIN and COMMIT round trips around them."""
        return self.db.execution_options(isolation_level="AUTOCOMMIT")

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.db)

    @cached_property
    def keys(self) -> SecretKeys:
        """The deployment's per-purpose keys (the watermark's, for the render path)."""
        return SecretKeys.of(self.settings)

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.settings)

    @cached_property
    def metrics(self):  # type: ignore[no-untyped-def]
        from shared.metrics import Metrics

        return Metrics()

    @cached_property
    def models(self):  # type: ignore[no-untyped-def]
        # Imported here so the API process, which shares this context type for nothing
        # model-related, never loads the model stack.
        from worker.models import ModelCache

        return ModelCache(self.settings)
