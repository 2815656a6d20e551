"""Phone and browser recordings: M4A (AAC or ALAC in MP4) and WebM (Opus or Vorbis), through
FFmpeg's libraries as PyAV ships them (faster-whisper already depends on it).

A voice is usually recorded on a phone (the iPhone's Voice Memos writes M4A) or in a browser
(``MediaRecorder`` writes WebM with Opus); libsndfile reads neither. FFmpeg does, but it can
also read playlists that open other files and URLs, so an upload is only ever handed to the
one demuxer its magic bytes name (``mp4`` or ``webm``), from memory, never by guessing.

Both lines of defence use this module: the API reads a container's header (rate, channels,
duration) before anything is stored (``api.validation.audio_upload``), and the worker decodes
no more than the limits allow (``worker.tts.checks.decode``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.audio_types import container_format


@dataclass(frozen=True)
class ContainerInfo:
    sample_rate: int
    channels: int
    seconds: float


class ContainerError(ValueError):
    """The bytes are not an M4A or WebM recording FFmpeg can read."""


def probe(data: bytes, max_seconds: float) -> ContainerInfo:
    """Rate, channels and duration of the first audio stream, from the header. A browser's WebM
    often states no duration; its packets are then counted (demuxed, not decoded) up to a tenth
    past ``max_seconds``, so a file over the limit is known to be over it."""
    import av  # deferred: FFmpeg's libraries load only for a container libsndfile cannot read

    with _opened(data) as (container, stream):
        rate, channels = int(stream.codec_context.sample_rate or 0), int(stream.codec_context.channels or 0)
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        if not seconds and container.duration:
            seconds = container.duration / av.time_base
        if not seconds:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    seconds = max(seconds, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if seconds > 1.1 * max_seconds + 1.0:  # over by enough for the refusal to say so
                    break
    return ContainerInfo(rate, channels, seconds)


def decode(data: bytes, max_frames: int) -> tuple[np.ndarray, int]:
    """The first audio stream as float32 samples of shape (frames, channels), at its own rate,
    at most ``max_frames`` of them."""
    blocks: list[np.ndarray] = []
    frames = 0
    with _opened(data) as (container, stream):
        rate = int(stream.codec_context.sample_rate or 0)
        for frame in container.decode(stream):
            raw = frame.to_ndarray()
            scale = float(np.iinfo(raw.dtype).max) if np.issubdtype(raw.dtype, np.integer) else 1.0  # ALAC: s16/s32
            block = raw.T if frame.format.is_planar else raw.reshape(-1, len(frame.layout.channels))
            blocks.append((block / scale).astype(np.float32, copy=False))
            frames += len(block)
            if frames >= max_frames:
                break
    if not blocks:
        raise ContainerError("the recording holds no audio frames")
    return np.ascontiguousarray(np.concatenate(blocks)[:max_frames]), rate


@contextmanager
def _opened(data: bytes) -> Iterator[tuple[Any, Any]]:
    """The container, opened with the demuxer its magic bytes name, and its first audio stream."""
    import av  # deferred: see probe()

    fmt = container_format(data)
    if fmt is None:
        raise ContainerError("not an M4A or WebM recording")
    try:
        container = av.open(io.BytesIO(data), format=fmt, mode="r")
    except av.FFmpegError as exc:
        raise ContainerError(f"the recording could not be read: {exc}") from exc
    try:
        if not container.streams.audio:
            raise ContainerError("the recording has no audio stream")
        yield container, container.streams.audio[0]
    except av.FFmpegError as exc:
        raise ContainerError(f"the recording could not be read: {exc}") from exc
    finally:
        container.close()
