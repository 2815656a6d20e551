"""Synthesizer streaming and the Kokoro engine's session, on the real model.

The split of the first sentence is pure string work and is checked on phoneme strings
the frontend produced; the streaming tests render with the shipped Kokoro int8 model
and the stock zf_xiaoxiao voice pack, and Whisper checks that the joined chunks still
read as the sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.settings import Settings
from worker.tts import assets
from worker.tts.asr import Transcriber, error_rate
from worker.tts.engine import KokoroEngine
from worker.tts.frontend import Frontend
from worker.tts.pipeline import (
    CLAUSE_PAUSE_S,
    HEAD_MAX_PHONEMES,
    HEAD_MIN_WORDS,
    Synthesizer,
    split_head,
    trim_silence,
)
from worker.tts.voice import VoiceState

TEN_CHARS = "今天的天气真的非常好。"
TEN_CHARS_PHONEMES = "ʨi→ntʰjɛ→n tɤ tʰjɛ→nʨʰi↘ ꭧə→ntɤ fei→ꭧʰa↗ŋ xau↓."


def test_split_head_cuts_after_the_words_that_fit() -> None:
    head, rest = split_head(TEN_CHARS_PHONEMES) or ("", "")
    assert head == "ʨi→ntʰjɛ→n tɤ tʰjɛ→nʨʰi↘"
    assert rest == "ꭧə→ntɤ fei→ꭧʰa↗ŋ xau↓."
    assert f"{head} {rest}" == TEN_CHARS_PHONEMES


def test_split_head_prefers_a_clause_mark() -> None:
    phonemes = "ta↓kʰai→ ˈæp i↓xou↘, tjɛ↓nʨi→ jou↘ʂa↘ŋʨjau↓ tɤ ʂɤ↘ꭧɨ↘ a↘nnjou↓."
    assert split_head(phonemes) == ("ta↓kʰai→ ˈæp i↓xou↘,", "tjɛ↓nʨi→ jou↘ʂa↘ŋʨjau↓ tɤ ʂɤ↘ꭧɨ↘ a↘nnjou↓.")


def test_split_head_without_word_cuts_needs_a_clause_mark() -> None:
    english = "plˈiz kˈip jʊɹ ɹəsˈit ˌʌntˈɪl ðə pˈækɪʤ əɹˈIvz."
    assert split_head(english, at_words=False) is None
    assert split_head("ɪf ɪt ɹˈAnz təmˈɑɹO, ði ɡˈAm wɪl bi mˈuvd tu nˈɛkst wˈik.", at_words=False) == (
        "ɪf ɪt ɹˈAnz təmˈɑɹO,", "ði ɡˈAm wɪl bi mˈuvd tu nˈɛkst wˈik."
    )


@pytest.mark.parametrize(
    "phonemes",
    [
        "ni↓xau↓.",  # one word
        "ʨi→ntʰjɛ→n xə↓n xau↓.",  # short: two engine runs would cost more than they save
        "ʨi→ntʰjɛ→nʨʰi↘ʨi→ntʰjɛ→nʨʰi↘ʨi→ntʰjɛ→n a b c.",  # first word alone is over the limit
    ],
)
def test_split_head_leaves_short_or_unsplittable_sentences_whole(phonemes: str) -> None:
    assert split_head(phonemes) is None


def test_split_head_bounds() -> None:
    words = [f"w{i:02d}" for i in range(30)]
    head, rest = split_head(" ".join(words)) or ("", "")
    assert len(head) <= HEAD_MAX_PHONEMES
    assert len(head.split(" ")) >= HEAD_MIN_WORDS and len(rest.split(" ")) >= HEAD_MIN_WORDS


# --------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def engine() -> KokoroEngine:
    return KokoroEngine(assets.kokoro_model_path(), assets.kokoro_vocab(), version="test", threads=2)


@pytest.fixture(scope="module")
def synthesizer(engine: KokoroEngine) -> Synthesizer:
    return Synthesizer(Frontend(), engine)


@pytest.fixture(scope="module")
def voice(engine: KokoroEngine) -> VoiceState:
    style = assets.load_voice_pack(Settings.from_env().model_cache, "zf_xiaoxiao")
    return VoiceState(style=style, embedding=np.zeros(256, np.float32), language="zh", method="stock",
                      engine_version=engine.version)


def test_engine_pool_threads_do_not_spin(engine: KokoroEngine) -> None:
    options = engine.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


@pytest.mark.slow
def test_stream_renders_the_opening_phrase_first(synthesizer: Synthesizer, voice: VoiceState,
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    chunks = list(synthesizer.stream(TEN_CHARS, voice))
    assert [c.continues for c in chunks] == [True, False]
    assert all(c.sentence == TEN_CHARS for c in chunks)
    whole = synthesizer.render(TEN_CHARS, voice).audio
    assert len(chunks[0].audio) < 0.7 * len(whole)  # the point: less audio to render before first sound

    joined = np.concatenate([c.audio for c in chunks])
    transcriber = Transcriber(Path(tmp_path_factory.mktemp("models")), threads=2)
    heard = transcriber.transcribe(joined, synthesizer.engine.sample_rate, "zh").text
    assert error_rate(TEN_CHARS, heard, "zh") <= 0.1, heard


@pytest.mark.slow
def test_stream_leaves_english_without_clause_marks_whole(synthesizer: Synthesizer, voice: VoiceState) -> None:
    chunks = list(synthesizer.stream("Please keep your receipt until the package arrives.", voice))
    assert [c.continues for c in chunks] == [False]


@pytest.mark.slow
def test_stream_keeps_a_pause_after_a_clause_head(synthesizer: Synthesizer, voice: VoiceState) -> None:
    head, rest = synthesizer.stream("打开 App 以后，点击右上角的设置按钮就可以了。", voice)
    assert head.continues and head.phonemes.endswith(",")
    pause = int(CLAUSE_PAUSE_S * synthesizer.engine.sample_rate)
    assert not head.audio[-pause:].any() and head.audio[:-pause].any() and rest.audio.any()


@pytest.mark.slow
def test_render_keeps_sentences_whole(synthesizer: Synthesizer, voice: VoiceState) -> None:
    """A full render is one engine pass per sentence: the engine's audio, edge silence trimmed."""
    rendered = synthesizer.render(TEN_CHARS, voice)
    (sentence,) = rendered.analysis.sentences
    direct = synthesizer.engine.synthesize(sentence.phonemes, voice.style)
    assert len(rendered.audio) == len(trim_silence(direct, synthesizer.engine.sample_rate)) > 0
