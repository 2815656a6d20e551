"""The encodings audio leaves narrator in: a speech stream's, fed 16-bit PCM at 24 kHz chunk
by chunk, and a batch item's stored file (``encode_file``: the same encoders fed it whole).

- ``wav``: a WAV header whose sizes say "unknown length" (0xFFFFFFFF, as streaming
  servers write it; players and ``soundfile`` read until the data ends), then the PCM.
- ``pcm``: the raw samples, 24 kHz mono 16-bit little-endian (OpenAI's ``pcm``).
- ``mp3``: one LAME encoder (``lameenc``, 64 kbit/s) for the whole stream, fed each chunk
  as it arrives: true streaming, frames out as they are encoded. (libsndfile's MP3 writer
  heads each file with a Xing frame count, so its files cannot be chained.)
- ``opus``: one libsndfile Ogg Opus writer for the whole stream, whose pages are sent as
  libsndfile writes them (it writes Ogg front to back, never seeking back: ``_Sink``
  refuses otherwise). Pages lag about one chunk behind the audio fed in.
- ``flac``: a FLAC stream cannot be chained, and libsndfile writes its header last, so
  FLAC is encoded once, whole, when the render ends: it is not progressive.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from shared.audio_types import FILE_FORMATS, SAMPLE_RATE
from shared.speech_channel import streaming_wav_header
from shared.storage_keys import extension

CONTENT_TYPES = {
    "wav": "audio/wav", "pcm": "audio/pcm", "mp3": "audio/mpeg", "opus": "audio/ogg; codecs=opus",
    "flac": "audio/flac",
}
FORMATS = tuple(CONTENT_TYPES)
_LIBSNDFILE = {"flac": ("FLAC", "PCM_16")}
MP3_KBPS = 64


def _encode(pcm: bytes, fmt: str) -> bytes:
    container, subtype = _LIBSNDFILE[fmt]
    buf = io.BytesIO()
    samples = np.frombuffer(pcm, dtype="<i2")
    sf.write(buf, samples, SAMPLE_RATE, format=container, subtype=subtype)
    return buf.getvalue()


class Encoder:
    """One stream's encoding: ``start`` once, ``chunk`` per PCM chunk, ``finish`` at the end."""

    def __init__(self, fmt: str) -> None:
        if fmt not in CONTENT_TYPES:
            raise ValueError(f"unknown audio format {fmt!r}")
        self.fmt = fmt
        self._held: list[bytes] = []  # flac only: the whole stream, encoded at the end
        self._mp3 = _mp3_encoder() if fmt == "mp3" else None
        self._ogg: tuple[_Sink, sf.SoundFile] | None = None
        if fmt == "opus":
            sink = _Sink()
            self._ogg = sink, sf.SoundFile(sink, "w", SAMPLE_RATE, 1, format="OGG", subtype="OPUS")

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    def start(self) -> bytes:
        return streaming_wav_header() if self.fmt == "wav" else b""

    def chunk(self, pcm: bytes) -> bytes:
        if self.fmt in ("wav", "pcm"):
            return pcm
        if self._mp3 is not None:
            return bytes(self._mp3.encode(pcm))
        if self._ogg is not None:
            sink, writer = self._ogg
            writer.write(np.frombuffer(pcm, dtype="<i2"))
            return sink.drain()
        self._held.append(pcm)  # flac
        return b""

    def finish(self) -> bytes:
        if self._mp3 is not None:
            return bytes(self._mp3.flush())
        if self._ogg is not None:
            sink, writer = self._ogg
            writer.close()
            return sink.drain()
        if self.fmt == "flac":
            return _encode(b"".join(self._held), "flac")
        return b""


def encode_file(pcm: bytes, fmt: str) -> bytes:
    """A whole file of 16-bit PCM at 24 kHz in a compressed ``fmt`` (mp3, flac): the
    stream's encoder fed it at once. (A stored WAV is written where the audio is made, with its
    true length in the header, not the stream's "unknown".)"""
    if fmt not in FILE_FORMATS or fmt == "wav":
        raise ValueError(f"not a compressed file format: {fmt!r}")
    encoder = Encoder(fmt)
    return encoder.start() + encoder.chunk(pcm) + encoder.finish()


def content_type_of(key: str) -> str:
    """The type of a stored file from its extension (a local folder keeps no types)."""
    fmt = extension(key)
    return CONTENT_TYPES[fmt] if fmt in FILE_FORMATS else "application/octet-stream"


class _Sink(io.RawIOBase):
    """A write-only file for libsndfile that hands on what was written since the last drain."""

    def __init__(self) -> None:
        super().__init__()
        self._new = bytearray()
        self._size = self._pos = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # libsndfile asks; it only ever seeks to where it already is

    def write(self, data) -> int:  # type: ignore[no-untyped-def,override]
        if self._pos != self._size:
            raise OSError("the encoder went back into bytes already sent")
        self._new += bytes(data)
        self._size = self._pos = self._size + len(data)
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = offset if whence == 0 else self._pos + offset if whence == 1 else self._size + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def drain(self) -> bytes:
        out, self._new = bytes(self._new), bytearray()
        return out


def _mp3_encoder():  # type: ignore[no-untyped-def]
    import lameenc  # deferred: an optional dependency, needed only when a client asks for MP3

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_KBPS)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(1)
    encoder.set_quality(5)
    return encoder
