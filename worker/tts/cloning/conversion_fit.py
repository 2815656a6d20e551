"""Learning a voice's spectral conversion at enrollment, and deciding whether to keep it.

The reference is cut at a pause into a fitting part and a held-out tail; Whisper transcribes
both, the clone (the style enrollment chose) reads both transcripts, and each clone render is
DTW-aligned to the speech it imitates. The regression's ridge penalty is chosen by the held-out
tail's cepstral distance, then the mapping is refitted on both parts.

A conversion that sounds more like the speaker but less clear or less clean is not kept: probe
sentences are rendered once and scored with and without it (``guard``): the speaker encoder's
similarity on the probes must rise, Whisper must hear the probes and the clone's readings of the
transcript no worse, and DNSMOS must not fall by more than its margin. A full-strength conversion
that fails is tried at half strength.

The parallel speech also gives a pitch map (worker.tts.synthesis.pitch): the clone's F0 moved
into the speaker's register and range. It is offered to the guard with the spectral conversion
only when the speaker encoder finds the probes more like the reference with it than without.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from worker.tts.cloning.enroll import ProbeRenders, probe_language
from worker.tts.synthesis.conversion import ORDER, Analyzer, SpectralConversion, deltas, with_context
from worker.tts.synthesis.pipeline import Synthesizer
from worker.tts.synthesis.pitch import PitchMap, fit_pitch
from worker.tts.synthesis.voice import VoiceState

log = logging.getLogger(__name__)

METHOD = "diffvc-ridge-mlpg-gv-v1"
PITCH_METHOD = "diffvc-ridge-mlpg-gv-f0-v1"  # the same with a pitch map
PENALTIES = (10.0, 100.0, 1000.0, 10000.0)
# For a reference too short to spare a held-out part (under 4·MIN_PART_S): the penalty the
# tuning speakers' held-out parts chose most often.
DEFAULT_PENALTY = 1000.0
HELD_OUT_FRACTION = 0.25
MAX_REFERENCE_S = 30.0  # more speech fits no better (3 000 frames for 121 inputs) and costs render time
MIN_PART_S = 3.0
MIN_REFERENCE_S = 4.0
MIN_FRAMES = 100  # speech frames (10 ms) on each side of a pair
STRENGTHS = (1.0, 0.5)
MAX_GV_SCALE = 2.0

# The guard's margins (probe renders with vs without the conversion):
MIN_SIMILARITY_GAIN = 0.01  # speaker-encoder cosine to the reference must rise by at least this
MAX_ERROR_RISE = 0.05  # fraction of the probes' and readings' text heard wrong (CER for zh, WER for en)
MAX_QUALITY_DROP = 0.1  # DNSMOS P.835 OVRL

Transcribe = Callable[[np.ndarray, int, str], str]  # audio, rate, language -> text
Quality = Callable[[np.ndarray, int], float]  # audio, rate -> DNSMOS OVRL
Embed = Callable[[np.ndarray, int], np.ndarray]


def conversion_reserve_s(reference_s: float) -> float:
    """What learning a conversion takes on two busy cores, so the style search leaves it that:
    transcribing and rendering the reference (up to ``MAX_REFERENCE_S``), its pitch analysis and the
    pitched renders, then the guard's probes and Whisper hearing the readings again, per strength."""
    return 15.0 + 2.0 * min(reference_s, MAX_REFERENCE_S)


def split_at_pause(audio: np.ndarray, sample_rate: int, fraction: float, window: float = 0.12,
                   frame_s: float = 0.05) -> int:
    """Sample index of the quietest 50 ms frame within ±window of ``fraction`` of the clip, so
    a cut there keeps words whole on both sides."""
    frame = int(frame_s * sample_rate)
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    lo, hi = max(int(n * (fraction - window)), 0), min(int(n * (fraction + window)), n)
    return (lo + int(np.argmin(rms[lo:hi]))) * frame + frame // 2


@dataclass(frozen=True)
class Pair:
    """One stretch of the reference and the clone reading its transcript, as speech-frame cepstra."""

    clone: np.ndarray  # (Tc, ORDER)
    speaker: np.ndarray  # (Ts, ORDER)


def align(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame index pairs of the DTW path between two cepstral sequences."""
    import librosa  # deferred: as in conversion.Analyzer

    _, path = librosa.sequence.dtw(X=source.T, Y=target.T, metric="euclidean", backtrack=True)
    path = path[::-1]
    return path[:, 0], path[:, 1]


def design(pairs: list[Pair], conversion: SpectralConversion | None) -> tuple[np.ndarray, np.ndarray]:
    """Regression inputs (clone frames in context) and outputs (speaker statics and deltas) on the
    DTW path; with a first conversion, the path is found between converted clone and speaker."""
    xs, ys = [], []
    for pair in pairs:
        guide = pair.clone if conversion is None else conversion.convert(pair.clone)
        i, j = align(guide, pair.speaker)
        xs.append(with_context(pair.clone)[i])
        ys.append(np.hstack([pair.speaker, deltas(pair.speaker)])[j])
    return np.vstack(xs), np.vstack(ys)


def _ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    regulariser = penalty * np.eye(x.shape[1])
    regulariser[-1, -1] = 0.0  # the bias is not shrunk
    return np.linalg.solve(x.T @ x + regulariser, x.T @ y)


def fit(pairs: list[Pair], penalty: float) -> SpectralConversion:
    """Ridge on the first alignment, again on the alignment the first conversion finds, then the
    MLPG variances and the global-variance stretch measured on the fitting data."""
    conversion: SpectralConversion | None = None
    for _ in range(2):
        x, y = design(pairs, conversion)
        weights = _ridge(x, y, penalty)
        residual = (y - x @ weights).var(axis=0) + 1e-6
        conversion = SpectralConversion(weights=weights, static_var=residual[:ORDER], delta_var=residual[ORDER:],
                                        gv_mean=np.zeros(ORDER), gv_scale=np.ones(ORDER))
    assert conversion is not None
    return stretched(conversion, pairs)


def stretched(conversion: SpectralConversion, pairs: list[Pair]) -> SpectralConversion:
    """The global-variance stretch: the converted fitting frames' spread widened per coefficient
    toward the speaker's (×1 … ``MAX_GV_SCALE``)."""
    converted = np.vstack([conversion.convert(p.clone) for p in pairs])
    speaker = np.vstack([p.speaker for p in pairs])
    scale = np.clip(np.sqrt(speaker.var(axis=0) / (converted.var(axis=0) + 1e-9)), 1.0, MAX_GV_SCALE)
    return replace(conversion, gv_mean=converted.mean(axis=0), gv_scale=scale)


def distance(converted: np.ndarray, pair: Pair) -> float:
    """Mean Euclidean distance between DTW-aligned cepstral frames: the held-out score of a mapping
    (in the units of ``Analyzer``'s cepstra, comparable only between mappings of one speaker)."""
    i, j = align(converted, pair.speaker)
    return float(np.mean(np.linalg.norm(converted[i] - pair.speaker[j], axis=1)))


def choose_penalty(train: list[Pair], held_out: Pair) -> tuple[float, dict[str, float]]:
    """The ridge penalty whose mapping (before the GV stretch) best predicts the held-out tail."""
    scores = {"unconverted": distance(held_out.clone, held_out)}
    for penalty in PENALTIES:
        mapping = replace(fit(train, penalty), gv_scale=np.ones(ORDER))
        scores[f"ridge_{penalty:g}"] = distance(mapping.convert(held_out.clone), held_out)
    best = min(PENALTIES, key=lambda p: scores[f"ridge_{p:g}"])
    return best, scores


@dataclass(frozen=True)
class Parallel:
    """The reference's speech (at most ``MAX_REFERENCE_S``) and the clone reading its transcript, part by part."""

    speech: np.ndarray
    pairs: list[Pair]
    renders: list[np.ndarray]
    texts: list[str]


@dataclass(frozen=True)
class ProbeScores:
    similarity: float
    error: float
    quality: float

    def as_dict(self) -> dict[str, float]:
        return {"similarity": round(self.similarity, 4), "error": round(self.error, 4),
                "dnsmos_ovrl": round(self.quality, 3)}


class ConversionLearner:
    """Everything enrollment needs to learn and judge a conversion, given once per process."""

    def __init__(self, synthesizer: Synthesizer, embed: Embed, transcribe: Transcribe, probe_renders: ProbeRenders,
                 quality: Quality, probes: dict[str, list[str]], denoise: bool = False, pitch: bool = True) -> None:
        self.synthesizer = synthesizer
        self.embed = embed
        self.transcribe = transcribe
        self.probe_renders = probe_renders  # the unconverted probes and their hearing, shared with the cloner
        self.quality = quality
        self.probes = probes
        self.denoise = denoise  # the reference's noise floor is subtracted before it is analysed
        self.pitch = pitch  # a pitch map is fitted and offered to the guard with the spectral conversion

    @property
    def analyzer(self) -> Analyzer:
        return self.synthesizer.analyzer

    def _pair(self, speech: np.ndarray, voice: VoiceState, language: str) -> tuple[Pair, np.ndarray, str] | None:
        sr = self.synthesizer.engine.sample_rate
        text = self.transcribe(speech, sr, language).strip()
        if not text:
            return None
        clone = self.synthesizer.render(text, voice).audio
        if clone.size < sr:
            return None
        mine, theirs = self.analyzer.analyze(clone), self.analyzer.analyze(speech, denoise=self.denoise)
        if min(mine.speech.sum(), theirs.speech.sum()) < MIN_FRAMES:
            return None
        return Pair(clone=mine.cepstra[mine.speech], speaker=theirs.cepstra[theirs.speech]), clone, text

    def parallel(self, reference: np.ndarray, voice: VoiceState, language: str) -> Parallel:
        """Fitting part first, then the held-out tail when the reference can spare one."""
        sr = self.synthesizer.engine.sample_rate
        speech = reference[: int(MAX_REFERENCE_S * sr)]
        if speech.size < MIN_REFERENCE_S * sr:
            raise ConversionSkipped(f"the reference is too short to learn a conversion from "
                                    f"({speech.size / sr:.1f} s; needs {MIN_REFERENCE_S:g} s)")
        parts = [speech]
        if speech.size >= MIN_PART_S / HELD_OUT_FRACTION * sr:
            cut = split_at_pause(speech, sr, 1.0 - HELD_OUT_FRACTION)
            parts = [speech[:cut], speech[cut:]]
        made = [self._pair(p, voice, language) for p in parts]
        if any(m is None for m in made):
            raise ConversionSkipped("the reference's transcript could not be rendered for a conversion")
        return Parallel(speech=speech, pairs=[m[0] for m in made if m], renders=[m[1] for m in made if m],
                        texts=[m[2] for m in made if m])

    def score(self, voice: VoiceState, probes: list[np.ndarray], texts: list[str], readings: list[np.ndarray],
              reading_texts: list[str], language: str) -> ProbeScores:
        """Similarity on the probes; Whisper's error on the probes and on the clone's readings of
        the reference's transcript together, weighted by their length (the probes alone are ~18
        English words, so one word misheard was an error rise of 0.056, past the margin); DNSMOS
        on all of it (it judges 9 s windows, longer than the probes)."""
        sr = self.synthesizer.engine.sample_rate
        similarity = float(np.mean([self.embed(r, sr) @ voice.embedding for r in probes]))
        heard = [*zip(probes, texts), *zip(readings, reading_texts)]
        lengths = [text_length(t, language) for _, t in heard]
        errors = [self.probe_renders.heard_wrong(a, sr, t, language) for a, t in heard]
        error = float(np.average(errors, weights=lengths)) if sum(lengths) else 0.0
        quality = self.quality(np.concatenate(probes + readings), sr)
        return ProbeScores(similarity, error, quality)

    def learn(self, reference: np.ndarray, voice: VoiceState, language: str,
              deadline: float | None = None) -> VoiceState:
        """The voice with a conversion when one is learned and passes the guard; the report of
        either outcome goes into the voice's metrics. After the first strength, another is tried
        only when the time the last one took still fits before ``deadline`` (``time.monotonic``)."""
        report, conversion = self.attempt(reference, voice, language, deadline)
        log.info("voice conversion: %s", report)
        metrics = {**voice.metrics, "conversion": report}
        if not report["kept"]:
            return replace(voice, metrics=metrics)
        return replace(voice, conversion=conversion, method=f"{voice.method}+{report['method']}", metrics=metrics)

    def attempt(self, reference: np.ndarray, voice: VoiceState, language: str,
                deadline: float | None = None) -> tuple[dict[str, Any], SpectralConversion | None]:
        """The guard's report and the conversion learned (``report["kept"]`` says whether it passed;
        a refused one is returned at full strength, for the bench to judge the guard)."""
        started = time.monotonic()
        try:
            report, conversion = self._learn(reference, voice, language, deadline)
        except ConversionSkipped as skipped:
            report, conversion = {"kept": False, "reason": str(skipped)}, None
        except (ValueError, np.linalg.LinAlgError) as exc:  # a degenerate fit: the voice stays as cloned
            log.warning("voice conversion failed: %s", exc)
            report, conversion = {"kept": False, "reason": f"the conversion could not be fitted: {exc}"}, None
        report["seconds"] = round(time.monotonic() - started, 1)
        return report, conversion

    def _learn(self, reference: np.ndarray, voice: VoiceState, language: str,
               deadline: float | None) -> tuple[dict[str, Any], SpectralConversion]:
        sr = self.synthesizer.engine.sample_rate
        parallel = self.parallel(reference, voice, language)
        pairs = parallel.pairs
        if len(pairs) > 1:
            penalty, held_out = choose_penalty(pairs[:1], pairs[1])
        else:
            penalty, held_out = DEFAULT_PENALTY, {}
        conversion = fit(pairs, penalty)
        pitch = fit_pitch(parallel.speech, np.concatenate(parallel.renders), sr) if self.pitch else None
        lang = probe_language(language)
        texts = self.probes[lang]
        plain = [self.probe_renders.render(voice.style, t) for t in texts]
        before = self.score(voice, plain, texts, parallel.renders, parallel.texts, lang)
        report: dict[str, Any] = {"method": METHOD, "penalty": penalty,
                                  "held_out_distance": {k: round(v, 3) for k, v in held_out.items()},
                                  "gv_scale_mean": round(float(conversion.gv_scale.mean()), 3),
                                  "pitch": pitch.to_dict() if pitch else None,
                                  "unconverted": before.as_dict(), "tried": []}
        last_s = 0.0
        for strength in STRENGTHS:
            began = time.monotonic()
            if report["tried"] and deadline is not None and began + last_s > deadline:
                report.update(kept=False, reason=f"refused by the guard; strength {strength:g} not tried: another "
                                                 f"{last_s:.0f} s would pass the enrollment's budget")
                return report, replace(conversion, pitch=pitch)
            candidate = replace(conversion, strength=strength)
            probes = [candidate.apply(a, self.analyzer) for a in plain]
            if pitch is not None:
                candidate, probes = self._with_pitch(voice, candidate, replace(pitch, strength=strength), texts, probes)
            readings = ([candidate.apply(r, self.analyzer) for r in parallel.renders] if candidate.pitch is None else
                        [self.synthesizer.render(t, replace(voice, conversion=candidate)).audio for t in parallel.texts])
            after = self.score(voice, probes, texts, readings, parallel.texts, lang)
            refusal = guard(before, after)
            report["tried"].append({"strength": strength, "pitch": candidate.pitch is not None,
                                    **after.as_dict(), "refused": refusal})
            last_s = time.monotonic() - began
            if refusal is None:
                report.update(kept=True, strength=strength,
                              method=PITCH_METHOD if candidate.pitch is not None else METHOD)
                return report, candidate
        report.update(kept=False, reason="every strength was refused by the guard")
        return report, replace(conversion, pitch=pitch)

    def _with_pitch(self, voice: VoiceState, spectral: SpectralConversion, pitch: PitchMap, texts: list[str],
                    spectral_probes: list[np.ndarray]) -> tuple[SpectralConversion, list[np.ndarray]]:
        """The candidate with the pitch map when the speaker encoder finds its probes more like the
        reference than the spectral conversion's alone (a pitch estimate can be wrong: an octave,
        a monotone reference); otherwise the spectral one, unchanged."""
        sr = self.synthesizer.engine.sample_rate
        pitched = replace(spectral, pitch=pitch)
        probes = [self.synthesizer.render(t, replace(voice, conversion=pitched)).audio for t in texts]

        def similarity(audio: list[np.ndarray]) -> float:
            return float(np.mean([self.embed(a, sr) @ voice.embedding for a in audio]))

        if similarity(probes) > similarity(spectral_probes):
            return pitched, probes
        return spectral, spectral_probes


def text_length(text: str, language: str) -> int:
    """What the error rate of ``text`` is a fraction of: characters for Chinese (not punctuation),
    words for English."""
    return sum(ch.isalnum() for ch in text) if language == "zh" else len(text.split())


class ConversionSkipped(Exception):
    """No conversion can be learned from this reference (too short, nothing transcribed)."""


def guard(before: ProbeScores, after: ProbeScores) -> str | None:
    """Why a conversion must not be kept, or None when it sounds more like the speaker and no worse."""
    if after.similarity < before.similarity + MIN_SIMILARITY_GAIN:
        return f"similarity {before.similarity:.3f} -> {after.similarity:.3f} (needs +{MIN_SIMILARITY_GAIN})"
    if after.error > before.error + MAX_ERROR_RISE:
        return f"probe error {before.error:.3f} -> {after.error:.3f} (at most +{MAX_ERROR_RISE})"
    if after.quality < before.quality - MAX_QUALITY_DROP:
        return f"DNSMOS OVRL {before.quality:.2f} -> {after.quality:.2f} (at most -{MAX_QUALITY_DROP})"
    return None
