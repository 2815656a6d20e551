"""Rate limits: token buckets per API key prefix, and per client address where no key is
known yet (failed authentication, the console, signed downloads: see ``api.throttle``).

Each key has a bucket of ``requests`` tokens that refills evenly over ``window_seconds``;
a request takes one token, and a request that finds the bucket empty is refused with the
seconds until the next token (the ``Retry-After`` of the 429). Refused requests take no
token, so a client that backs off as told gets through on its next try.

Distributed, the buckets live in Redis (one hash per key, updated by one Lua script, so
every API replica shares the limit and the clock is Redis's). Embedded, with no broker,
they live in a ``LocalRateLimiter`` owned by the app's ApiContext.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis

log = logging.getLogger(__name__)

# KEYS[1] the bucket; ARGV capacity, refill per second, ttl ms, cost (1, or 0 to only look).
# Returns {allowed, retry_after, tokens}.
TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry_after = 0
if tokens >= 1 then
  tokens = tokens - tonumber(ARGV[4])
  allowed = 1
else
  retry_after = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {allowed, tostring(retry_after), tostring(tokens)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds until a token is back; 0 when allowed
    remaining: int


class RateLimiter(Protocol):
    def hit(self, key: str, cost: int = 1) -> Decision:
        """Take ``cost`` tokens (1, or 0 to only look) from ``key``'s bucket if it holds one,
        or say how long until one is back."""
        ...


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


@dataclass(frozen=True)
class Unlimited:
    """The limit is turned off (``rate_limit_requests = 0``)."""

    def hit(self, key: str, cost: int = 1) -> Decision:
        return Decision(True, 0, 0)


@dataclass
class LocalRateLimiter:
    """In-process buckets for the embedded mode: one API process, so no shared store is needed."""

    requests: int
    window_seconds: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key → (tokens, at)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, key: str, cost: int = 1) -> Decision:
        rate = self.requests / self.window_seconds
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (float(self.requests), now))
            tokens = min(float(self.requests), tokens + max(0.0, now - at) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - cost, now)
                return Decision(True, 0, int(tokens - cost))
            self._buckets[key] = (tokens, now)
            return Decision(False, _whole_seconds((1 - tokens) / rate), 0)


@dataclass
class RedisRateLimiter:
    """Buckets in Redis, shared by every API process. If Redis cannot be reached the request
    is let through (and logged): the limit protects the service, it must not take it down."""

    client: redis.Redis
    requests: int
    window_seconds: float
    namespace: str = "narrator:ratelimit:"

    def __post_init__(self) -> None:
        self._script = self.client.register_script(TOKEN_BUCKET)

    def hit(self, key: str, cost: int = 1) -> Decision:
        rate = self.requests / self.window_seconds
        ttl_ms = math.ceil(self.window_seconds * 1000) + 1000  # a full bucket needs no state
        try:
            allowed, retry_after, tokens = self._script(keys=[self.namespace + key],
                                                        args=[self.requests, repr(rate), ttl_ms, cost])
        except redis.RedisError as exc:
            log.warning("rate limit not applied to key %s: Redis unavailable (%s)", key, exc)
            return Decision(True, 0, 0)
        if int(allowed):
            return Decision(True, 0, int(float(tokens)))
        return Decision(False, _whole_seconds(float(retry_after)), 0)


def make_limiter(requests: int, window_seconds: float, broker_url: str) -> RateLimiter:
    """Redis when the broker is Redis; otherwise (embedded mode) in-process buckets."""
    if requests <= 0:
        return Unlimited()
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(redis.Redis.from_url(broker_url), requests, window_seconds)
    return LocalRateLimiter(requests, window_seconds)
