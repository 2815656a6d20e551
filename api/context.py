"""What request handlers share: settings, sessions, storage and the Celery app."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import urljoin

from celery import Celery
from flask import current_app, request
from sqlalchemy.orm import Session, sessionmaker

from api.preview_slots import PreviewSlots, make_slots
from api.ratelimit import RateLimiter, make_limiter
from shared.db import make_engine, make_sessionmaker
from shared.metrics import Metrics, api_metrics
from shared.secret_keys import SecretKeys
from shared.settings import Settings
from shared.speech_channel import Channels, open_channels
from shared.storage import Storage, open_storage


@dataclass
class ApiContext:
    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    celery: Celery
    metrics: Metrics
    limiter: RateLimiter  # per-key request budget; in-process when there is no Redis broker
    failures: RateLimiter  # failed authentications per client address (api.throttle)
    address_limiter: RateLimiter  # console and /v1/files requests per client address
    previews: PreviewSlots  # previews in flight per tenant
    waiting: threading.BoundedSemaphore  # previews and speech streams this process waits on at once
    channels: Channels  # speech streams' audio from the workers (shared.speech_channel)
    keys: SecretKeys  # per-purpose keys from the deployment secret (the console's session key)

    @classmethod
    def build(cls, settings: Settings, celery: Celery | None = None) -> ApiContext:
        keys = SecretKeys.of(settings)  # first: refuse to start with a weak NARRATOR_SECRET_KEY
        if celery is None:
            from worker.celery_app import make_celery

            celery = make_celery(settings)
        return cls(
            keys=keys,
            settings=settings,
            sessions=make_sessionmaker(make_engine(settings.database_url)),
            storage=open_storage(settings),
            celery=celery,
            metrics=api_metrics(settings.broker_url),
            limiter=make_limiter(settings.rate_limit_requests, settings.rate_limit_window_seconds,
                                 settings.broker_url),
            failures=make_limiter(settings.auth_failure_limit, settings.rate_limit_window_seconds,
                                  settings.broker_url),
            address_limiter=make_limiter(settings.address_rate_limit_requests, settings.rate_limit_window_seconds,
                                         settings.broker_url),
            previews=make_slots(settings.preview_max_concurrent, settings.preview_timeout_seconds + 30,
                                settings.broker_url),
            waiting=threading.BoundedSemaphore(settings.preview_max_waiting),
            # embedded, the in-process worker publishes to the memory its own context holds
            channels=celery.narrator.speech if settings.embedded else open_channels(settings.broker_url),
        )

    def download_url(self, key: str) -> str:
        """A presigned download link of a stored object, for the client of the current request.
        S3's links are absolute already; local storage's are relative unless a public base URL
        is configured, and are resolved against the host and port this request came in on, so
        the link works on whatever address the API is served (never a fixed 127.0.0.1:8000)."""
        return urljoin(request.host_url, self.storage.presigned_url(key, self.settings.presign_ttl_seconds))

    def enqueue(self, task_name: str, *args: str | bool, queue: str | None = None) -> None:
        """Send a task to its queue (``queue`` overrides the task's route); in embedded mode
        run it here, in-process."""
        if self.celery.conf.task_always_eager:
            import worker.tasks  # noqa: F401  (registers the tasks with this app)

            self.celery.tasks[task_name].apply(args=args)
        else:
            self.celery.send_task(task_name, args=args, **({"queue": queue} if queue else {}))


def ctx() -> ApiContext:
    return current_app.extensions["narrator"]  # type: ignore[no-any-return]
