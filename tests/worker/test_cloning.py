"""Enrollment's choice among candidate voices (worker/tts/cloning/enroll.py), on the real models.

The listener is the seam where Whisper judges a candidate's probe renders; here it is a
scripted one, so the test decides which candidate is "heard wrong" and checks the choice.
"""

from __future__ import annotations

import numpy as np
import pytest

from shared.settings import Settings
from worker.model_cache import ModelCache
from worker.tts.cloning.enroll import (
    DECODER_DIMS,
    MAX_PROBE_ERROR,
    PROBES,
    TIMBRE_VOICES,
    Cloner,
    ProbeRenders,
    decoder_swaps,
    whisper_listener,
)
from worker.tts.synthesis import assets
from worker.tts.synthesis.voice import VoiceState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models() -> ModelCache:
    return ModelCache(Settings(synth_threads=2))


@pytest.fixture(scope="module")
def reference(models: ModelCache) -> np.ndarray:
    """A voice that is not in the bank: two stock packs blended."""
    style = 0.5 * (assets.load_voice_pack(models.cache_dir, "zf_xiaoyi")
                   + assets.load_voice_pack(models.cache_dir, "zf_xiaoni"))
    state = VoiceState(style=style, embedding=np.zeros(256, np.float32), language="zh", method="test",
                       engine_version=models.engine.version)
    return models.synthesizer.render("欢迎收听今天的节目，我们先从一个小故事讲起。这个故事发生在江南的一个小镇上。", state).audio


@pytest.fixture(scope="module")
def plain(models: ModelCache, reference: np.ndarray) -> VoiceState:
    """Enrolled without a listener: the closest candidate, whatever it sounds like."""
    return Cloner(models.synthesizer, models.encoder, models.bank).enroll(reference, 24000, "zh")


def test_the_closest_candidate_heard_wrong_is_passed_over(models: ModelCache, reference: np.ndarray,
                                                          plain: VoiceState) -> None:
    calls: list[int] = []

    def closest_mumbles(audio: np.ndarray, sample_rate: int, text: str, language: str) -> float:
        calls.append(1)
        return 1.0 if len(calls) <= 2 else 0.0  # the two probes of the first candidate it is asked about

    picky = Cloner(models.synthesizer, models.encoder, models.bank, closest_mumbles).enroll(reference, 24000, "zh")
    assert len(calls) == 4  # the closest, then the next closest: two probes each
    assert picky.metrics["passed_over"] == [plain.metrics["chosen"]] != [picky.metrics["chosen"]]
    assert picky.metrics["probe_error"] == 0.0 and picky.metrics["similarity"] <= plain.metrics["similarity"]


def test_when_every_candidate_is_heard_wrong_the_closest_is_kept(models: ModelCache, reference: np.ndarray,
                                                                 plain: VoiceState) -> None:
    def mumbles(audio: np.ndarray, sample_rate: int, text: str, language: str) -> float:
        return 0.5

    voice = Cloner(models.synthesizer, models.encoder, models.bank, mumbles).enroll(reference, 24000, "zh")
    assert voice.metrics["chosen"] == plain.metrics["chosen"] and voice.metrics["probe_error"] == 0.5
    assert voice.metrics["passed_over"] == []


def test_whisper_hears_the_chosen_voice_speak_its_probes(models: ModelCache, reference: np.ndarray) -> None:
    cloner = Cloner(models.synthesizer, models.encoder, models.bank, whisper_listener(models.transcriber))
    voice = cloner.enroll(reference, 24000, "zh")
    assert voice.metrics["probe_error"] <= MAX_PROBE_ERROR and voice.metrics["passed_over"] == []
    again = Cloner(models.synthesizer, models.encoder, models.bank, whisper_listener(models.transcriber))
    assert again.probe_error(voice.style, "zh") == pytest.approx(voice.metrics["probe_error"], abs=1e-4)


def test_an_enrollment_renders_and_hears_each_probe_once(models: ModelCache, reference: np.ndarray) -> None:
    """The style search's listening check and the conversion guard's "before" ask for the chosen
    voice's probes again: they come from what the blend search rendered and the check heard."""
    heard: list[str] = []

    def listener(audio: np.ndarray, sample_rate: int, text: str, language: str) -> float:
        heard.append(text)
        return 0.0

    cloner = Cloner(models.synthesizer, models.encoder, models.bank, listener)
    voice = cloner.enroll(reference, 24000, "zh")
    assert heard == PROBES["zh"]
    renders = [cloner.probes.render(voice.style, t) for t in PROBES["zh"]]
    assert cloner.probe_error(voice.style, "zh") == 0.0 and heard == PROBES["zh"]
    assert all(r is cloner.probes.render(voice.style, t) for r, t in zip(renders, PROBES["zh"]))
    assert not any(r.flags.writeable for r in renders)  # shared: a caller that writes into one fails loudly
    # The premise: a render depends only on the style and the text.
    fresh = ProbeRenders(models.synthesizer)
    assert all(np.array_equal(r, fresh.render(voice.style, t)) for r, t in zip(renders, PROBES["zh"]))
    assert models.conversion_learner.probe_renders is models.cloner.probes


def test_a_decoder_swap_takes_a_nearer_voices_timbre_and_keeps_the_prosody(models: ModelCache,
                                                                           plain: VoiceState) -> None:
    similarity = models.bank.embeddings @ plain.embedding
    swaps = decoder_swaps(models.bank, similarity, "clone", plain.style)
    nearest = [models.bank.names[i] for i in np.argsort(-similarity)[:TIMBRE_VOICES]]
    assert [label.split("|decoder:")[1] for label, _ in swaps] == nearest  # a blend equals none of them
    for (_, style), name in zip(swaps, nearest):
        assert np.array_equal(style[:, DECODER_DIMS:], plain.style[:, DECODER_DIMS:])
        assert np.array_equal(style[:, :DECODER_DIMS], models.bank.styles[models.bank.names.index(name)][:, :DECODER_DIMS])


def test_past_its_deadline_enrollment_scores_no_decoder_swap(models: ModelCache, reference: np.ndarray) -> None:
    embedded: list[int] = []

    class CountingEncoder:  # the real encoder, counting what it embeds
        def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
            embedded.append(1)
            return models.encoder.embed(audio, sample_rate)

    cloner = Cloner(models.synthesizer, CountingEncoder(), models.bank)  # type: ignore[arg-type]
    voice = cloner.enroll(reference, 24000, "zh", deadline=0.0)
    assert len(embedded) == 1 + 5 * len(PROBES["zh"])  # the reference, then the nearest voice's and 4 blends' probes
    assert "|decoder:" not in voice.metrics["chosen"]
