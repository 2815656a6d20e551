"""Where the speech is: webrtcvad decisions gated by energy, turned into padded spans, and
the speech joined with short pauses in place of long silences."""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.ndimage as ndi

VAD_RATE = 16000
VAD_FRAME_S = 0.03


def speech_mask(audio16: np.ndarray, *, aggressiveness: int = 2) -> np.ndarray:
    """Per-30 ms speech/non-speech decisions: webrtcvad gated by an energy floor, smoothed.

    The energy gate stops webrtcvad from calling faint hiss "speech" after we boost
    quiet recordings; smoothing fills syllable gaps so we do not chop words.
    """
    frame = int(VAD_FRAME_S * VAD_RATE)
    n = len(audio16) // frame
    if n == 0:
        return np.zeros(0, bool)
    peak = float(np.abs(audio16).max())
    if peak < 1e-4:
        return np.zeros(n, bool)
    scaled = np.clip(audio16 * min(0.7 / peak, 100.0), -1, 1)
    pcm = (scaled[: n * frame] * 32767).astype(np.int16)
    power_db = 10 * np.log10(np.mean(pcm.reshape(n, frame).astype(np.float64) ** 2, axis=1) + 1e-3)
    gate = power_db > max(power_db.max() - 50.0, 10 * math.log10(32767**2) - 75.0)
    try:
        with warnings.catch_warnings():  # its pkg_resources import warns on every first use
            warnings.simplefilter("ignore", UserWarning)
            import webrtcvad  # deferred: optional; an energy-only fallback follows

        vad = webrtcvad.Vad(aggressiveness)
        raw = np.array([vad.is_speech(pcm[i * frame : (i + 1) * frame].tobytes(), VAD_RATE) for i in range(n)])
    except ImportError:  # energy-only fallback: anything within 35 dB of the loudest frame
        raw = power_db > power_db.max() - 35.0
    mask = raw & gate
    mask = ndi.binary_closing(mask, structure=np.ones(9, bool))  # bridge gaps < ~0.25 s
    mask = ndi.binary_opening(mask, structure=np.ones(4, bool))  # drop blips < ~0.1 s
    return mask


def speech_segments(mask: np.ndarray, *, pad_s: float = 0.1) -> list[tuple[float, float]]:
    """Speech spans in seconds, padded so word onsets/offsets survive the trim."""
    spans: list[tuple[float, float]] = []
    labels, _ = ndi.label(mask)
    for idx in ndi.find_objects(labels):
        start = max(0.0, idx[0].start * VAD_FRAME_S - pad_s)
        end = idx[0].stop * VAD_FRAME_S + pad_s
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def join_segments(audio: np.ndarray, sr: int, spans: list[tuple[float, float]], *, gap_s: float = 0.25) -> np.ndarray:
    """Keep only speech; long internal silences become a short natural pause."""
    gap = np.zeros(int(gap_s * sr), np.float32)
    parts: list[np.ndarray] = []
    for start, end in spans:
        parts += [audio[int(start * sr) : int(end * sr)], gap]
    return np.concatenate(parts[:-1]).astype(np.float32) if parts else np.zeros(0, np.float32)
