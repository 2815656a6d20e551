"""What a task needs, built once per worker process: settings, sessions, storage, models."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings
from shared.storage import Storage, open_storage

log = logging.getLogger(__name__)


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

    @cached_property
    def db(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.db)

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
