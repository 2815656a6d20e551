"""Reference-audio QA for voice enrollment.

A company uploads about a minute of someone's voice.  A cloned voice can only be
as good as that reference, and the common failures (a noisy office, an echoey
room, music in the background, a second person talking, a too-hot microphone) are
cheap to detect up front and expensive to discover after a voice has been built.
This module decodes the upload, keeps only the speech, normalizes its loudness
and measures it, returning a report with an accept / warn / reject decision and
human-readable reasons the uploader can act on.

Thresholds were calibrated on synthetic degradations of clean Kokoro voices
(see ``worker/tts/degrade.py`` and ``bench/reference_qa.py``).
"""

from __future__ import annotations

import io
import itertools
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as sps
import soundfile as sf

from shared.audio_limits import AudioLimits
from worker.tts.audio import resample_mono

SAMPLE_RATE = 24000
VAD_RATE = 16000
TARGET_LUFS = -23.0

REJECT = "reject"
WARN = "warn"
ACCEPT = "accept"

_VAD_FRAME_S = 0.03
_ANALYSIS_HOP_S = 0.01


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class Finding:
    """One problem with the reference; ``message`` is meant for the person who uploaded it."""

    code: str
    message: str
    severity: str  # "reject" | "warn"


class ReferenceRejected(Exception):
    """The reference cannot be used to build a voice; ``reasons`` says why."""

    def __init__(self, reasons: list[Finding], report: QAReport | None = None) -> None:
        self.reasons = list(reasons)
        self.report = report  # the whole QA report, scores included, when the audio was analyzed
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        if not self.reasons:
            return "The reference audio was rejected."
        return "The reference audio was rejected: " + " ".join(f.message for f in self.reasons)

    @property
    def codes(self) -> list[str]:
        """Finding codes, handy for API error payloads and tests."""
        return [f.code for f in self.reasons]

    def __reduce__(self) -> tuple[type, tuple[list[Finding], QAReport | None]]:
        """Survive pickling (Celery ships task exceptions between processes) with reasons intact."""
        return (type(self), (self.reasons, self.report))


@dataclass(frozen=True)
class QAReport:
    """Outcome of reference QA: the decision, the reasons and the raw measurements behind them."""

    decision: str
    findings: list[Finding]
    scores: dict[str, float]

    @property
    def codes(self) -> list[str]:
        """Finding codes in report order."""
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (NaN scores become None) for the API and the job log."""
        return {
            "decision": self.decision,
            "findings": [asdict(f) for f in self.findings],
            "scores": {k: (None if not math.isfinite(v) else round(float(v), 4)) for k, v in self.scores.items()},
        }


@dataclass(frozen=True)
class CleanedReference:
    """Speech-only, loudness-normalized float32 mono audio at 24 kHz plus its QA report."""

    audio: np.ndarray
    report: QAReport


class SpeakerEncoder(Protocol):
    """Anything that maps 16 kHz speech to a unit-norm speaker embedding (resemblyzer's VoiceEncoder fits)."""

    def embed_utterance(self, wav: np.ndarray) -> np.ndarray: ...


class LanguageIdentifier(Protocol):
    """Anything that tells which language a clip is spoken in (the Whisper transcriber fits)."""

    def language_probabilities(self, audio: np.ndarray, sample_rate: int) -> dict[str, float]: ...


@dataclass(frozen=True)
class Thresholds:
    """Warn / reject limits; defaults were calibrated with ``bench/reference_qa.py``."""

    clipping_warn: float = 0.0005  # fraction of samples stuck at full scale
    clipping_reject: float = 0.005
    snr_warn_db: float = 27.0  # estimated speech-to-noise ratio
    snr_reject_db: float = 19.0
    rt60_warn_s: float = 0.42  # blind estimate; it reads low for long RT60s (true 0.8 s -> ~0.6 s)
    rt60_reject_s: float = 0.60
    music_warn: float = 0.05  # fraction of audible time with a steadily held tone
    music_reject: float = 0.20
    speaker_warn_separation: float = 0.05  # within-group minus cross-group cosine similarity
    speaker_reject_separation: float = 0.08
    speaker_reject_similarity: float = 0.70  # halves this dissimilar are different people outright
    min_speaker_group_s: float = 3.0  # the smaller voice must speak at least this long to count
    language_warn: float = 0.50  # the identifier's probability for the declared language
    language_reject: float = 0.10


DEFAULT_THRESHOLDS = Thresholds()
# A reference under the default settings (NARRATOR_MAX_REFERENCE_SECONDS and the rest).
DEFAULT_LIMITS = AudioLimits("reference", 600.0)


# --------------------------------------------------------------------------- decoding


def decode_audio(data: bytes, limits: AudioLimits = DEFAULT_LIMITS) -> tuple[np.ndarray, int]:
    """Decode an upload into float32 samples of shape (frames, channels) and its sample rate.

    libsndfile covers WAV/FLAC/OGG/MP3; librosa (audioread) is a fallback for anything
    else the host can decode.  Raises ``ReferenceRejected`` ("undecodable") otherwise, and
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


def _decode_with_librosa(data: bytes, max_seconds: float) -> tuple[np.ndarray, int]:
    """Second-chance decoder; audioread needs a real file path. Reads ``max_seconds`` at most."""
    path = ""
    try:
        import librosa

        with tempfile.NamedTemporaryFile(suffix=".audio", delete=False) as tmp:
            tmp.write(data)
            path = tmp.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audio, sr = librosa.load(path, sr=None, mono=False, duration=max_seconds)
    except Exception as exc:
        raise _undecodable(
            "The uploaded file could not be read as audio. Please upload a WAV, FLAC, OGG or MP3 recording."
        ) from exc
    finally:
        if path:
            os.unlink(path)
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    return audio.T if audio.shape[0] < audio.shape[1] else audio, int(sr)


def _undecodable(message: str) -> ReferenceRejected:
    return ReferenceRejected([Finding("undecodable", message, REJECT)])


# --------------------------------------------------------------------------- signal helpers


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


# --------------------------------------------------------------------------- clipping


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


# --------------------------------------------------------------------------- VAD


def speech_mask(audio16: np.ndarray, *, aggressiveness: int = 2) -> np.ndarray:
    """Per-30 ms speech/non-speech decisions: webrtcvad gated by an energy floor, smoothed.

    The energy gate stops webrtcvad from calling faint hiss "speech" after we boost
    quiet recordings; smoothing fills syllable gaps so we do not chop words.
    """
    frame = int(_VAD_FRAME_S * VAD_RATE)
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
        import webrtcvad

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
        start = max(0.0, idx[0].start * _VAD_FRAME_S - pad_s)
        end = idx[0].stop * _VAD_FRAME_S + pad_s
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


# --------------------------------------------------------------------------- loudness


def normalize_loudness(audio: np.ndarray, sr: int, target_lufs: float = TARGET_LUFS) -> tuple[np.ndarray, float]:
    """EBU R128 integrated-loudness normalization with a peak guard; returns (audio, measured LUFS)."""
    import pyloudnorm

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


# --------------------------------------------------------------------------- SNR


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


# --------------------------------------------------------------------------- reverberation


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


# --------------------------------------------------------------------------- music


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


# --------------------------------------------------------------------------- speakers


def speaker_windows(speech16: np.ndarray, *, window_s: float = 3.0, hop_s: float = 1.5) -> list[np.ndarray]:
    """~3 s overlapping windows of speech-only 16 kHz audio for per-window speaker embeddings."""
    win, hop = int(window_s * VAD_RATE), int(hop_s * VAD_RATE)
    if len(speech16) < win:
        return []
    starts = list(range(0, len(speech16) - win + 1, hop))
    if starts[-1] + win < len(speech16) - hop // 2:
        starts.append(len(speech16) - win)
    return [speech16[s : s + win] for s in starts]


def two_group_split(embeddings: np.ndarray, *, iterations: int = 10) -> np.ndarray:
    """Cosine 2-means seeded with the least similar pair; returns a 0/1 label per window."""
    sim = embeddings @ embeddings.T
    i, j = np.unravel_index(np.argmin(sim), sim.shape)
    centroids = embeddings[[i, j]].copy()
    labels = np.zeros(len(embeddings), int)
    for _ in range(iterations):
        labels = np.argmax(embeddings @ centroids.T, axis=1)
        for k in (0, 1):
            if np.any(labels == k):
                c = embeddings[labels == k].mean(axis=0)
                centroids[k] = c / (np.linalg.norm(c) + 1e-12)
    return labels


@dataclass(frozen=True)
class SpeakerSplit:
    """How well the speech splits into two voices.

    ``cross``: mean cosine similarity between windows of the two groups;
    ``within``: the lower of the two groups' mean internal similarity;
    ``minor_seconds``: how much speech the smaller group covers.
    """

    cross: float
    within: float
    minor_seconds: float

    @property
    def separation(self) -> float:
        """within - cross: ~0 for one voice split arbitrarily, clearly positive for two voices."""
        return self.within - self.cross


def _mean_offdiag(sim: np.ndarray) -> float:
    n = len(sim)
    return float((sim.sum() - np.trace(sim)) / (n * (n - 1))) if n > 1 else float("nan")


def speaker_split(speech16: np.ndarray, encoder: SpeakerEncoder, *, hop_s: float = 1.5) -> SpeakerSplit | None:
    """Embed ~3 s windows and measure the best two-group split; None when speech is too short.

    An absolute similarity threshold alone confuses similar voices with a single
    voice in changing conditions; comparing cross-group to within-group similarity
    is what separates "two people" from "one person, two halves".
    """
    windows = speaker_windows(speech16, hop_s=hop_s)
    if len(windows) < 3:
        return None
    emb = np.stack([np.asarray(encoder.embed_utterance(w), dtype=np.float64) for w in windows])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12
    labels = two_group_split(emb)
    sizes = np.bincount(labels, minlength=2)
    if sizes.min() == 0:
        whole = _mean_offdiag(emb @ emb.T)
        return SpeakerSplit(whole, whole, 0.0)
    sim = emb @ emb.T
    cross = float(np.mean(sim[np.ix_(labels == 0, labels == 1)]))
    within = [_mean_offdiag(sim[np.ix_(labels == k, labels == k)]) for k in (0, 1)]
    return SpeakerSplit(cross, float(np.nanmin(within)), float(sizes.min() * hop_s))


# --------------------------------------------------------------------------- decisions


def _grade(value: float, warn: float, reject: float, *, higher_is_worse: bool) -> str | None:
    """Severity for a measurement against its warn/reject limits (None when fine or unknown)."""
    if not math.isfinite(value):
        return None
    worse = (lambda a, b: a >= b) if higher_is_worse else (lambda a, b: a <= b)
    if worse(value, reject):
        return REJECT
    if worse(value, warn):
        return WARN
    return None


def _quality_findings(scores: dict[str, float], th: Thresholds) -> list[Finding]:
    """Turn measurements into findings with messages a non-engineer can act on."""
    out: list[Finding] = []
    sev = _grade(scores["clipping_ratio"], th.clipping_warn, th.clipping_reject, higher_is_worse=True)
    if sev:
        out.append(Finding("clipping", f"{scores['clipping_ratio'] * 100:.2f}% of the recording is clipped "
                           "(distorted at full volume). Lower the microphone gain and record again.", sev))
    sev = _grade(scores["snr_db"], th.snr_warn_db, th.snr_reject_db, higher_is_worse=False)
    if sev:
        out.append(Finding("low_snr", f"There is a lot of background noise (estimated signal-to-noise ratio "
                           f"{scores['snr_db']:.0f} dB; {th.snr_warn_db:.0f} dB or more is recommended). "
                           "Record in a quieter place, closer to the microphone.", sev))
    sev = _grade(scores["reverb_rt60_s"], th.rt60_warn_s, th.rt60_reject_s, higher_is_worse=True)
    if sev:
        out.append(Finding("reverberant", f"The room sounds echoey (estimated reverberation time "
                           f"{scores['reverb_rt60_s']:.2f} s). Record in a smaller, furnished room "
                           "and stay close to the microphone.", sev))
    sev = _grade(scores["music_score"], th.music_warn, th.music_reject, higher_is_worse=True)
    if sev:
        out.append(Finding("music", f"Background music or a steady tone was detected in "
                           f"{scores['music_score'] * 100:.0f}% of the recording. "
                           "The reference must contain only the voice.", sev))
    sev = _speaker_severity(scores, th)
    if sev:
        out.append(Finding("multiple_speakers", "More than one voice seems to be present (about "
                           f"{scores['speaker_minor_seconds']:.0f} s sound like a different person). "
                           "The reference must contain only the person whose voice is being built.", sev))
    return out


def declared_language_probability(probabilities: dict[str, float], language: str) -> float:
    """Probability of the declared tag: ``zh-CN`` counts as ``zh``, Cantonese as Chinese too."""
    base = language.replace("_", "-").split("-")[0].lower()
    accepted = {"zh", "yue"} if base == "zh" else {base}
    return float(sum(p for code, p in probabilities.items() if code in accepted))


def _language_finding(probabilities: dict[str, float], language: str, declared: float,
                      th: Thresholds) -> Finding | None:
    """A recording in another language than the voice's (``declared``: its probability): say
    which one was heard."""
    sev = _grade(declared, th.language_warn, th.language_reject, higher_is_worse=False)
    if sev is None or not probabilities:
        return None
    heard = max(probabilities, key=lambda code: probabilities[code])
    return Finding("wrong_language", f"The voice is declared as '{language}', but the recording sounds like "
                   f"'{heard}' ({probabilities[heard] * 100:.0f}% likely; '{language}' "
                   f"{declared * 100:.0f}%). Record the reference in the voice's language.", sev)


def _speaker_severity(scores: dict[str, float], th: Thresholds) -> str | None:
    """Two voices when the split is well separated, or the halves are plainly different people."""
    if scores.get("speaker_minor_seconds", 0.0) < th.min_speaker_group_s:
        return None
    by_gap = _grade(scores["speaker_separation"], th.speaker_warn_separation, th.speaker_reject_separation,
                    higher_is_worse=True)
    if by_gap == REJECT or scores["speaker_consistency"] < th.speaker_reject_similarity:
        return REJECT
    return by_gap


def _decide(findings: list[Finding]) -> str:
    """The worst severity wins."""
    severities = {f.severity for f in findings}
    return REJECT if REJECT in severities else WARN if WARN in severities else ACCEPT


# --------------------------------------------------------------------------- pipeline


def analyze_reference(data: bytes, *, speaker_encoder: SpeakerEncoder | None = None, min_speech_s: float = 5.0,
                      limits: AudioLimits = DEFAULT_LIMITS, thresholds: Thresholds = DEFAULT_THRESHOLDS,
                      language: str | None = None,
                      language_id: LanguageIdentifier | None = None) -> CleanedReference:
    """Decode, clean and judge an upload; never raises for bad-but-decodable audio.

    The language is checked only when both the declared ``language`` and a
    ``language_id`` are given. Raises ``ReferenceRejected`` only when the bytes are
    not audio at all, or declare a sample rate or channel count outside ``limits``.
    A file longer than ``limits.max_seconds`` is rejected ("too_long"), judged on its
    first ``max_seconds``, the most that is decoded.
    """
    raw, sr = decode_audio(data, limits)
    duration = max(raw.shape[0] / sr, declared_seconds(data) or 0.0)
    scores: dict[str, float] = {"duration_seconds": duration, "input_sample_rate": float(sr),
                                "input_channels": float(raw.shape[1])}
    findings: list[Finding] = []
    if duration > limits.max_seconds:
        findings.append(Finding("too_long", f"The recording is {duration / 60:.1f} minutes long; "
                                f"the limit is {limits.max_seconds / 60:.0f} minutes. Upload a shorter excerpt "
                                "(about one minute is ideal).", REJECT))
    scores["clipping_ratio"] = clipping_ratio(raw)
    audio = resample_mono(raw, sr, SAMPLE_RATE)
    audio16 = resample_mono(audio, SAMPLE_RATE, VAD_RATE)
    mask = speech_mask(audio16)
    spans = speech_segments(mask)
    scores["speech_seconds"] = float(mask.sum() * _VAD_FRAME_S)
    if scores["speech_seconds"] <= 0.0:
        findings.append(Finding("silent", "No speech was found: the recording is silent or too quiet.", REJECT))
        return CleanedReference(np.zeros(0, np.float32), QAReport(REJECT, findings, scores))
    speech = join_segments(audio, SAMPLE_RATE, spans)
    cleaned, scores["loudness_lufs"] = normalize_loudness(speech, SAMPLE_RATE)
    scores["snr_db"] = estimate_snr_db(audio, SAMPLE_RATE)
    scores["reverb_rt60_s"] = estimate_rt60(audio, SAMPLE_RATE)
    scores["music_score"] = music_score(audio, SAMPLE_RATE)
    if speaker_encoder is not None:
        split = speaker_split(resample_mono(cleaned, SAMPLE_RATE, VAD_RATE), speaker_encoder)
        if split is not None:
            scores["speaker_consistency"], scores["speaker_separation"] = split.cross, split.separation
            scores["speaker_minor_seconds"] = split.minor_seconds
    if language and language_id is not None:
        probabilities = language_id.language_probabilities(cleaned, SAMPLE_RATE)
        scores["language_probability"] = declared_language_probability(probabilities, language)
        wrong = _language_finding(probabilities, language, scores["language_probability"], thresholds)
        findings += [wrong] if wrong else []
    if scores["speech_seconds"] < min_speech_s:
        findings.append(Finding("too_short", f"Only {scores['speech_seconds']:.1f} s of speech was found; at least "
                                f"{min_speech_s:.0f} s is needed (about one minute is ideal).", REJECT))
    findings += _quality_findings(scores, thresholds)
    return CleanedReference(cleaned, QAReport(_decide(findings), findings, scores))


def clean_reference(data: bytes, **kw: Any) -> CleanedReference:
    """Like ``analyze_reference`` but raises ``ReferenceRejected`` when the decision is "reject"."""
    result = analyze_reference(data, **kw)
    if result.report.decision == REJECT:
        raise ReferenceRejected([f for f in result.report.findings if f.severity == REJECT], result.report)
    return result
