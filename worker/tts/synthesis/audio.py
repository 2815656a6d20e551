"""Audio encoding: narrator's output format is 24 kHz mono 16-bit PCM WAV."""

from __future__ import annotations

import hashlib
import io
import wave

import numpy as np
import soxr


def to_wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def read_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError("expected 16-bit PCM")
        frames = w.readframes(w.getnframes())
        audio = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
        if w.getnchannels() > 1:
            audio = audio.reshape(-1, w.getnchannels()).mean(axis=1)
        return audio, w.getframerate()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resample_mono(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Mono float32 at ``target_rate`` (soxr HQ); accepts (n,) or (n, channels).

    One implementation for every model input: Whisper and the speaker encoder want
    16 kHz, the engine and reference QA 24 kHz.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    wav = np.asarray(audio, dtype=np.float32)
    if wav.ndim == 2:
        wav = wav.mean(axis=1)
    if wav.ndim != 1:
        raise ValueError(f"audio must be 1-D (or 2-D channels-last), got shape {wav.shape}")
    if sample_rate != target_rate and wav.size:
        wav = soxr.resample(wav, sample_rate, target_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(wav)
