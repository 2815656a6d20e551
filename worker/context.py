"""What a task needs, built once per worker process: settings, sessions, storage, models."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.db import make_engine, make_sessionmaker
from shared.dispatch import TaskQueue, unsent
from shared.metrics import Metrics
from shared.secret_keys import SecretKeys
from shared.settings import Settings
from shared.speech_channel import Channels, open_channels
from shared.storage import Storage, open_storage
from worker.deliveries import Deliveries
from worker.leases import Leases

if TYPE_CHECKING:
    from worker.model_cache import ModelCache

log = logging.getLogger(__name__)

# Where work that nothing waits for goes: ``run_now`` or ``WorkerContext.defer``.
Defer = Callable[[Callable[[], object]], None]


def run_now(work: Callable[[], object]) -> None:
    work()


@dataclass
class WorkerContext:
    settings: Settings
    # Where a job sends its follow-up work once its transaction has committed (the worker's
    # Celery app gives its own: ``worker.celery_app``); a context given none sends nothing
    # (``shared.dispatch.unsent``, set in ``__post_init__``).
    queue: TaskQueue = None  # type: ignore[assignment]
    # Embedded, the API reading the speech streams hands over its own channels.
    channels: Channels | None = None

    def __post_init__(self) -> None:
        if self.queue is None:
            self.queue = unsent(self.settings)

    def defer(self, work: Callable[[], object]) -> None:
        """Run bookkeeping that nothing waits for (settling a batch, topping up its window)
        off the task's path: on this process's one background thread, in order, while the
        next task runs. It keeps the task's log context; a failure is logged, and the
        sweepers redo what it would have done. ``drain`` waits for it when the worker
        stops. When tasks run inline (embedded), the work runs now: the caller waits for the batch."""
        if self.queue.runs_inline:
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
        return self.channels if self.channels is not None else open_channels(self.settings.broker_url)

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
        None without a Redis broker (embedded, nothing is redelivered)."""
        if not self.settings.broker_url.startswith(("redis://", "rediss://")):
            return None
        client = redis.Redis.from_url(self.settings.broker_url, socket_timeout=10, socket_connect_timeout=10)
        return Deliveries(client, self.settings.max_deliveries)

    @cached_property
    def db(self) -> Engine:
        # No ping per checkout: a task retries what a dropped connection breaks
        return make_engine(self.settings.database_url, pre_ping=False)

    @cached_property
    def autocommit(self) -> Engine:
        """The same pool in autocommit, for statements that stand alone (``worker.jobs.item_sql``):
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
    def metrics(self) -> Metrics:
        return Metrics()

    @cached_property
    def models(self) -> ModelCache:
        # deferred: the model stack (seconds, and torch) loads only in a process that renders: not beat, not a purge
        from worker.model_cache import ModelCache

        return ModelCache(self.settings)
