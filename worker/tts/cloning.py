"""Enrollment: a cleaned reference recording → a voice state in Kokoro's style space.

No cloning weights ship in any registry package, so narrator clones inside the style
space of the 54 stock Kokoro voices: each stock voice gets a speaker embedding once
(the voice bank, cached per engine version), the reference is embedded, and candidate
style tables — the nearest stock voice and similarity-weighted blends of the nearest
few — are rendered on probe sentences and scored against the reference. The best
candidate becomes the voice. It is an approximate match whose ceiling is the span
of the stock voices; the README reports how close it gets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.tts import assets
from worker.tts.pipeline import Synthesizer
from worker.tts.speaker import SpeakerEncoder
from worker.tts.voice import VoiceState

log = logging.getLogger(__name__)

PROBES = {
    "zh": ["今天我们来介绍一款新产品，它的设计简洁，使用起来非常方便。", "感谢您的耐心等待，我们马上为您发货。"],
    "en": ["Today we introduce a new product. It is light, simple and easy to use.",
           "Thank you for waiting, your order ships tomorrow morning."],
}
METHOD = "style-blend-search-v1"


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
    def load_or_build(cls, cache: Path, synthesizer: Synthesizer, encoder: SpeakerEncoder) -> "VoiceBank":
        names = assets.list_voice_names(cache)
        styles = np.stack([assets.load_voice_pack(cache, n) for n in names])
        path = cache / f"voice-bank-{synthesizer.engine.version}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as npz:
                if list(npz["names"]) == names:
                    return cls(names=names, styles=styles, embeddings=npz["embeddings"])
        log.info("building the voice bank (%d stock voices, once per engine version)", len(names))
        embeddings = np.stack([
            _embed_render(synthesizer, encoder, style, PROBES["zh" if name.startswith("z") else "en"][0])
            for name, style in zip(names, styles)
        ])
        bank = cls(names=names, styles=styles, embeddings=embeddings)
        bank.save(path)
        return bank


def _embed_render(synthesizer: Synthesizer, encoder: SpeakerEncoder, style: np.ndarray, text: str) -> np.ndarray:
    state = VoiceState(style=style, embedding=np.zeros(256, np.float32), language="", method="probe",
                       engine_version=synthesizer.engine.version)
    rendered = synthesizer.render(text, state)
    return encoder.embed(rendered.audio, rendered.sample_rate)


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


class Cloner:
    def __init__(self, synthesizer: Synthesizer, encoder: SpeakerEncoder, bank: VoiceBank) -> None:
        self.synthesizer = synthesizer
        self.encoder = encoder
        self.bank = bank

    def enroll(self, reference: np.ndarray, sample_rate: int, language: str) -> VoiceState:
        started = time.monotonic()
        target = self.encoder.embed(reference, sample_rate)
        similarity = self.bank.embeddings @ target
        probes = PROBES[probe_language(language)]
        best: tuple[float, str, np.ndarray] | None = None
        for label, style in _candidates(self.bank, similarity):
            score = float(np.mean([_embed_render(self.synthesizer, self.encoder, style, p) @ target for p in probes]))
            if best is None or score > best[0]:
                best = (score, label, style)
        assert best is not None  # _candidates always yields the nearest stock voice
        score, label, style = best
        metrics = {
            "similarity": round(score, 4),
            "best_stock_voice": self.bank.names[int(np.argmax(similarity))],
            "best_stock_similarity": round(float(similarity.max()), 4),
            "chosen": label,
            "enroll_seconds": round(time.monotonic() - started, 2),
        }
        log.info("enrolled voice: %s", metrics)
        return VoiceState(style=style, embedding=target, language=language, method=METHOD,
                          engine_version=self.synthesizer.engine.version, metrics=metrics)
