"""What request handlers share: settings, sessions, storage and the task queue."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import urljoin

from flask import current_app, request
from sqlalchemy.orm import Session, sessionmaker

from api.preview_slots import PreviewSlots, make_slots
from api.ratelimit import RateLimiter, make_limiter
from shared.db import make_engine, make_sessionmaker
from shared.dispatch import QueueFactory, TaskQueue
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
    queue: TaskQueue  # where requests send work: the broker, or (embedded) the worker's tasks in this process
    metrics: Metrics
    limiter: RateLimiter  # per-key request budget; in-process when there is no Redis broker
    failures: RateLimiter  # failed authentications per client address (api.throttle)
    address_limiter: RateLimiter  # console and /v1/files requests per client address
    previews: PreviewSlots  # previews in flight per tenant
    waiting: threading.BoundedSemaphore  # previews and speech streams this process waits on at once
    channels: Channels  # speech streams' audio from the workers (shared.speech_channel)
    keys: SecretKeys  # per-purpose keys from the deployment secret (the console's session key)

    @classmethod
    def build(cls, settings: Settings, queue: QueueFactory) -> ApiContext:
        """The context of an app on ``settings``, sending work through the queue ``queue`` builds."""
        keys = SecretKeys.of(settings)  # first: refuse to start with a weak NARRATOR_SECRET_KEY
        # Embedded, the in-process worker publishes to these very channels (memory of this process).
        channels = open_channels(settings.broker_url)
        return cls(
            keys=keys,
            settings=settings,
            sessions=make_sessionmaker(make_engine(settings.database_url)),
            storage=open_storage(settings),
            queue=queue(settings, channels),
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
            channels=channels,
        )

    def download_url(self, key: str) -> str:
        """A presigned download link of a stored object, for the client of the current request.
        S3's links are absolute already; local storage's are relative unless a public base URL
        is configured, and are resolved against the host and port this request came in on, so
        the link works on whatever address the API is served (never a fixed 127.0.0.1:8000)."""
        return urljoin(request.host_url, self.storage.presigned_url(key, self.settings.presign_ttl_seconds))


def ctx() -> ApiContext:
    return current_app.extensions["narrator"]  # type: ignore[no-any-return]
