"""Decoding an uploaded reference: libsndfile first, librosa as a second chance, and never
more than the limits allow (the API checked the header; this is the second line)."""

from __future__ import annotations

import io
import os
import tempfile
import warnings

import numpy as np
import soundfile as sf

from shared import compressed_audio
from shared.audio_limits import AudioLimits
from shared.audio_types import DECODABLE, container_format
from worker.tts.checks.reference_report import REJECT, Finding, ReferenceRejected

# A reference under the default settings (NARRATOR_MAX_REFERENCE_SECONDS and the rest).
DEFAULT_LIMITS = AudioLimits("reference", 600.0)


def decode_audio(data: bytes, limits: AudioLimits = DEFAULT_LIMITS) -> tuple[np.ndarray, int]:
    """Decode an upload into float32 samples of shape (frames, channels) and its sample rate.

    libsndfile covers WAV/FLAC/OGG/MP3, FFmpeg a phone's M4A and a browser's WebM
    (``shared.compressed_audio``); librosa (audioread) is a fallback for anything else the
    host can decode.  Raises ``ReferenceRejected`` ("undecodable") otherwise, and
    ("unsupported_format") for a sample rate or channel count outside ``limits``, before
    anything resamples it. Never decodes more than ``limits.max_seconds``: the API checks
    every upload's header, and this is the second line for audio that skipped the check.
    """
    if not data:
        raise _undecodable("The uploaded file is empty.")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            _check_format(f.samplerate, f.channels, limits)
            sr = f.samplerate
            audio = f.read(frames=limits.max_frames(sr, f.channels), dtype="float32", always_2d=True)
    except (RuntimeError, ValueError, TypeError, OSError):  # LibsndfileError is a RuntimeError
        if container_format(data) is not None:
            audio, sr = _decode_container(data, limits)
        else:
            audio, sr = _decode_with_librosa(data, limits.max_seconds)
            _check_format(sr, audio.shape[1], limits)
    if audio.size == 0 or sr <= 0:
        raise _undecodable("The uploaded file contains no audio samples.")
    return np.nan_to_num(audio.astype(np.float32, copy=False)), int(sr)


def declared_seconds(data: bytes) -> float | None:
    """How long the file's header says it is (None when it has no header libsndfile reads):
    known without decoding, so a file longer than the limit is reported as long as it is."""
    try:
        info = sf.info(io.BytesIO(data))
    except (RuntimeError, ValueError, TypeError, OSError):
        return None
    return info.frames / info.samplerate if info.samplerate > 0 and info.frames > 0 else None


def _check_format(sample_rate: int, channels: int, limits: AudioLimits) -> None:
    refused = limits.format_violation(sample_rate, channels)
    if refused is not None:
        raise ReferenceRejected([Finding("unsupported_format", refused[1][0].upper() + refused[1][1:] + ".", REJECT)])


def _decode_container(data: bytes, limits: AudioLimits) -> tuple[np.ndarray, int]:
    """A phone's M4A or a browser's WebM: its header checked against the limits, then at most
    ``limits.max_frames`` decoded."""
    try:
        info = compressed_audio.probe(data, limits.max_seconds)
        _check_format(info.sample_rate, info.channels, limits)
        return compressed_audio.decode(data, limits.max_frames(info.sample_rate, info.channels))
    except compressed_audio.ContainerError as exc:
        raise _undecodable(f"The uploaded recording could not be read ({exc}). Please upload {DECODABLE}.") from exc


def _decode_with_librosa(data: bytes, max_seconds: float) -> tuple[np.ndarray, int]:
    """Second-chance decoder; audioread needs a real file path. Reads ``max_seconds`` at most."""
    path = ""
    try:
        import librosa  # deferred: librosa (numba) costs seconds and only odd formats need it

        with tempfile.NamedTemporaryFile(suffix=".audio", delete=False) as tmp:
            tmp.write(data)
            path = tmp.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audio, sr = librosa.load(path, sr=None, mono=False, duration=max_seconds)
    except Exception as exc:
        raise _undecodable(
            f"The uploaded file could not be read as audio. Please upload a {DECODABLE} recording."
        ) from exc
    finally:
        if path:
            os.unlink(path)
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    return audio.T if audio.shape[0] < audio.shape[1] else audio, int(sr)


def _undecodable(message: str) -> ReferenceRejected:
    return ReferenceRejected([Finding("undecodable", message, REJECT)])
