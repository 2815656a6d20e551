"""Enrollment: a cleaned reference recording → a voice state in Kokoro's style space.

No cloning weights ship in any registry package, so narrator clones inside the style
space of the 54 stock Kokoro voices: each stock voice gets a speaker embedding once
(the voice bank, cached per engine version), the reference is embedded, and candidate
style tables — the nearest stock voice and similarity-weighted blends of the nearest
few — are rendered on probe sentences and scored against the reference. The best
candidate becomes the voice. It is an approximate match whose ceiling is the span
of the stock voices; the README reports how close it gets.

Closest is not enough: a stock voice of another language can sound most like a
reference and still speak its language badly (a real Chinese speaker cloned as the
Japanese pack jf_tebukuro was heard 塌塌 for 他把). With a listener (Whisper), the
closest candidate's probe renders are transcribed, and one heard with more than
``MAX_PROBE_ERROR`` of the probe text wrong gives way to the next closest (the closest
of all is kept when every candidate is heard wrong). Usually the first one passes, so
this costs two transcriptions.

Kokoro's style vector has two halves: the first 128 numbers steer the decoder (timbre), the
last 128 the prosody predictor (durations and pitch). Blends move both together, so a clone of
a Chinese speaker stays within the few Chinese packs' timbres. After the blends, the closest
candidate's decoder half is swapped for each of the nearest stock voices' (any language), its
prosody half kept; such a candidate replaces the blends only when it scores ``TIMBRE_MARGIN``
above them, since a small gain of the best of eight is mostly probe-specific luck.

Every later step of enrollment renders and hears probes too (the style search, its listening
check, the conversion guard's "before"); ``ProbeRenders`` makes each render and each hearing
once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path
from types import MappingProxyType

import numpy as np

from worker.lru import Lru
from worker.tts.checks.asr import Transcriber
from worker.tts.checks.scoring import heard_error_rate
from worker.tts.checks.speaker import SpeakerEncoder
from worker.tts.synthesis import assets
from worker.tts.synthesis.pipeline import Synthesizer
from worker.tts.synthesis.voice import VoiceState

log = logging.getLogger(__name__)

PROBES = MappingProxyType({
    "zh": ["今天我们来介绍一款新产品，它的设计简洁，使用起来非常方便。", "感谢您的耐心等待，我们马上为您发货。"],
    "en": ["Today we introduce a new product. It is light, simple and easy to use.",
           "Thank you for waiting, your order ships tomorrow morning."],
})
METHOD = "style-blend-search-v2"
DECODER_DIMS = 128  # style[:, :128] feeds Kokoro's decoder, style[:, 128:] its prosody predictor
TIMBRE_VOICES = 8  # nearest stock voices whose decoder half is tried
# A decoder swap must beat the best blend's probe score by this much. Chosen on tuning set A
# (bench/conversion.py): the two swaps that gained 0.011 and 0.027 gained 0.02 and 0.13 by CAM++;
# gains of 0.001-0.003 went either way there (one cost 0.16).
TIMBRE_MARGIN = 0.01
# Probe text heard wrong (syllables for Chinese, words for English) above which a
# candidate voice is not chosen while an intelligible one exists; stock voices in their
# own language score 0-0.05 on the probes.
MAX_PROBE_ERROR = 0.15

# (audio, sample rate, text, language) -> the fraction of the text heard wrong
Listener = Callable[[np.ndarray, int, str, str], float]


def probe_language(language: str) -> str:
    return "zh" if language.startswith("zh") else "en"


@dataclass(frozen=True)
class VoiceBank:
    """Stock voices with their speaker embeddings: the space enrollment searches."""

    names: list[str]
    styles: np.ndarray  # (n, 510, 256)
    embeddings: np.ndarray  # (n, 256), unit-norm

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, names=np.array(self.names), embeddings=self.embeddings)
        tmp.replace(path)

    @classmethod
    def load_or_build(cls, cache: Path, synthesizer: Synthesizer, encoder: SpeakerEncoder) -> VoiceBank:
        names = assets.list_voice_names(cache)
        styles = np.stack([assets.load_voice_pack(cache, n) for n in names])
        path = cache / f"voice-bank-{synthesizer.engine.version}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as npz:
                if list(npz["names"]) == names:
                    return cls(names=names, styles=styles, embeddings=npz["embeddings"])
        log.info("building the voice bank (%d stock voices, once per engine version)", len(names))
        embeddings = np.stack([
            embed_render(synthesizer, encoder, style, PROBES["zh" if name.startswith("z") else "en"][0])
            for name, style in zip(names, styles)
        ])
        bank = cls(names=names, styles=styles, embeddings=embeddings)
        bank.save(path)
        return bank


def _render(synthesizer: Synthesizer, style: np.ndarray, text: str) -> np.ndarray:
    state = VoiceState(style=style, embedding=np.zeros(256, np.float32), language="", method="probe",
                       engine_version=synthesizer.engine.version)
    return synthesizer.render(text, state).audio


def embed_render(synthesizer: Synthesizer, encoder: SpeakerEncoder, style: np.ndarray, text: str) -> np.ndarray:
    return encoder.embed(_render(synthesizer, style, text), synthesizer.engine.sample_rate)


def whisper_listener(transcriber: Transcriber) -> Listener:
    """How much of a probe Whisper hears wrong: the quality gate's own measures."""
    def heard_wrong(audio: np.ndarray, sample_rate: int, text: str, language: str) -> float:
        return heard_error_rate(text, transcriber.transcribe(audio, sample_rate, language=language).text, language)

    return heard_wrong


def _digest(*parts: np.ndarray | str) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.tobytes() if isinstance(part, np.ndarray) else part.encode()
        h.update(len(data).to_bytes(8, "little") + data)
    return h.digest()


class ProbeRenders:
    """Probe renders and what the listener heard in them, each made once.

    One enrollment renders the chosen style's probes up to three times and has Whisper hear
    them twice: the blend search renders every candidate's, the listening check hears the
    closest one's, the style search's check renders its result again, and the conversion guard
    renders and hears the unconverted voice's as its "before" (about 6 s of a 45 s conversion on
    two cores). A render depends only on the style and the text (Kokoro's ONNX renders are
    deterministic), a hearing only on the audio and the text, so each is kept by a digest of
    those: the last ``size`` renders (about 0.3 MB each)."""

    def __init__(self, synthesizer: Synthesizer, listener: Listener | None = None, size: int = 32) -> None:
        self.synthesizer = synthesizer
        self.listener = listener
        self._renders: Lru[bytes, np.ndarray] = Lru(size)
        self._heard: Lru[bytes, float] = Lru(4 * size)

    def render(self, style: np.ndarray, text: str) -> np.ndarray:
        """The probe's audio, read-only: every caller shares the one array."""
        def make() -> np.ndarray:
            audio = _render(self.synthesizer, style, text)
            audio.setflags(write=False)
            return audio

        return self._renders.get(_digest(style, text), make)

    def heard_wrong(self, audio: np.ndarray, sample_rate: int, text: str, language: str) -> float:
        """The listener's error on ``audio`` (0.0 without a listener)."""
        listener = self.listener
        if listener is None:
            return 0.0
        return self._heard.get(_digest(audio, str(sample_rate), text, language),
                               lambda: listener(audio, sample_rate, text, language))


def _candidates(bank: VoiceBank, similarity: np.ndarray) -> list[tuple[str, np.ndarray]]:
    order = np.argsort(-similarity)
    out: list[tuple[str, np.ndarray]] = [(f"stock:{bank.names[order[0]]}", bank.styles[order[0]])]
    for k in (2, 3):
        for temperature in (0.02, 0.05):
            top = order[:k]
            weights = np.exp((similarity[top] - similarity[top].max()) / temperature)
            weights /= weights.sum()
            blend = np.tensordot(weights, bank.styles[top], axes=1).astype(np.float32)
            label = "+".join(f"{bank.names[i]}:{w:.2f}" for i, w in zip(top, weights))
            out.append((f"blend:{label}", blend))
    return out


def decoder_swaps(bank: VoiceBank, similarity: np.ndarray, label: str,
                  style: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``style`` with its decoder half taken from each of the nearest stock voices."""
    out = []
    for i in np.argsort(-similarity)[:TIMBRE_VOICES]:
        swapped = style.copy()
        swapped[:, :DECODER_DIMS] = bank.styles[i][:, :DECODER_DIMS]
        if not np.array_equal(swapped, style):
            out.append((f"{label}|decoder:{bank.names[i]}", swapped))
    return out


class Cloner:
    def __init__(self, synthesizer: Synthesizer, encoder: SpeakerEncoder, bank: VoiceBank,
                 listener: Listener | None = None) -> None:
        self.synthesizer = synthesizer
        self.encoder = encoder
        self.bank = bank
        self.probes = ProbeRenders(synthesizer, listener)

    def probe_error(self, style: np.ndarray, language: str) -> float:
        """Mean fraction of the probe texts heard wrong (0.0 without a listener)."""
        if self.probes.listener is None:
            return 0.0
        lang = probe_language(language)
        sr = self.synthesizer.engine.sample_rate
        return float(np.mean([self.probes.heard_wrong(self.probes.render(style, t), sr, t, lang)
                              for t in PROBES[lang]]))

    def probe_similarity(self, style: np.ndarray, target: np.ndarray, language: str) -> float:
        """The enrollment score: mean speaker-encoder cosine of the probe renders to ``target``."""
        sr = self.synthesizer.engine.sample_rate
        return float(np.mean([self.encoder.embed(self.probes.render(style, t), sr) @ target
                              for t in PROBES[probe_language(language)]]))

    def _scored(self, candidates: Iterable[tuple[str, np.ndarray]], target: np.ndarray,
                language: str) -> list[tuple[float, str, np.ndarray]]:
        """Candidates with their probe similarity, closest first."""
        return sorted(((self.probe_similarity(style, target, language), label, style) for label, style in candidates),
                      key=lambda c: -c[0])

    def enroll(self, reference: np.ndarray, sample_rate: int, language: str,
               deadline: float = math.inf) -> VoiceState:
        """The closest candidate heard right; decoder swaps are scored only until ``deadline``
        (``time.monotonic()``), so a slow machine tries fewer rather than enrolling longer."""
        started = time.monotonic()
        target = self.encoder.embed(reference, sample_rate)
        similarity = self.bank.embeddings @ target
        scored = self._scored(_candidates(self.bank, similarity), target, language)
        bar = scored[0][0] + TIMBRE_MARGIN
        swaps = takewhile(lambda _: time.monotonic() < deadline,
                          decoder_swaps(self.bank, similarity, *scored[0][1:]))
        scored = [c for c in self._scored(swaps, target, language) if c[0] >= bar] + scored  # all above the blends
        passed_over: list[str] = []
        errors: list[float] = []
        for score, label, style in scored:  # the closest candidate that is heard right
            errors.append(self.probe_error(style, language))
            if errors[-1] <= MAX_PROBE_ERROR:
                break
            passed_over.append(label)
        else:  # every candidate heard wrong: the closest of all
            score, label, style = scored[0]
            errors.append(errors[0])
            passed_over = []
        error = errors[-1]
        metrics = {
            "similarity": round(score, 4),
            "probe_error": round(error, 4),
            "passed_over": passed_over,  # closer candidates whose probes were heard wrong
            "best_stock_voice": self.bank.names[int(np.argmax(similarity))],
            "best_stock_similarity": round(float(similarity.max()), 4),
            "chosen": label,
            "enroll_seconds": round(time.monotonic() - started, 2),
        }
        log.info("enrolled voice: %s", metrics)
        return VoiceState(style=style, embedding=target, language=language, method=METHOD,
                          engine_version=self.synthesizer.engine.version, metrics=metrics)
