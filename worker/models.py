"""The per-process model cache: every model is loaded once, on first use, and reused.

A worker process owns exactly one ``ModelCache``; tasks receive it through the worker
context instead of reaching for module globals.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path

from shared.settings import Settings
from worker.tts import assets
from worker.tts.asr import Transcriber
from worker.tts.cloning import Cloner, VoiceBank
from worker.tts.engine import KokoroEngine
from worker.tts.frontend import Frontend
from worker.tts.pipeline import Synthesizer
from worker.tts.quality import GateConfig, QualityGate
from worker.tts.speaker import SpeakerEncoder
from worker.tts.voice import VoiceState

SIMILARITY_MARGIN = 0.10


class ModelCache:
    def __init__(self, settings: Settings, max_voices: int = 32) -> None:
        self.settings = settings
        self.cache_dir: Path = settings.model_cache
        self._lock = threading.Lock()
        self._voices: OrderedDict[str, VoiceState] = OrderedDict()
        self._max_voices = max_voices

    @cached_property
    def engine(self) -> KokoroEngine:
        return KokoroEngine(
            assets.kokoro_model_path(),
            assets.kokoro_vocab(),
            version=f"kokoro-v1.0-int8-{assets.kokoro_model_sha256()[:8]}",
            threads=self.settings.synth_threads,
        )

    @cached_property
    def frontend(self) -> Frontend:
        return Frontend()

    @cached_property
    def synthesizer(self) -> Synthesizer:
        return Synthesizer(self.frontend, self.engine)

    @cached_property
    def encoder(self) -> SpeakerEncoder:
        import torch

        # Embeddings are tiny; more torch threads only fight onnxruntime's for the same cores.
        torch.set_num_threads(1)
        return SpeakerEncoder()

    @cached_property
    def transcriber(self) -> Transcriber:
        return Transcriber(self.cache_dir, threads=self.settings.synth_threads)

    def gate(self, voice: VoiceState) -> QualityGate:
        """The quality gate, with the speaker bar set by what this voice reached at enrollment.

        A clone is an approximation: a render cannot be expected to sound more like the
        reference than the enrolled voice itself did, so the bar is that figure minus a
        margin (never above the gate's default).
        """
        config = GateConfig(attempts=self.settings.gate_attempts)
        enrolled = voice.metrics.get("similarity")
        if isinstance(enrolled, (int, float)):
            config = replace(config, min_similarity=min(config.min_similarity, float(enrolled) - SIMILARITY_MARGIN),
                             min_window_similarity=min(config.min_window_similarity,
                                                       float(enrolled) - 2 * SIMILARITY_MARGIN))
        return QualityGate(self.transcriber, self.encoder, config)

    @cached_property
    def bank(self) -> VoiceBank:
        return VoiceBank.load_or_build(self.cache_dir, self.synthesizer, self.encoder)

    @cached_property
    def cloner(self) -> Cloner:
        return Cloner(self.synthesizer, self.encoder, self.bank)

    def voice(self, version_id: str, load: Callable[[], bytes]) -> VoiceState:
        """A voice version's state, kept in a small LRU: versions are immutable, so never stale."""
        with self._lock:
            if version_id in self._voices:
                self._voices.move_to_end(version_id)
                return self._voices[version_id]
        state = VoiceState.from_bytes(load())
        with self._lock:
            self._voices[version_id] = state
            while len(self._voices) > self._max_voices:
                self._voices.popitem(last=False)
        return state
