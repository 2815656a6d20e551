"""Synthesizer streaming and the Kokoro engine's session, on the real model.

The split of the first sentence is pure string work and is checked on phoneme strings
the frontend produced; the streaming tests render with the shipped Kokoro int8 model
and the stock zf_xiaoxiao voice pack, and Whisper checks that the joined chunks still
read as the sentence.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from shared.settings import Settings
from worker.tts.checks.asr import Transcriber
from worker.tts.checks.scoring import error_rate
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import (
    CONTINUED_TAIL_KEEP_FRAMES,
    EDGE_KEEP_FRAMES,
    KokoroEngine,
    kokoro_engine,
    load_engine,
)
from worker.tts.synthesis.pipeline import (
    CLAUSE_PAUSE_S,
    HEAD_MAX_PHONEMES,
    HEAD_MIN_WORDS,
    SPEECH_LEVEL_DB,
    STREAM_GROWTH,
    SynthesisConfig,
    Synthesizer,
    context_style,
    lift_rows,
    speech_level_db,
    split_head,
    stream_parts,
    trim_silence,
)
from worker.tts.synthesis.voice import VoiceState
from worker.tts.text.frontend import Frontend

FRAME_SAMPLES = 600  # Kokoro's samples per duration frame (24 kHz, 40 frames a second)

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


def test_stream_parts_keep_every_phoneme_in_order() -> None:
    assert stream_parts(TEN_CHARS_PHONEMES) == list(split_head(TEN_CHARS_PHONEMES) or ())
    assert stream_parts("ni↓xau↓, ni↓xau↓.") == ["ni↓xau↓, ni↓xau↓."]  # short: one piece


def test_stream_parts_cut_the_rest_of_a_long_first_sentence_at_commas_it_can_render_in_time() -> None:
    clause = "ʨi→ntʰjɛ→n tɤ tʰjɛ→nʨʰi↘ ꭧə→ntɤ fei→ꭧʰa↗ŋ xau↓"
    sentence = ", ".join([clause] * 8) + "."
    pieces = stream_parts(sentence)
    assert " ".join(pieces) == sentence
    assert len(pieces[0]) <= HEAD_MAX_PHONEMES and len(pieces) >= 4
    assert all(piece.endswith(",") for piece in pieces[1:-1])
    for i in range(1, len(pieces)):  # each piece renders while what came before it plays
        assert len(pieces[i]) <= STREAM_GROWTH * len(" ".join(pieces[:i]))


def test_stream_parts_start_english_at_its_first_comma_rather_than_render_it_whole() -> None:
    english = "ˌWəɹ nˈu hˈɛdfˌOnz hæv θˈɜɹTi ˈWəɹz ʌv bˈæTəɹi lˈIf, sˌO ju kæn lˈɪsᵊn ˈɔl dˈA."
    assert split_head(english, at_words=False) is None
    assert stream_parts(english, at_words=False) == [
        "ˌWəɹ nˈu hˈɛdfˌOnz hæv θˈɜɹTi ˈWəɹz ʌv bˈæTəɹi lˈIf,", "sˌO ju kæn lˈɪsᵊn ˈɔl dˈA."]
    no_comma = "plˈiz kˈip jʊɹ ɹəsˈit ˌʌntˈɪl ðə pˈækɪʤ əɹˈIvz."
    assert stream_parts(no_comma, at_words=False) == [no_comma]  # English is never cut between words


def test_context_style_lifts_short_chunks_to_the_texts_median_row() -> None:
    table = np.arange(510 * 2, dtype=np.float32).reshape(510, 2)
    lifted = context_style(table, [5, 30, 40])
    assert (lifted[:29] == table[29]).all() and (lifted[29:] == table[29:]).all()
    assert context_style(table, [5]) is table  # one chunk keeps the row of its own length


# --------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def engine() -> KokoroEngine:
    return kokoro_engine(Settings(synth_threads=2))


@pytest.fixture(scope="module")
def synthesizer(engine: KokoroEngine) -> Synthesizer:
    return Synthesizer(Frontend(), engine)


@pytest.fixture(scope="module")
def voice(engine: KokoroEngine) -> VoiceState:
    style = assets.load_voice_pack(Settings.from_env().model_cache, "zf_xiaoxiao")
    return VoiceState(style=style, embedding=np.zeros(256, np.float32), language="zh", method="stock",
                      engine_version=engine.version)


class OperatorEngine:
    """An engine an operator could install: a factory taking the settings (here it wraps Kokoro)."""

    def __init__(self, settings: Settings) -> None:
        self.inner = kokoro_engine(settings)
        self.name, self.version, self.sample_rate = "operator-engine", "operator-1", self.inner.sample_rate

    def tokenize(self, phonemes: str) -> list[int]:
        return self.inner.tokenize(phonemes)

    def synthesize(self, phonemes: str, style: np.ndarray, speed: float = 1.0,
                   pitch: tuple[float, float] = (1.0, 1.0), continues: bool = False) -> np.ndarray:
        return self.inner.synthesize(phonemes, style, speed, pitch, continues)


def test_the_engine_setting_picks_the_built_in_or_an_operators_factory(voice: VoiceState) -> None:
    assert isinstance(load_engine(Settings(engine="kokoro", synth_threads=1)), KokoroEngine)
    engine = load_engine(Settings(engine=f"{__name__}:OperatorEngine", synth_threads=1))
    assert isinstance(engine, OperatorEngine)
    audio = Synthesizer(Frontend(), engine).render("你好。", voice).audio
    assert audio.dtype == np.float32 and len(audio) > 0.3 * engine.sample_rate


@pytest.mark.parametrize(("spec", "reason"), [
    ("onnx", "must be 'kokoro' or 'package.module:factory'"),
    ("no_such_package.engines:make", "cannot be loaded"),
    ("json:no_such_factory", "cannot be loaded"),
    ("builtins:str", "made an object without name, version"),
])
def test_a_bad_engine_setting_is_refused_with_the_reason(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        load_engine(Settings(engine=spec))


def test_engine_pool_threads_do_not_spin(engine: KokoroEngine) -> None:
    options = engine.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_edge_inputs_name_the_pads_and_the_silent_symbols_beside_them(engine: KokoroEngine) -> None:
    """The leading pad, and at the end the pad, the final punctuation and a closing tone mark."""
    assert engine.edge_inputs(engine.tokenize(TEN_CHARS_PHONEMES))["edge_tokens"].tolist() == [1, 3]
    assert engine.edge_inputs(engine.tokenize("“xau↓”"))["edge_tokens"].tolist() == [2, 3]
    assert engine.edge_inputs(engine.tokenize("...!"))["edge_tokens"].tolist() == [0, 0]  # nothing to keep: no crop


@pytest.mark.slow
def test_the_decoder_skips_the_edge_silence_and_keeps_the_speech(engine: KokoroEngine, voice: VoiceState) -> None:
    """The edge graph renders ~0.9 s less of this sentence, all of it silence the pipeline trims,
    and the shipped graph (no edge inputs, as an operator's graph) still runs."""
    sr = engine.sample_rate
    shipped = KokoroEngine(assets.kokoro_model_path(), engine.vocab, version="shipped", threads=2)
    assert shipped.edge_inputs(engine.tokenize(TEN_CHARS_PHONEMES)) == {}
    full = shipped.synthesize(TEN_CHARS_PHONEMES, voice.style)
    cropped = engine.synthesize(TEN_CHARS_PHONEMES, voice.style)
    assert len(full) - len(cropped) > 0.6 * sr
    speech_full, speech_cropped = trim_silence(full, sr), trim_silence(cropped, sr)
    assert abs(len(speech_full) - len(speech_cropped)) < 0.05 * sr


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


class RowRecorder:
    """The real engine, noting the style row it reads for each chunk (Kokoro reads the row of
    the chunk's token count) and whether the chunk continues its sentence."""

    def __init__(self, engine: KokoroEngine) -> None:
        self.inner, self.rows, self.continues = engine, [], []
        self.name, self.version, self.sample_rate = engine.name, engine.version, engine.sample_rate

    def tokenize(self, phonemes: str) -> list[int]:
        return self.inner.tokenize(phonemes)

    def synthesize(self, phonemes: str, style: np.ndarray, speed: float = 1.0,
                   pitch: tuple[float, float] = (1.0, 1.0), continues: bool = False) -> np.ndarray:
        self.rows.append(style[len(self.tokenize(phonemes)) - 1])
        self.continues.append(continues)
        return self.inner.synthesize(phonemes, style, speed, pitch, continues)


def test_stream_reads_the_pieces_of_a_cut_sentence_with_the_sentences_style_row(
        engine: KokoroEngine, voice: VoiceState) -> None:
    recorder = RowRecorder(engine)
    chunks = list(Synthesizer(Frontend(), recorder).stream(TEN_CHARS, voice))
    assert len(chunks) == 2 and len(recorder.rows) == 2
    sentence_row = voice.style[len(engine.tokenize(TEN_CHARS_PHONEMES)) - 1]
    assert all(np.array_equal(row, sentence_row) for row in recorder.rows)
    assert not np.array_equal(voice.style[len(engine.tokenize(chunks[0].phonemes)) - 1], sentence_row)


def test_only_an_opening_phrase_is_rendered_with_fewer_closing_frames(
        engine: KokoroEngine, voice: VoiceState) -> None:
    recorder = RowRecorder(engine)
    Synthesizer(Frontend(), recorder).render(TEN_CHARS, voice)
    assert recorder.continues == [False]
    chunks = list(Synthesizer(Frontend(), recorder).stream(TEN_CHARS, voice))
    assert [c.continues for c in chunks] == recorder.continues[1:] == [True, False]
    head = chunks[0].phonemes
    closing = len(engine.synthesize(head, voice.style)) - len(engine.synthesize(head, voice.style, continues=True))
    assert closing == (EDGE_KEEP_FRAMES[1] - CONTINUED_TAIL_KEEP_FRAMES) * FRAME_SAMPLES


def test_lift_rows_replaces_the_rows_below_a_length_by_its_row() -> None:
    table = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    lifted = lift_rows(table, 4)
    assert all(np.array_equal(lifted[i], table[3]) for i in range(4))
    assert np.array_equal(lifted[4:], table[4:])


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


LESSON = ("第一章，认识咖啡。好。咖啡豆其实是咖啡树果实里的种子，不同产地的豆子味道各不相同。对吧？"
          "We will start with the basics. 下面我们来看看研磨度。")


@pytest.mark.slow
def test_chunks_of_a_text_are_spoken_at_one_level(synthesizer: Synthesizer, voice: VoiceState) -> None:
    """Kokoro renders short sentences ~3 dB louder than long ones; a lesson must not jump in loudness."""
    sr = synthesizer.engine.sample_rate
    chunks = list(synthesizer.stream(LESSON, voice))
    assert len(chunks) >= 5
    levels = [speech_level_db(c.audio, sr) for c in chunks]
    assert all(level is not None and abs(level - SPEECH_LEVEL_DB) < 0.5 for level in levels), levels
    raw = [speech_level_db(trim_silence(synthesizer.engine.synthesize(c.phonemes, voice.style), sr), sr)
           for c in chunks]
    assert max(raw) - min(raw) > 1.0  # what the leveling evens out (else this test pins nothing)


@pytest.mark.slow
def test_a_whole_reading_renders_two_sentences_at_once_to_the_same_samples(
    engine: KokoroEngine, synthesizer: Synthesizer, voice: VoiceState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full render runs its sentences side by side on one-thread sessions (faster on two cores:
    bench/speed.py); nobody may hear it: the samples are those of one sentence after another."""
    one_by_one = Synthesizer(synthesizer.frontend, engine, side_by_side=False).render(LESSON, voice).audio
    lane = engine.single_threaded
    assert lane.threads == 1 and lane.version == engine.version and engine.single_threaded is lane
    running: list[str] = []
    synthesize = lane.synthesize

    def recorded(*args: object, **kwargs: object) -> np.ndarray:
        running.append(threading.current_thread().name)
        return synthesize(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lane, "synthesize", recorded)
    side_by_side = synthesizer.render(LESSON, voice).audio
    assert len(running) == len(synthesizer.frontend.analyze(LESSON).sentences)
    assert len(set(running)) == 2 and all(name.startswith("render-lane") for name in running)
    assert np.array_equal(side_by_side, one_by_one)


@pytest.mark.slow
def test_a_chunk_failing_beside_another_fails_the_render_and_leaves_no_thread_behind(
    engine: KokoroEngine, synthesizer: Synthesizer, voice: VoiceState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller (a batch item's task) must see the engine's error as it would one sentence
    after another, so that it fails that item alone; the lanes must not outlive the render."""
    lane = engine.single_threaded
    synthesize = lane.synthesize

    def failing(phonemes: str, *args: object, **kwargs: object) -> np.ndarray:
        if "bˈAsɪks" in phonemes:  # "We will start with the basics."
            raise RuntimeError("the engine failed on this chunk")
        return synthesize(phonemes, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lane, "synthesize", failing)
    with pytest.raises(RuntimeError, match="failed on this chunk"):
        synthesizer.render(LESSON, voice)
    assert not [t for t in threading.enumerate() if t.name.startswith("render-lane")]


def test_a_one_thread_engine_is_its_own_single_threaded_session() -> None:
    engine = kokoro_engine(Settings(synth_threads=1))
    assert engine.threads == 1 and engine.single_threaded is engine


@pytest.mark.slow
def test_a_sentence_cut_at_a_comma_joins_with_a_clause_pause(synthesizer: Synthesizer, voice: VoiceState) -> None:
    clause = "这款保温杯采用双层不锈钢真空结构，"
    text = clause * 14 + "适合冬天出门携带。"
    config = SynthesisConfig()
    chunks = list(synthesizer._stream_analysis(synthesizer.frontend.analyze(text), voice, config))
    assert len(chunks) >= 2 and chunks[0].sentence.endswith("，")
    sr = synthesizer.engine.sample_rate
    rendered = synthesizer.render(text, voice, config)
    pauses = (len(chunks) - 1) * int(CLAUSE_PAUSE_S * sr)  # no sentence pause inside a sentence
    assert len(rendered.audio) == sum(len(c.audio) for c in chunks) + pauses
