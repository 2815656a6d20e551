"""The quality gate every rendered item passes through before it is delivered.

A render is checked for what listeners notice: the words (Whisper transcript vs the
text, CER for Chinese, WER for English), the voice (speaker-embedding cosine against
the voice's reference, whole clip and per window), the pacing (speech rate from
duration vs text length), and the signal (clipping, silence). Failures carry a human
sentence per failed check so operators and the feedback loop can see why.

Thresholds are calibrated on Kokoro renders; see the module constants' comments and
the calibration notes in the engineering report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from worker.tts.checks.asr import Transcriber
from worker.tts.checks.scoring import (
    error_rate,
    heard_error_rate,
    judged_measure,
    scoring_mode,
    text_units,
    whisper_language,
)
from worker.tts.checks.speaker import SpeakerEncoder, cosine

_FRAME_S = 0.02


@dataclass(frozen=True)
class GateConfig:
    """Pass/fail thresholds, calibrated on Kokoro-82M renders scored by Whisper-base int8.

    Calibration set: 40 zh (4 voices x 10 sentences), 32 en (4 x 8), 8 ja (2 x 4)
    renders at speed 1.0, plus speed 0.7/1.3/1.6 variants and deliberately broken audio.
    The margins quoted are "worst good render" vs "best bad render".
    """

    # Whole-clip cosine to the voice reference. Same voice: 0.868-0.966; other Kokoro
    # voice (same language and gender is the closest): at most 0.818.
    min_similarity: float = 0.84
    # Lowest cosine of one 3 s window. Same voice: >= 0.809. A second voice spliced
    # into the item: 0.606-0.770, while the whole-clip score stayed 0.90-0.92.
    min_window_similarity: float = 0.78
    # Good zh renders: CER 0-0.176 (mean 0.03); wrong text >= 0.86, half cut off 0.42.
    # Mandarin is judged on its syllable error (homophones forgiven), never above its CER.
    max_cer: float = 0.20
    # Good en renders: WER 0-0.095 ("home town" heard as "hometown"); wrong text >= 0.86.
    max_wer: float = 0.20
    # Speech rate over the span from first to last voiced frame. zh at speed 0.7-1.6:
    # 3.2-8.4 chars/s (ja, scored the same way: 4.9-7.1); en: 2.1-7.7 words/s.
    min_chars_per_s: float = 2.5
    max_chars_per_s: float = 9.0
    min_words_per_s: float = 1.5
    max_words_per_s: float = 7.0
    # Kokoro itself overshoots full scale now and then (peak up to 1.31, 0.06% of
    # samples); gain x2 then hard clip gives 0-0.6%, x4 gives 1-10%.
    max_clipping_ratio: float = 0.002
    # Good renders: 7-44% silent frames, longest silence 1.18 s; 6 s of trailing
    # silence after a 6 s sentence reads 61%.
    max_silence_ratio: float = 0.55
    max_pause_s: float = 2.5
    clip_level: float = 0.99  # |sample| at or above this counts as clipped
    silence_db: float = -45.0  # 20 ms frames at or below this RMS (dBFS) count as silence
    window_s: float = 3.0
    attempts: int = 2  # best of N renders

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if not 0.0 < self.clip_level <= 1.0:
            raise ValueError("clip_level must be in (0, 1]")


@dataclass(frozen=True)
class GateReport:
    passed: bool
    scores: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    transcript: str = ""

    def to_dict(self) -> dict:
        """JSON-ready form (NaN/inf scores become None) for job records and the API."""
        data = asdict(self)
        data["scores"] = {k: (v if math.isfinite(v) else None) for k, v in self.scores.items()}
        return data


# --------------------------------------------------------------------------- signal metrics


def _mono(audio: np.ndarray) -> np.ndarray:
    wav = np.asarray(audio, dtype=np.float32)
    if wav.ndim == 2:
        wav = wav.mean(axis=1)
    if wav.ndim != 1:
        raise ValueError(f"audio must be 1-D (or 2-D channels-last), got shape {wav.shape}")
    if not np.all(np.isfinite(wav)):
        raise ValueError("audio contains NaN or infinite samples")
    return wav


def frame_levels_db(audio: np.ndarray, sample_rate: int, frame_s: float = _FRAME_S) -> np.ndarray:
    """RMS level in dBFS of consecutive frames (a trailing partial frame included)."""
    size = max(1, round(frame_s * sample_rate))
    n = math.ceil(len(audio) / size)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.zeros(n * size, dtype=np.float64)
    padded[: len(audio)] = audio
    rms = np.sqrt(np.mean(padded.reshape(n, size) ** 2, axis=1))
    return (20.0 * np.log10(np.maximum(rms, 1e-10))).astype(np.float32)


def signal_scores(audio: np.ndarray, sample_rate: int, config: GateConfig) -> dict[str, float]:
    """Duration, peak, clipping, silence, and the length of the span that contains speech.

    ``speech_s`` runs from the first to the last non-silent frame; the speaking rate
    uses it so leading/trailing padding does not count as slow speech.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    wav = _mono(audio)
    duration = len(wav) / sample_rate
    levels = frame_levels_db(wav, sample_rate)
    voiced = np.flatnonzero(levels > config.silence_db)
    speech_s = 0.0 if voiced.size == 0 else (voiced[-1] - voiced[0] + 1) * _FRAME_S
    return {
        "duration_s": duration,
        "speech_s": float(min(speech_s, duration)),
        "longest_pause_s": _longest_run(levels <= config.silence_db) * _FRAME_S,
        "peak": float(np.max(np.abs(wav))) if wav.size else 0.0,
        "clipping_ratio": float(np.mean(np.abs(wav) >= config.clip_level)) if wav.size else 0.0,
        "silence_ratio": float(np.mean(levels <= config.silence_db)) if levels.size else 1.0,
    }


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True values."""
    if not mask.any():
        return 0
    padded = np.concatenate(([0], mask.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int(np.max(edges[1::2] - edges[::2]))


# --------------------------------------------------------------------------- the gate


class QualityGate:
    """Checks one rendered item; owns no models, only borrows the caller's instances."""

    def __init__(
        self, transcriber: Transcriber, encoder: SpeakerEncoder, config: GateConfig = GateConfig()
    ) -> None:
        self.transcriber = transcriber
        self.encoder = encoder
        self.config = config

    def check(
        self,
        audio: np.ndarray,
        sample_rate: int,
        text: str,
        lang: str,
        voice_embedding: np.ndarray | None,
    ) -> GateReport:
        """Score ``audio`` as a reading of ``text`` in ``lang`` by the voice ``voice_embedding``.

        ``voice_embedding=None`` skips the speaker checks (e.g. a preview voice without
        a reference). Silent audio skips recognition and speaker checks, which would
        only add noise (Whisper hallucinates on silence) to an already clear failure.
        """
        cfg = self.config
        if not text.strip():
            raise ValueError("text is empty: nothing to check the render against")
        mode = scoring_mode(lang)
        scores = signal_scores(audio, sample_rate, cfg)
        reasons = self._signal_reasons(scores)
        error_key = "cer" if mode == "char" else "wer"
        # Mandarin is judged on the syllables heard (CER kept beside it): Whisper's choice among
        # homophones (降噪 → 将造, 分贝 → 分倍) is not something the voice said wrong.
        judged = judged_measure(lang)
        transcript = ""
        if scores["speech_s"] <= 0.0:
            scores[error_key] = 1.0
        else:
            transcript = self.transcriber.transcribe(audio, sample_rate, language=whisper_language(lang)).text
            scores[judged] = heard_error_rate(text, transcript, lang)
            if judged != error_key:
                scores[error_key] = error_rate(text, transcript, lang)
            reasons += self._rate_reasons(scores, text, lang, mode)
            if voice_embedding is not None:
                reasons += self._speaker_reasons(scores, audio, sample_rate, voice_embedding)
        limit = cfg.max_cer if mode == "char" else cfg.max_wer
        if scores["speech_s"] > 0.0 and scores[judged] > limit:
            measure = "syllable error" if judged == "syllable_error" else judged.upper()
            reasons.append(
                f"The transcript does not match the text: {measure} {scores[judged]:.0%} "
                f"is above the {limit:.0%} limit (heard: {transcript!r})."
            )
        return GateReport(passed=not reasons, scores=scores, reasons=reasons, transcript=transcript)

    def _signal_reasons(self, scores: dict[str, float]) -> list[str]:
        cfg = self.config
        reasons = []
        if scores["speech_s"] <= 0.0:
            reasons.append(f"The audio is silent: no frame is louder than {cfg.silence_db:.0f} dBFS.")
        elif scores["silence_ratio"] > cfg.max_silence_ratio:
            reasons.append(
                f"Too much silence: {scores['silence_ratio']:.0%} of the audio is silent "
                f"(limit {cfg.max_silence_ratio:.0%})."
            )
        if scores["speech_s"] > 0.0 and scores["longest_pause_s"] > cfg.max_pause_s:
            reasons.append(
                f"The audio has a {scores['longest_pause_s']:.1f} s gap of silence "
                f"(longest allowed {cfg.max_pause_s:.1f} s)."
            )
        if scores["clipping_ratio"] > cfg.max_clipping_ratio:
            reasons.append(
                f"The audio is clipped: {scores['clipping_ratio']:.2%} of samples hit full scale "
                f"(limit {cfg.max_clipping_ratio:.2%})."
            )
        return reasons

    def _rate_reasons(self, scores: dict[str, float], text: str, lang: str, mode: str) -> list[str]:
        cfg = self.config
        units = text_units(text, lang)
        rate = units / scores["speech_s"]
        if mode == "char":
            key, unit, low, high = "chars_per_s", "characters", cfg.min_chars_per_s, cfg.max_chars_per_s
        else:
            key, unit, low, high = "words_per_s", "words", cfg.min_words_per_s, cfg.max_words_per_s
        scores[key] = rate
        over = f"{rate:.1f} {unit}/s over {scores['speech_s']:.1f} s"
        if rate < low:
            return [f"The speech is too slow or too long for the text: {over} (minimum {low:.1f})."]
        if rate > high:
            return [f"The speech is too fast or too short for the text: {over} (maximum {high:.1f})."]
        return []

    def _speaker_reasons(
        self, scores: dict[str, float], audio: np.ndarray, sample_rate: int, voice_embedding: np.ndarray
    ) -> list[str]:
        cfg = self.config
        try:
            windows = self.encoder.embed_windows(audio, sample_rate, window_s=cfg.window_s)
        except ValueError as exc:
            scores["similarity"] = 0.0
            return [f"The voice could not be measured: {exc}."]
        whole = windows.mean(axis=0)
        scores["similarity"] = cosine(whole, voice_embedding)
        scores["min_window_similarity"] = min(cosine(w, voice_embedding) for w in windows)
        reasons = []
        if scores["similarity"] < cfg.min_similarity:
            reasons.append(
                f"The voice does not sound like the reference: similarity {scores['similarity']:.2f} "
                f"is below {cfg.min_similarity:.2f}."
            )
        elif len(windows) > 1 and scores["min_window_similarity"] < cfg.min_window_similarity:
            reasons.append(
                f"The voice drifts away from the reference in part of the audio: a {cfg.window_s:.0f} s window "
                f"has similarity {scores['min_window_similarity']:.2f} (minimum {cfg.min_window_similarity:.2f})."
            )
        return reasons


# --------------------------------------------------------------------------- retries


def _rank(report: GateReport) -> tuple[float, ...]:
    """Higher is better: passing, then fewer failed checks, fewer word errors, closer voice."""
    error = report.scores.get("syllable_error", report.scores.get("cer", report.scores.get("wer", 1.0)))
    return (
        float(report.passed),
        -float(len(report.reasons)),
        -float(error),
        float(report.scores.get("similarity", 0.0)),
    )


def best_of(
    render: Callable[[int], np.ndarray],
    check: Callable[[np.ndarray], GateReport],
    attempts: int,
) -> tuple[np.ndarray, GateReport, int]:
    """Render until one passes, at most ``attempts`` times; return (audio, report, attempt index).

    The attempt index is passed to ``render`` so the caller can vary seed or speed on
    retries. A passing render returns at once (no point paying for more); when none
    passes, the best-ranked failure is returned so the caller can still deliver or
    flag it with its reasons.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    best: tuple[np.ndarray, GateReport, int] | None = None
    for attempt in range(attempts):
        audio = render(attempt)
        report = check(audio)
        if best is None or _rank(report) > _rank(best[1]):
            best = (audio, report, attempt)
        if report.passed:
            break
    assert best is not None
    return best
