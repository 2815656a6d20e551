"""The per-process model cache: every model is loaded once, on first use, and reused.

A worker process owns exactly one ``ModelCache``; tasks receive it through the worker
context instead of reaching for module globals.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from shared.settings import Settings
from worker.tts import assets
from worker.tts.cloning import Cloner, VoiceBank
from worker.tts.engine import KokoroEngine
from worker.tts.frontend import Frontend
from worker.tts.pipeline import Synthesizer
from worker.tts.speaker import SpeakerEncoder
from worker.tts.voice import VoiceState


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
        return SpeakerEncoder()

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
