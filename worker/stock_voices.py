"""Voice states made from the engine's stock voice packs: the states the worker renders a
tenant's stock voice with (``shared.stock_voices``, no consent), and, for tests and
benchmarks about rendering rather than cloning, consented rows that stand in for an enrollment.

``install`` stands in for what an enrollment leaves behind — a verified consent, a ready voice and
its first version — so a batch can be rendered without a minute of enrollment first.
Synthesis still checks that consent on every item, exactly as for an enrolled voice.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from shared import stock_voices as stock
from shared import storage_keys
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import Engine
from worker.tts.synthesis.voice import VoiceState

if TYPE_CHECKING:  # the pipeline (and the frontend it imports) loads where renders are made; the database
    # layer and the speaker encoder where a state is installed or gated, not to render a stock pack
    from sqlalchemy.orm import Session

    from shared.storage import Storage
    from worker.tts.checks.speaker import SpeakerEncoder
    from worker.tts.synthesis.pipeline import Synthesizer

PROBE = "今天天气很好，我们一起去公园散步吧。"
PROBES = {"zh": PROBE, "en": "The weather is lovely today, so we are going for a walk in the park."}


class StockModels(Protocol):
    """What a stock state is made with: the model cache (``worker.model_cache.ModelCache``),
    which in turn caches the states made here."""

    cache_dir: Path

    @property
    def engine(self) -> Engine: ...

    @property
    def synthesizer(self) -> Synthesizer: ...

    @property
    def encoder(self) -> SpeakerEncoder: ...


def pack_state(models: StockModels, pack: str) -> VoiceState:
    """A stock pack as a voice state without a speaker embedding: enough to render (a stream,
    which skips the gate), without loading the speaker encoder."""
    offered = stock.StockVoice.parse(pack)
    language = offered.language if offered is not None else "zh"
    return VoiceState(style=assets.load_voice_pack(models.cache_dir, pack), embedding=np.zeros(256, np.float32),
                      language=language, method="stock", engine_version=models.engine.version)


def stock_state(models: StockModels, pack: str = "zf_xiaoxiao") -> VoiceState:
    """A voice state whose style is a stock pack and whose embedding is of its own speech
    (the quality gate compares renders against it)."""
    probe = pack_state(models, pack)
    rendered = models.synthesizer.render(PROBES.get(probe.language, PROBE), probe)
    return replace(probe, embedding=models.encoder.embed(rendered.audio, rendered.sample_rate),
                   metrics={"similarity": 0.9})


def install(session: Session, storage: Storage, tenant_id: str, state: VoiceState, name: str = "stock") -> str:
    """The rows and state object of a ready voice on a verified consent; returns the voice id."""
    from shared.models import Consent, ConsentStatus, Voice, VoiceStatus, VoiceVersion  # deferred: above

    consent = Consent(tenant_id=tenant_id, speaker_name=name, company_name=name, agreement_version="1",
                      agreement_sha256="-", signature=name, statement="-", status=ConsentStatus.verified.value)
    session.add(consent)
    session.flush()
    voice = Voice(tenant_id=tenant_id, name=name, language=state.language, status=VoiceStatus.ready.value,
                  consent_id=consent.id)
    session.add(voice)
    session.flush()
    key = storage_keys.voice_state_key(tenant_id, voice.id, 1)
    storage.put(key, state.to_bytes())
    version = VoiceVersion(voice_id=voice.id, version=1, state_key=key, state_sha256="-", engine="kokoro",
                           engine_version=state.engine_version, method="stock")
    session.add(version)
    session.flush()
    voice.current_version_id = version.id
    return voice.id
