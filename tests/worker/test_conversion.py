"""The per-speaker spectral conversion (worker/tts/synthesis/conversion.py, learned by
worker/tts/cloning/conversion_fit.py), on the real engine, Whisper and DNSMOS.

The "speaker" here is a stock voice heard through a channel it never had (a tilt and a
resonance, as a room and a microphone add): a mapping that learned it from one text must
undo it on another.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace

import numpy as np
import pytest
from scipy.signal import lfilter

from shared.settings import Settings
from worker.model_cache import ModelCache
from worker.tts.cloning.conversion_fit import (
    MAX_QUALITY_DROP,
    Pair,
    ProbeScores,
    choose_penalty,
    distance,
    fit,
    guard,
    text_length,
)
from worker.tts.synthesis import assets
from worker.tts.synthesis.conversion import SpectralConversion, mlpg
from worker.tts.synthesis.pitch import NATURAL_PITCH, PitchMap, fit_pitch, log_f0
from worker.tts.synthesis.voice import VoiceState

pytestmark = pytest.mark.slow

FIT_TEXT = "欢迎收听今天的节目，我们先从一个小故事讲起。这个故事发生在江南的一个小镇上，镇上有一条安静的小河。"
HELD_OUT_TEXT = "春天来了，河边的柳树发出了新芽，孩子们在桥上放风筝，老人们坐在门口晒太阳。"


@pytest.fixture(scope="module")
def models() -> ModelCache:
    return ModelCache(Settings(synth_threads=2))


@pytest.fixture(scope="module")
def voice(models: ModelCache) -> VoiceState:
    return VoiceState(style=assets.load_voice_pack(models.cache_dir, "zf_xiaoxiao"),
                      embedding=np.zeros(256, np.float32), language="zh", method="test",
                      engine_version=models.engine.version)


def channel(audio: np.ndarray) -> np.ndarray:
    """A bright tilt (first difference, half strength) and a resonance near 2.4 kHz."""
    tilted = lfilter([1.0, -0.5], [1.0], audio)
    r, theta = 0.97, 2 * np.pi * 2400 / 24000
    resonant = lfilter([1.0 - r], [1.0, -2 * r * np.cos(theta), r * r], tilted)
    out = tilted + 4.0 * resonant
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def pair(models: ModelCache, voice: VoiceState, text: str) -> tuple[Pair, np.ndarray]:
    clone = models.synthesizer.render(text, voice).audio
    analyzer = models.synthesizer.analyzer
    mine, theirs = analyzer.analyze(clone), analyzer.analyze(channel(clone))
    return Pair(mine.cepstra[mine.speech], theirs.cepstra[theirs.speech]), clone


def test_a_mapping_learned_on_one_text_undoes_the_channel_on_another(models: ModelCache, voice: VoiceState) -> None:
    train, _ = pair(models, voice, FIT_TEXT)
    held_out, clone = pair(models, voice, HELD_OUT_TEXT)
    penalty, scores = choose_penalty([train], held_out)
    conversion = fit([train, held_out], penalty)
    before = scores["unconverted"]
    assert scores[f"ridge_{penalty:g}"] < 0.5 * before, scores
    # Applied to the waveform, the clone's envelope moves toward the channel's.
    analyzer = models.synthesizer.analyzer
    converted = analyzer.analyze(conversion.apply(clone, analyzer))
    assert distance(converted.cepstra[converted.speech], held_out) < 0.7 * before


def test_a_pitch_map_moves_register_and_range_inside_the_engine_and_keeps_the_timing(
        models: ModelCache, voice: VoiceState) -> None:
    engine, sr = models.engine, models.engine.sample_rate
    phonemes = models.frontend.analyze(FIT_TEXT).sentences[0].phonemes
    plain = engine.synthesize(phonemes, voice.style)
    assert np.array_equal(engine.synthesize(phonemes, voice.style, 1.0, NATURAL_PITCH), plain)
    own = float(log_f0(plain, sr).mean())
    for semitones, spread in ((3.0, 1.0), (-2.0, 1.3)):
        target = PitchMap(clone_mean=own, shift=semitones * np.log(2) / 12, range=spread)
        moved = engine.synthesize(phonemes, voice.style, 1.0, target.curve())
        assert moved.size == plain.size  # the durations are the model's: only the F0 curve moved
        found = fit_pitch(moved, plain, sr)
        # pYIN hears the move within about half a semitone (a lowered, widened curve: 1.4 of 2)
        assert found is not None and abs(found.semitones - semitones) < 0.75, (semitones, found)
        assert abs(found.range - spread) < 0.15, (spread, found)
    # half strength: half the move
    half = PitchMap(clone_mean=own, shift=3.0 * np.log(2) / 12, range=1.0, strength=0.5)
    found = fit_pitch(engine.synthesize(phonemes, voice.style, 1.0, half.curve()), plain, sr)
    assert found is not None and abs(found.semitones - 1.5) < 0.5, found


def test_mlpg_follows_the_statics_when_deltas_say_nothing_and_smooths_when_they_do() -> None:
    rng = np.random.default_rng(0)
    static = rng.standard_normal((50, 3))
    flat = np.zeros_like(static)
    assert np.allclose(mlpg(static, flat, np.ones(3), np.full(3, 1e9)), static, atol=1e-6)
    smoothed = mlpg(static, flat, np.ones(3), np.full(3, 1e-3))  # "no change between frames", trusted
    assert np.abs(np.diff(smoothed, axis=0)).mean() < 0.2 * np.abs(np.diff(static, axis=0)).mean()


def test_the_guard_keeps_only_a_closer_voice_that_is_no_less_clear_or_clean() -> None:
    before = ProbeScores(similarity=0.70, error=0.02, quality=3.0)
    assert guard(before, ProbeScores(0.75, 0.03, 2.95)) is None
    assert "similarity" in guard(before, ProbeScores(0.705, 0.02, 3.0))
    assert "probe error" in guard(before, ProbeScores(0.80, 0.10, 3.0))
    assert "DNSMOS" in guard(before, ProbeScores(0.80, 0.02, 3.0 - MAX_QUALITY_DROP - 0.01))


def test_the_guard_hears_the_transcript_readings_too_each_text_weighed_by_its_length(models: ModelCache,
                                                                                   voice: VoiceState) -> None:
    """The probes alone are a few dozen characters: one misheard was past the error margin. With
    the clone's readings of the reference's transcript heard too, a probe heard as another text
    weighs by its length against all of them."""
    learner = models.conversion_learner
    probe, wrong_text = models.synthesizer.render(HELD_OUT_TEXT, voice).audio, "今天下雨了。"
    reading = models.synthesizer.render(FIT_TEXT, voice).audio
    alone = learner.score(voice, [probe], [wrong_text], [], [], "zh")
    heard_with_readings = learner.score(voice, [probe], [wrong_text], [reading], [FIT_TEXT], "zh")
    assert alone.error > 0.5
    share = text_length(wrong_text, "zh") / (text_length(wrong_text, "zh") + text_length(FIT_TEXT, "zh"))
    assert heard_with_readings.error == pytest.approx(alone.error * share, abs=0.05)
    assert heard_with_readings.similarity == alone.similarity  # similarity is the probes' alone


def test_a_voice_file_carries_its_conversion_and_every_render_applies_it(models: ModelCache,
                                                                          voice: VoiceState) -> None:
    train, _ = pair(models, voice, FIT_TEXT)
    converted = replace(voice, conversion=replace(fit([train], 10.0), pitch=PitchMap(5.4, 0.12, 1.1, 0.5)))
    loaded = VoiceState.from_bytes(converted.to_bytes())
    assert loaded.conversion is not None and VoiceState.from_bytes(voice.to_bytes()).conversion is None
    assert loaded.conversion.pitch == converted.conversion.pitch
    assert np.allclose(loaded.conversion.weights, converted.conversion.weights, atol=1e-5)
    text = "这是一个测试句子，请仔细听。"
    plain = models.synthesizer.render(text, voice).audio
    rendered = models.synthesizer.render(text, loaded).audio
    # The envelope moved (trimming a slightly changed edge may move the length by a few samples),
    # and a stream, cut differently (its opening phrase comes alone), moved the same way.
    assert abs(rendered.size - plain.size) < 0.01 * plain.size
    analyzer = models.synthesizer.analyzer

    def envelope(audio: np.ndarray) -> np.ndarray:
        frames = analyzer.analyze(audio)
        return frames.cepstra[frames.speech].mean(axis=0)

    def streamed(voice: VoiceState) -> np.ndarray:
        return np.concatenate([c.audio for c in models.synthesizer.stream(text, voice)])

    moved = envelope(rendered) - envelope(plain)
    moved_in_stream = envelope(streamed(loaded)) - envelope(streamed(voice))
    assert np.linalg.norm(moved) > 0.2, moved
    assert np.linalg.norm(moved_in_stream - moved) < 0.3 * np.linalg.norm(moved)


def test_enrollment_learns_a_conversion_and_reports_the_guards_numbers(models: ModelCache, voice: VoiceState) -> None:
    """The whole path: Whisper transcribes the reference, the clone reads it, DTW, fit, pitch, guard.
    The "speaker" speaks three semitones higher than the clone, through the channel."""
    higher = SpectralConversion.offset(np.zeros(24), PitchMap(clone_mean=0.0, shift=3 * np.log(2) / 12, range=1.0))
    speech = models.synthesizer.render(FIT_TEXT + HELD_OUT_TEXT, replace(voice, conversion=higher)).audio
    reference = channel(speech)
    target = replace(voice, embedding=models.encoder.embed(reference, 24000))
    learned = models.conversion_learner.learn(reference, target, "zh")
    report = learned.metrics["conversion"]
    distances = report["held_out_distance"]
    assert distances[f"ridge_{report['penalty']:g}"] < distances["unconverted"]
    assert set(report["unconverted"]) == {"similarity", "error", "dnsmos_ovrl"}
    assert report["tried"] and report["kept"] == (learned.conversion is not None)
    assert abs(report["pitch"]["semitones"] - 3.0) < 0.5 and abs(report["pitch"]["range"] - 1.0) < 0.15, report
    if report["kept"]:
        assert report["tried"][-1]["refused"] is None
    else:
        assert all(t["refused"] for t in report["tried"])


def test_a_weaker_strength_is_tried_only_while_it_fits_the_enrollments_budget(models: ModelCache,
                                                                               voice: VoiceState) -> None:
    """A refused full strength is tried again at half strength, unless the time that takes would
    pass the deadline: a slow machine gets fewer tries, not a longer enrollment."""
    scores = iter([3.0, 2.0, 2.0])  # DNSMOS: before, then a drop past the margin at each strength

    learner = copy.copy(models.conversion_learner)
    learner.quality, learner.pitch = (lambda audio, sample_rate: next(scores)), False
    reference = channel(models.synthesizer.render(FIT_TEXT + HELD_OUT_TEXT, voice).audio)
    target = replace(voice, embedding=models.encoder.embed(reference, 24000))
    report = learner.learn(reference, target, "zh", deadline=time.monotonic()).metrics["conversion"]
    assert [t["strength"] for t in report["tried"]] == [1.0] and "DNSMOS" in report["tried"][0]["refused"]
    assert report["kept"] is False and "strength 0.5 not tried" in report["reason"], report


def test_with_conversion_turned_off_enrollment_learns_none_and_says_so(models: ModelCache, voice: VoiceState) -> None:
    off = ModelCache(models.settings.with_(voice_conversion=False, enroll_budget_seconds=0))
    for loaded in ("engine", "frontend", "synthesizer", "encoder", "transcriber", "bank"):  # share the loaded models
        off.__dict__[loaded] = getattr(models, loaded)
    reference = channel(models.synthesizer.render(FIT_TEXT, voice).audio)
    enrolled = off.enroll(reference, 24000, "zh")
    assert enrolled.conversion is None and enrolled.metrics["conversion"] == {"kept": False, "reason": "turned off"}
    assert "+" not in enrolled.method
