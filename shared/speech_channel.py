"""How a rendering worker hands a speech stream's audio to the API process relaying it.

One channel per stream, named by the stream's item id. The worker ``publish``es
messages in order — ``audio`` (16-bit little-endian mono PCM at 24 kHz), then one
``end`` or ``error`` — and the API ``read``s them as they come.

Distributed, the channel is a Redis stream (``XADD``/``XREAD BLOCK``) on the broker's
Redis: the messages wait there if the API reads late, are capped in length and expire
shortly after the stream ends, so an abandoned stream leaves nothing behind. Embedded,
the API and the worker share one process and the channel is a queue in memory, held by
the one ``LocalChannels`` object both sides are given (the worker context's).
"""

from __future__ import annotations

import queue
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from shared.audio_types import SAMPLE_RATE

KEY_PREFIX = "narrator:speech:"
EXPIRE_SECONDS = 120  # what a channel outlives its last message by
BLOCK_MS = 1000  # one XREAD's wait
MAX_MESSAGES = 10_000  # a stream's chunks are a second or more each: hours of audio


def pcm16(audio: np.ndarray) -> bytes:
    """Float audio as the channel carries it: 16-bit little-endian PCM."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def streaming_wav_header(sample_rate: int = SAMPLE_RATE) -> bytes:
    """A mono 16-bit WAV header for data of unknown length (sizes 0xFFFFFFFF, as streaming
    servers write it; players and libsndfile read until the data ends)."""
    unknown = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", unknown) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", unknown))


@dataclass(frozen=True)
class Message:
    kind: str  # "audio", "end" or "error"
    data: bytes


class ChannelTimeout(Exception):
    """Nothing arrived on the channel in time: no worker took the stream, or it stopped."""


class Channels(Protocol):
    def publish(self, stream_id: str, kind: str, data: bytes = b"") -> None: ...

    def read(self, stream_id: str, timeout: float) -> Iterator[Message]:
        """Messages in order until ``end`` or ``error`` (included); ``ChannelTimeout`` when
        none comes within ``timeout`` seconds of the last."""
        ...


class RedisChannels:
    def __init__(self, url: str) -> None:
        import redis  # deferred: the audio framing above serves narrator say, which needs no Redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5 + BLOCK_MS / 1000)

    def publish(self, stream_id: str, kind: str, data: bytes = b"") -> None:
        key = KEY_PREFIX + stream_id
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(key, {"kind": kind, "data": data}, maxlen=MAX_MESSAGES, approximate=True)
        pipe.expire(key, EXPIRE_SECONDS)
        pipe.execute()

    def read(self, stream_id: str, timeout: float) -> Iterator[Message]:
        key, last = KEY_PREFIX + stream_id, "0-0"
        deadline = time.monotonic() + timeout
        try:
            while True:
                # short blocks, well within the client's socket timeout, until the deadline
                answer = self.redis.xread({key: last}, count=64, block=BLOCK_MS)
                if not answer:
                    if time.monotonic() > deadline:
                        raise ChannelTimeout(f"no message on speech stream {stream_id} for {timeout:.0f} s")
                    continue
                deadline = time.monotonic() + timeout
                for entry_id, fields in answer[0][1]:
                    last = entry_id
                    message = Message(fields[b"kind"].decode(), fields.get(b"data", b""))
                    yield message
                    if message.kind != "audio":
                        return
        finally:
            self.redis.delete(key)  # read once: nobody else will


class LocalChannels:
    """The embedded mode's channels: one queue per stream, in this process."""

    def __init__(self) -> None:
        self._queues: dict[str, queue.Queue[Message]] = {}
        self._lock = threading.Lock()

    def _queue(self, stream_id: str) -> queue.Queue[Message]:
        with self._lock:
            return self._queues.setdefault(stream_id, queue.Queue())

    def publish(self, stream_id: str, kind: str, data: bytes = b"") -> None:
        self._queue(stream_id).put(Message(kind, data))

    def read(self, stream_id: str, timeout: float) -> Iterator[Message]:
        q = self._queue(stream_id)
        try:
            while True:
                try:
                    message = q.get(timeout=timeout)
                except queue.Empty:
                    raise ChannelTimeout(f"no message on speech stream {stream_id} for {timeout:.0f} s") from None
                yield message
                if message.kind != "audio":
                    return
        finally:
            with self._lock:
                self._queues.pop(stream_id, None)


def open_channels(broker_url: str) -> Channels:
    """Redis streams on the broker's Redis; in memory when there is no broker (embedded)."""
    return RedisChannels(broker_url) if broker_url else LocalChannels()
