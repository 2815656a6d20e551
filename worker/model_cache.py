"""The per-process model cache: every model is loaded once, on first use, and reused.

A worker process owns exactly one ``ModelCache``; tasks receive it through the worker
context instead of reaching for module globals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shared.pronunciation.lexicon import Lexicon
from shared.settings import Settings
from worker import stock_voices
from worker.devices import DevicePlan, plan_devices
from worker.lru import Lru
from worker.tts.checks.dnsmos import Dnsmos
from worker.tts.checks.speaker import SpeakerEncoder
from worker.tts.synthesis.engine import Engine, load_engine
from worker.tts.synthesis.pipeline import Synthesizer
from worker.tts.synthesis.voice import VoiceState
from worker.tts.text.analysis import CompiledLexicon
from worker.tts.text.frontend import Frontend

if TYPE_CHECKING:
    # Loaded with their first use, so a process that only renders (narrator say) never imports
    # them: Whisper and its scoring (pypinyin's tables), the gate, enrollment, the conversion's
    # fitting (scipy, librosa), and the torch-backed polyphone model (only for a tenant's adapter).
    from worker.tts.checks.asr import Transcriber
    from worker.tts.checks.quality import QualityGate
    from worker.tts.cloning.conversion_fit import ConversionLearner
    from worker.tts.cloning.enroll import Cloner, VoiceBank
    from worker.tts.text.polyphone_model import PolyphoneModel

log = logging.getLogger(__name__)
SIMILARITY_MARGIN = 0.10


class ModelCache:
    def __init__(self, settings: Settings, max_voices: int = 32, max_lexicons: int = 64,
                 devices: DevicePlan | None = None) -> None:
        self.settings = settings
        # Where each model family runs (worker.devices); the worker plans it once at start.
        self.devices = devices or plan_devices(settings.device)
        self.cache_dir: Path = settings.model_cache
        self._voices: Lru[str, VoiceState] = Lru(max_voices)
        self._lexicons: Lru[tuple[str, str, int], CompiledLexicon] = Lru(max_lexicons)
        self._adapters: Lru[str, Frontend] = Lru(max_lexicons)
        self._stock: Lru[tuple[str, bool], VoiceState] = Lru(max_voices)

    @cached_property
    def engine(self) -> Engine:
        engine = load_engine(self.settings, self.devices.engine)
        log.info("synthesis engine %s loaded on %s", engine.version, self.devices.engine)
        return engine

    @cached_property
    def frontend(self) -> Frontend:
        return Frontend(cache_dir=self.cache_dir)

    @cached_property
    def synthesizer(self) -> Synthesizer:
        return Synthesizer(self.frontend, self.engine, side_by_side=self.settings.render_side_by_side)

    @cached_property
    def encoder(self) -> SpeakerEncoder:
        import torch  # deferred: torch costs seconds to import and only the speaker encoder and fine-tuning need it

        # Embeddings are tiny; more torch threads only fight onnxruntime's for the same cores.
        torch.set_num_threads(1)
        log.info("speaker encoder loaded on %s", self.devices.torch)
        return SpeakerEncoder(device=self.devices.torch)

    @cached_property
    def transcriber(self) -> Transcriber:
        from worker.tts.checks.asr import Transcriber  # deferred: see TYPE_CHECKING

        log.info("speech recognition (Whisper) loaded on %s", self.devices.asr)
        return Transcriber(self.cache_dir, threads=self.settings.synth_threads, device=self.devices.asr)

    def gate(self, voice: VoiceState) -> QualityGate:
        """The quality gate, with the speaker bar set by what this voice reached at enrollment.

        A clone is an approximation: a render cannot be expected to sound more like the
        reference than the enrolled voice itself did, so the bar is that figure minus a
        margin (never above the gate's default).
        """
        from worker.tts.checks.quality import GateConfig, QualityGate  # deferred: see TYPE_CHECKING

        config = GateConfig(attempts=self.settings.gate_attempts)
        enrolled = voice.metrics.get("similarity")
        if isinstance(enrolled, (int, float)):
            config = replace(config, min_similarity=min(config.min_similarity, float(enrolled) - SIMILARITY_MARGIN),
                             min_window_similarity=min(config.min_window_similarity,
                                                       float(enrolled) - 2 * SIMILARITY_MARGIN))
        return QualityGate(self.transcriber, self.encoder, config)

    @cached_property
    def bank(self) -> VoiceBank:
        from worker.tts.cloning.enroll import VoiceBank  # deferred: see TYPE_CHECKING

        return VoiceBank.load_or_build(self.cache_dir, self.synthesizer, self.encoder)

    @cached_property
    def cloner(self) -> Cloner:
        from worker.tts.cloning.enroll import Cloner, whisper_listener  # deferred: see TYPE_CHECKING

        return Cloner(self.synthesizer, self.encoder, self.bank, whisper_listener(self.transcriber))

    @cached_property
    def dnsmos(self) -> Dnsmos:
        return Dnsmos()

    @cached_property
    def conversion_learner(self) -> ConversionLearner:
        from worker.tts.cloning.conversion_fit import ConversionLearner  # deferred: see TYPE_CHECKING
        from worker.tts.cloning.enroll import PROBES  # deferred: see TYPE_CHECKING

        def transcribe(audio: np.ndarray, sample_rate: int, language: str) -> str:
            return self.transcriber.transcribe(audio, sample_rate, language=language).text

        return ConversionLearner(self.synthesizer, self.encoder.embed, transcribe, self.cloner.probes,
                                 self.dnsmos.overall, dict(PROBES))

    def enroll(self, reference: np.ndarray, sample_rate: int, language: str) -> VoiceState:
        """Clone a voice within ``Settings.enroll_budget_seconds``: ``clone``, then, with
        ``voice_conversion``, the spectral conversion, which tries a weaker strength only while
        that fits the budget."""
        voice, deadline = self.clone(reference, sample_rate, language)
        if not self.converts(sample_rate):
            reason = ("turned off" if not self.settings.voice_conversion
                      else f"the reference is at {sample_rate} Hz, not the engine's {self.engine.sample_rate} Hz")
            return replace(voice, metrics={**voice.metrics, "conversion": {"kept": False, "reason": reason}})
        return self.conversion_learner.learn(reference, voice, language, deadline)

    def converts(self, sample_rate: int) -> bool:
        """Whether enrollment learns a conversion: the filter is fitted on the engine's own rate, so a
        reference at another rate gets none (and ``clone`` reserves it no time)."""
        return self.settings.voice_conversion and sample_rate == self.engine.sample_rate

    def clone(self, reference: np.ndarray, sample_rate: int, language: str,
              cloner: Cloner | None = None) -> tuple[VoiceState, float]:
        """The voice before any conversion, and the deadline (``time.monotonic``) enrollment has left:
        the blend search of the stock voices, then the style search with whatever time that left
        (a busy machine gets a shorter search, not a longer enrollment) less what the conversion
        will take (about ``conversion_reserve_s``). The style search keeps its result only when it
        beats the blend clearly (``SearchConfig.min_gain``). Separate from ``enroll``, with
        ``cloner`` to pass one over another bank, so the conversion bench learns on the clone the
        service would make."""
        from worker.tts.cloning.style_search import enroll_refined  # deferred: see TYPE_CHECKING

        budget = self.settings.enroll_budget_seconds
        deadline = time.monotonic() + budget
        if self.converts(sample_rate):
            from worker.tts.cloning.conversion_fit import conversion_reserve_s  # deferred: see TYPE_CHECKING

            budget -= conversion_reserve_s(reference.size / sample_rate)
        cloner = cloner or self.cloner
        if budget <= 0:
            return cloner.enroll(reference, sample_rate, language), deadline
        return enroll_refined(cloner, reference, sample_rate, language, total_budget_s=budget), deadline

    @cached_property
    def polyphone_model(self) -> PolyphoneModel:
        import torch  # deferred: torch loads only when a tenant has an adapter

        # deferred: torch-backed, loaded only for adapters
        from worker.tts.text.polyphone_model import PolyphoneModel

        torch.set_num_threads(1)  # a tiny model: more threads only fight the engine's for the cores
        return PolyphoneModel.bundled()

    def lexicon(self, tenant_id: str, voice_id: str, version: int, load: Callable[[], Lexicon]) -> CompiledLexicon:
        """The lexicon a render of ``voice_id`` applies at ``version``, compiled once; versions
        never change, so a cached one is never stale."""
        return self._lexicons.get((tenant_id, voice_id, version), lambda: self.frontend.compile(load()))

    def voice(self, version_id: str, load: Callable[[], bytes]) -> VoiceState:
        """A voice version's state; versions are immutable, so a cached one is never stale."""
        return self._voices.get(version_id, lambda: VoiceState.from_bytes(load()))

    def stock_voice(self, pack: str, gated: bool = True) -> VoiceState:
        """A stock pack's state (``shared.stock_voices``); ``gated`` adds the speaker embedding
        the quality gate compares renders against (one probe render and the encoder, once)."""
        return self._stock.get((pack, gated), lambda: (stock_voices.stock_state(self, pack) if gated
                                                       else stock_voices.pack_state(self, pack)))

    def adapted_frontend(self, run_id: str, version: int, chars: frozenset[str],
                         load: Callable[[], bytes]) -> Frontend:
        """The frontend reading ``chars`` with a promoted adapter (one per fine-tune run)."""
        # deferred: torch-backed, loaded only for adapters
        from worker.tts.text.polyphone_lora import with_adapter
        from worker.tts.text.polyphone_model import LearnedPolyphones  # deferred: torch-backed, as above

        def build() -> Frontend:
            learned = LearnedPolyphones(with_adapter(self.polyphone_model, load()), chars, version)
            return self.frontend.with_learned(learned)

        return self._adapters.get(run_id, build)
