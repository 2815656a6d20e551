"""What a task needs, built once per worker process: settings, sessions, storage, models."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.db import make_engine, make_sessionmaker
from shared.settings import Settings
from shared.storage import Storage, open_storage


@dataclass
class WorkerContext:
    settings: Settings

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
