"""Measurements of a recording: clipping, loudness (and its normalization), noise,
reverberation and music. Each is a blind estimate from the audio alone; the thresholds
that grade them live in reference.py."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pyloudnorm
import scipy.ndimage as ndi
import scipy.signal as sps

TARGET_LUFS = -23.0
_ANALYSIS_HOP_S = 0.01


def _frames(audio: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """Strided view of overlapping frames (no copy)."""
    if len(audio) < frame:
        audio = np.pad(audio, (0, frame - len(audio)))
    n = 1 + (len(audio) - frame) // hop
    return np.lib.stride_tricks.as_strided(
        audio, shape=(n, frame), strides=(audio.strides[0] * hop, audio.strides[0]), writeable=False
    )


def _frame_power_db(audio: np.ndarray, sr: int, frame_s: float = 0.02, hop_s: float = _ANALYSIS_HOP_S) -> np.ndarray:
    """Per-frame mean power in dB (high-passed at 70 Hz so rumble/DC do not count as speech)."""
    sos = sps.butter(2, 70 / (sr / 2), btype="high", output="sos")
    filtered = sps.sosfilt(sos, audio.astype(np.float64))
    frames = _frames(filtered, int(frame_s * sr), int(hop_s * sr))
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def clipping_ratio(audio: np.ndarray) -> float:
    """Fraction of samples pinned at the recording's peak (in runs), per worst channel.

    A clean take touches its peak a handful of times; a clipped one sits on it for
    whole runs of samples.  Counting plateau samples at the peak (not just at 1.0)
    also catches recordings that were clipped and then scaled down.
    """
    worst = 0.0
    for ch in np.atleast_2d(audio.T) if audio.ndim == 2 else [audio]:
        peak = float(np.abs(ch).max()) if ch.size else 0.0
        if peak < 0.05:
            continue
        at_peak = np.abs(ch) >= peak * (1 - 2e-3)
        runs = at_peak[1:] & at_peak[:-1]  # two consecutive samples at the peak
        active = max(int(np.sum(np.abs(ch) > peak * 1e-2)), 1)
        worst = max(worst, float(np.sum(runs)) / active)
    return worst




def normalize_loudness(audio: np.ndarray, sr: int, target_lufs: float = TARGET_LUFS) -> tuple[np.ndarray, float]:
    """EBU R128 integrated-loudness normalization with a peak guard; returns (audio, measured LUFS)."""
    if len(audio) < int(0.5 * sr):
        return audio, float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lufs = float(pyloudnorm.Meter(sr).integrated_loudness(audio.astype(np.float64)))
    if not math.isfinite(lufs):
        return audio, lufs
    gain = 10 ** ((target_lufs - lufs) / 20)
    peak = float(np.abs(audio).max()) * gain
    if peak > 0.98:  # never create clipping; slightly quieter than target is harmless
        gain *= 0.98 / peak
    return (audio * gain).astype(np.float32), lufs


def estimate_snr_db(audio: np.ndarray, sr: int) -> float:
    """Speech-to-noise ratio from the frame-energy distribution.

    The quietest frames (pauses, lead-in) estimate the noise floor; the louder half
    estimates speech+noise.  Needs no VAD, which fails exactly when noise is loud.
    """
    power = 10 ** (_frame_power_db(audio, sr) / 10)
    if power.size < 20:
        return float("nan")
    ordered = np.sort(power)
    noise = float(np.mean(ordered[: max(1, int(0.05 * len(ordered)))]))
    loud = float(np.mean(ordered[len(ordered) // 2 :]))
    return float(np.clip(10 * np.log10(max(loud - noise, 1e-12) / max(noise, 1e-12)), -20.0, 80.0))


def _band_energies_db(audio: np.ndarray, sr: int) -> np.ndarray:
    """Log energy in ~octave bands (250 Hz - 6 kHz) at a 10 ms hop, shape (bands, frames)."""
    hop = int(_ANALYSIS_HOP_S * sr)
    _, _, spec = sps.stft(audio.astype(np.float64), fs=sr, nperseg=512, noverlap=512 - hop, boundary=None)
    power = np.abs(spec) ** 2
    freqs = np.fft.rfftfreq(512, 1 / sr)
    edges = [250, 500, 1000, 2000, 3000, 4500, 6000]
    bands = [power[(freqs >= lo) & (freqs < hi)].sum(axis=0) for lo, hi in itertools.pairwise(edges)]
    return 10 * np.log10(np.array(bands) + 1e-12)


def _decay_rates(env_db: np.ndarray, floor_db: float, *, drop_db: float, hop_s: float) -> list[float]:
    """Decay rates (dB/s) of free decays: from each local peak, the time to fall ``drop_db``."""
    rates: list[float] = []
    n = len(env_db)
    peaks = np.flatnonzero((env_db[1:-1] >= env_db[:-2]) & (env_db[1:-1] > env_db[2:])) + 1
    for p in peaks:
        start = env_db[p]
        if start < floor_db + drop_db + 6.0:
            continue
        running_min = start
        for t in range(p + 1, min(n, p + int(1.5 / hop_s))):
            level = env_db[t]
            if level > running_min + 2.0:  # energy came back before the decay finished: not free
                break
            running_min = min(running_min, level)
            if level <= start - drop_db:
                rates.append(drop_db / ((t - p) * hop_s))
                break
    return rates


def estimate_rt60(audio: np.ndarray, sr: int, *, drop_db: float = 15.0) -> float:
    """Blind RT60 estimate (seconds) from the fastest free decays after speech offsets.

    A room's reverberation limits how fast energy can fall after the talker stops,
    so the steepest observed decays approximate the room's decay rate (60 dB per RT60).
    Returns NaN when the recording has too few clean offsets (e.g. very noisy).
    """
    bands = _band_energies_db(audio, sr)
    rates: list[float] = []
    for env in bands:
        env = ndi.uniform_filter1d(env, 3)
        floor = float(np.percentile(env, 10))
        rates += _decay_rates(env, floor, drop_db=drop_db, hop_s=_ANALYSIS_HOP_S)
    if len(rates) < 8:
        return float("nan")
    fastest = float(np.percentile(rates, 90))
    return 60.0 / fastest


def _magnitude_db(audio: np.ndarray, sr: int, *, nfft: int, hop_s: float, fmin: float,
                  fmax: float) -> np.ndarray:
    """Hann-windowed log-magnitude spectrogram restricted to [fmin, fmax], shape (bins, frames)."""
    frames = _frames(audio.astype(np.float32), nfft, int(hop_s * sr))
    freqs = np.fft.rfftfreq(nfft, 1 / sr)
    keep = slice(int(np.searchsorted(freqs, fmin)), int(np.searchsorted(freqs, fmax)) + 1)
    spec = np.fft.rfft(frames * np.hanning(nfft).astype(np.float32), axis=1)[:, keep]
    return (20 * np.log10(np.abs(spec) + 1e-9)).T.astype(np.float32)


def _steady_components(sustained: np.ndarray, mag_db: np.ndarray, hop_s: float,
                       max_decay_db_s: float, max_wobble_db: float = 4.0) -> np.ndarray:
    """Keep held peaks whose level is steady rather than decaying or fluctuating.

    Reverb freezes a vowel's harmonics for a while, but they die away at 60 dB per
    RT60 (>= 40 dB/s in rooms) or pulse with the syllables that keep re-exciting
    them; notes of a music bed stay level or fade slowly and smoothly.
    """
    labels, _ = ndi.label(sustained)
    keep = np.zeros_like(sustained)
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        mask = labels[sl] == i
        level = np.where(mask, mag_db[sl], -np.inf).max(axis=0)
        t = np.arange(len(level)) * hop_s
        slope, offset = np.polyfit(t, level, 1)
        wobble = float(np.std(level - (slope * t + offset)))
        if slope > -max_decay_db_s and wobble < max_wobble_db:
            keep[sl] |= mask
    return keep


def music_score(audio: np.ndarray, sr: int, *, sustain_s: float = 0.6, max_decay_db_s: float = 20.0) -> float:
    """Fraction of audible time with a spectral peak held steady for ``sustain_s`` or longer.

    Instruments hold notes at a fixed pitch; speech pitch glides and is broken up by
    consonants, so steady narrow-band peaks that last over half a second (and do not
    decay like a reverb tail) are a strong sign of a music bed or a tonal hum.
    """
    hop_s = 0.02
    mag_db = _magnitude_db(audio, sr, nfft=2048, hop_s=hop_s, fmin=400.0, fmax=5000.0)
    if mag_db.shape[1] < 10:
        return 0.0
    frame_level = mag_db.max(axis=0)
    audible = frame_level > np.percentile(frame_level, 95) - 50.0
    baseline = ndi.uniform_filter1d(mag_db, 31, axis=0, mode="nearest")
    is_peak = np.zeros_like(mag_db, dtype=bool)
    is_peak[1:-1] = (mag_db[1:-1] > mag_db[:-2]) & (mag_db[1:-1] >= mag_db[2:])
    is_peak &= (mag_db - baseline > 10.0) & (mag_db > frame_level[None, :] - 40.0) & audible[None, :]
    held = ndi.binary_dilation(is_peak, structure=np.ones((3, 1), bool))  # tolerate +-1 bin drift
    sustained = ndi.binary_opening(held, structure=np.ones((1, int(sustain_s / hop_s)), bool))
    steady = _steady_components(sustained, mag_db, hop_s, max_decay_db_s)
    covered = steady.any(axis=0) & audible
    return float(covered.sum() / max(int(audible.sum()), 1))
