"""How many previews a tenant may have waiting at once.

A preview (``POST /v1/synthesize``) holds an API thread while its render runs on a worker. Per
tenant, at most ``preview_max_concurrent`` are in flight, counted across every API process:
one tenant cannot take the threads that other tenants' requests and the probes need.

Distributed, the slots are members of a sorted set in Redis scored with their expiry (the
preview timeout plus a margin), so a slot whose API process died is freed by time, not held
forever. Embedded, one process holds them in memory.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import redis

from shared.errors import RateLimited

log = logging.getLogger(__name__)

# KEYS[1] the tenant's set; ARGV cap, member, seconds the slot may live. Returns 1 if taken.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])))
return 1
"""
RETRY_AFTER_S = 2


class TooManyPreviews(RateLimited):
    code = "too_many_previews"


class PreviewSlots(Protocol):
    limit: int

    def acquire(self, tenant_id: str) -> str | None:
        """A slot's token, or None when the tenant already has ``limit`` previews in flight."""
        ...

    def release(self, tenant_id: str, token: str) -> None: ...


@dataclass
class LocalPreviewSlots:
    """The embedded mode's slots: one API process, so a counter per tenant."""

    limit: int
    _held: dict[str, set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, tenant_id: str) -> str | None:
        with self._lock:
            held = self._held.setdefault(tenant_id, set())
            if len(held) >= self.limit:
                return None
            token = uuid.uuid4().hex
            held.add(token)
            return token

    def release(self, tenant_id: str, token: str) -> None:
        with self._lock:
            self._held.get(tenant_id, set()).discard(token)


@dataclass
class RedisPreviewSlots:
    """Slots shared by every API process. With Redis unreachable the preview is let through
    (and logged), as the rate limiter does: the cap protects the service, it must not stop it."""

    client: redis.Redis
    limit: int
    lifetime_seconds: float
    namespace: str = "narrator:previews:"

    def __post_init__(self) -> None:
        self._script = self.client.register_script(ACQUIRE)

    def acquire(self, tenant_id: str) -> str | None:
        token = uuid.uuid4().hex
        try:
            taken = self._script(keys=[self.namespace + tenant_id], args=[self.limit, token, self.lifetime_seconds])
        except redis.RedisError as exc:
            log.warning("preview cap not applied to tenant %s: Redis unavailable (%s)", tenant_id, exc)
            return token
        return token if int(taken) else None

    def release(self, tenant_id: str, token: str) -> None:
        try:
            self.client.zrem(self.namespace + tenant_id, token)
        except redis.RedisError as exc:  # the slot expires by itself
            log.warning("preview slot of tenant %s not released: %s", tenant_id, exc)


@contextmanager
def held(slots: PreviewSlots, tenant_id: str) -> Iterator[None]:
    """Hold one of the tenant's preview slots for the block, or raise 429."""
    token = slots.acquire(tenant_id)
    if token is None:
        raise TooManyPreviews(f"this tenant already has {slots.limit} previews rendering; "
                              f"wait for one to finish (or send a batch)", retry_after=RETRY_AFTER_S)
    try:
        yield
    finally:
        slots.release(tenant_id, token)


def make_slots(limit: int, lifetime_seconds: float, broker_url: str) -> PreviewSlots:
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisPreviewSlots(redis.Redis.from_url(broker_url), limit, lifetime_seconds)
    return LocalPreviewSlots(limit)
