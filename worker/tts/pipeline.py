"""Text → audio: frontend, engine, and the joins between sentences.

The pipeline owns everything language-specific around the engine: normalization and
G2P (the frontend), chunking at sentence boundaries, trimming each chunk's edge
silence and joining chunks with a short pause and crossfade so long texts sound
continuous.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from worker.tts.engine import Engine
from worker.tts.frontend import Analysis, Frontend
from worker.tts.voice import VoiceState


@dataclass(frozen=True)
class SynthesisConfig:
    """Per-request knobs; ``None`` never means anything hidden: defaults are here."""

    speed: float = 1.0
    sentence_pause_s: float = 0.22
    fade_ms: float = 8.0

    def __post_init__(self) -> None:
        if not 0.5 <= self.speed <= 2.0:
            raise ValueError("speed must be between 0.5 and 2.0")
        if not 0.0 <= self.sentence_pause_s <= 2.0:
            raise ValueError("sentence_pause_s must be between 0 and 2 seconds")

    def to_dict(self) -> dict[str, float]:
        return {"speed": self.speed, "sentence_pause_s": self.sentence_pause_s}


@dataclass(frozen=True)
class AudioChunk:
    sentence: str
    phonemes: str
    audio: np.ndarray


@dataclass(frozen=True)
class Rendered:
    audio: np.ndarray
    sample_rate: int
    analysis: Analysis

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


def trim_silence(audio: np.ndarray, sample_rate: int, threshold: float = 0.008, pad_s: float = 0.04) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        return audio[:0]
    pad = int(pad_s * sample_rate)
    return audio[max(0, loud[0] - pad) : loud[-1] + pad]


def limit_peak(audio: np.ndarray, ceiling: float = 0.95) -> np.ndarray:
    """Kokoro's output can exceed full scale; scale it down rather than let the WAV clip."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio * (ceiling / peak) if peak > ceiling else audio


def _fade(audio: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(audio) // 2)
    if n <= 0:
        return audio
    out = audio.copy()
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out[:n] *= ramp
    out[-n:] *= ramp[::-1]
    return out


class Synthesizer:
    """One frontend and one engine, shared by every request in a worker process."""

    def __init__(self, frontend: Frontend, engine: Engine) -> None:
        self.frontend = frontend
        self.engine = engine

    def stream(
        self, text: str, voice: VoiceState, config: SynthesisConfig = SynthesisConfig()
    ) -> Iterator[AudioChunk]:
        """Yield one chunk per sentence, as soon as it is rendered (first audio early)."""
        analysis = self.frontend.analyze(text)
        yield from self._stream_analysis(analysis, voice, config)

    def _stream_analysis(self, analysis: Analysis, voice: VoiceState, config: SynthesisConfig) -> Iterator[AudioChunk]:
        sr = self.engine.sample_rate
        for sentence in analysis.sentences:
            phonemes = sentence.phonemes
            if not self.engine.tokenize(phonemes):
                continue
            raw = self.engine.synthesize(phonemes, voice.style, config.speed)
            audio = _fade(trim_silence(raw, sr), int(config.fade_ms * sr / 1000))
            if audio.size:
                yield AudioChunk(sentence=sentence.text, phonemes=phonemes, audio=audio)

    def render(self, text: str, voice: VoiceState, config: SynthesisConfig = SynthesisConfig()) -> Rendered:
        return self.render_analysis(self.frontend.analyze(text), voice, config)

    def render_analysis(self, analysis: Analysis, voice: VoiceState, config: SynthesisConfig) -> Rendered:
        """Render text the caller already analyzed (it needed the analysis, e.g. for a cache key)."""
        sr = self.engine.sample_rate
        gap = np.zeros(int(config.sentence_pause_s * sr), np.float32)
        parts: list[np.ndarray] = []
        for chunk in self._stream_analysis(analysis, voice, config):
            if parts:
                parts.append(gap)
            parts.append(chunk.audio)
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return Rendered(audio=limit_peak(audio), sample_rate=sr, analysis=analysis)
