"""Reference-audio QA for voice enrollment.

A company uploads about a minute of someone's voice.  A cloned voice can only be
as good as that reference, and the common failures (a noisy office, an echoey
room, music in the background, a second person talking, a too-hot microphone) are
cheap to detect up front and expensive to discover after a voice has been built.
analyze_reference decodes the upload (decode.py), keeps only the speech (vad.py),
normalizes its loudness and measures it (acoustics.py, speaker_split.py), returning a report with an accept / warn / reject decision and
human-readable reasons the uploader can act on.

Thresholds were calibrated on synthetic degradations of clean Kokoro voices
(see ``tests/support/degrade.py`` and ``bench/reference_qa.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shared.audio_limits import AudioLimits
from shared.audio_types import SAMPLE_RATE
from worker.tts.checks.acoustics import (
    clipping_ratio,
    estimate_rt60,
    estimate_snr_db,
    music_score,
    normalize_loudness,
)
from worker.tts.checks.decode import DEFAULT_LIMITS, declared_seconds, decode_audio
from worker.tts.checks.reference_report import ACCEPT, REJECT, WARN, Finding, QAReport, ReferenceRejected
from worker.tts.checks.speaker_split import UtteranceEncoder, speaker_split
from worker.tts.checks.vad import VAD_FRAME_S, VAD_RATE, join_segments, speech_mask, speech_segments
from worker.tts.synthesis.audio import resample_mono


@dataclass(frozen=True)
class CleanedReference:
    """Speech-only, loudness-normalized float32 mono audio at 24 kHz plus its QA report."""

    audio: np.ndarray
    report: QAReport


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


def analyze_reference(data: bytes, *, speaker_encoder: UtteranceEncoder | None = None, min_speech_s: float = 5.0,
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
    scores["speech_seconds"] = float(mask.sum() * VAD_FRAME_S)
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
