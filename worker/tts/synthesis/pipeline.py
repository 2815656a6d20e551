"""Text → audio: frontend, engine, and the joins between sentences.

The pipeline owns everything language-specific around the engine: normalization and
G2P (the frontend), chunking at sentence boundaries, trimming each chunk's edge
silence, and what keeps a long text sounding like one reading: every chunk is spoken
in the register of its neighbours (``context_style``) at one loudness (``level``), and
joins fade out and in around a pause as long as the punctuation asks for.

Streaming renders the first sentence's opening phrase on its own: the engine's cost grows
with the audio it renders, so a short first chunk reaches the listener sooner. The rest of
that sentence follows in pieces cut at its commas, each small enough to be rendered while
what came before it plays, so a long first sentence does not stall the stream. Full
renders never split a sentence (one pass keeps the sentence's prosody whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from worker.tts.synthesis.engine import Engine, KokoroEngine
from worker.tts.synthesis.pitch import NATURAL_PITCH
from worker.tts.synthesis.voice import VoiceState
from worker.tts.text.analysis import Analysis
from worker.tts.text.frontend import Frontend

if TYPE_CHECKING:  # scipy-backed; loaded with the first converted voice
    from worker.tts.synthesis.conversion import Analyzer


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


# The streamed first chunk: at most this many phoneme characters (about 1 s of speech),
# at least two words, and at least two words left for the rest of the sentence.
HEAD_MAX_PHONEMES = 24
HEAD_MIN_WORDS = 2
HEAD_SLACK_PHONEMES = 8  # a sentence at most this much over the head's limit is not worth cutting
# After the head, each streamed piece of the first sentence is at most this many times the
# phonemes sent before it (cut at a comma): rendered at an RTF up to 1 / (1 + growth), it is
# ready before the listener has heard what came before it.
STREAM_GROWTH = 2
# A head cut at a comma keeps a pause of this length at its end: the engine's own pause
# is trimmed with the edge silence, and without one the clause runs into the next
# (Whisper read "打开 App 以后，点击…" as "带开压比后，电机…").
CLAUSE_PAUSE_S = 0.15
_CLAUSE_MARKS = ",;:—…"
_CLAUSE_TEXT_MARKS = "，,、：:；;—"  # a chunk whose text ends so was cut inside a long sentence
# Every chunk is brought to this active speech level (``speech_level_db``), by at most
# MAX_LEVEL_GAIN_DB either way: Kokoro renders short chunks ~2-3 dB louder than long ones.
SPEECH_LEVEL_DB = -16.0
MAX_LEVEL_GAIN_DB = 6.0


@dataclass(frozen=True)
class AudioChunk:
    """One rendered piece; ``continues`` says the next chunk is the rest of the same
    sentence, to be joined without a sentence pause."""

    sentence: str
    phonemes: str
    audio: np.ndarray
    continues: bool = False


@dataclass(frozen=True)
class Piece:
    """What one engine run reads: a sentence or a piece of one, in the style it is read with,
    and the pause a piece cut at a comma keeps at its end."""

    sentence: str
    phonemes: str
    voice: VoiceState
    continues: bool = False
    pause_s: float = 0.0


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


def speech_level_db(audio: np.ndarray, sample_rate: int) -> float | None:
    """Active speech level (dBFS): the mean power of the 50 ms frames within 30 dB of the loudest.

    Pauses do not count, so a short chunk and a long one compare as speech; on Kokoro's
    chunks it follows their BS.1770 loudness within ~0.5 dB.
    """
    frame = int(0.05 * sample_rate)
    n = len(audio) // frame
    if n == 0:
        return None
    power = np.mean(audio[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)
    if power.max() <= 0:
        return None
    return float(10 * np.log10(power[power > power.max() * 1e-3].mean()))


def level(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Bring a chunk to the common speech level, so a long text keeps one loudness
    (a streamed chunk is played as it comes, so its peak is limited here too)."""
    current = speech_level_db(audio, sample_rate)
    if current is None:
        return audio
    gain_db = float(np.clip(SPEECH_LEVEL_DB - current, -MAX_LEVEL_GAIN_DB, MAX_LEVEL_GAIN_DB))
    return limit_peak((audio * np.float32(10 ** (gain_db / 20))).astype(np.float32))


def context_style(style: np.ndarray, token_counts: list[int]) -> np.ndarray:
    """The voice's style table as one text's chunks should see it.

    Kokoro picks a chunk's style row by its token count, and the rows for very short
    input speak higher and quicker: an interjection (好。对吧？) between long sentences
    jumped ~40 Hz above its neighbours. Rows below the text's median chunk length are
    replaced by that row, so every chunk is spoken in the register of the text around it;
    a text of one chunk keeps the row of its own length.
    """
    if len(token_counts) < 2:
        return style
    return lift_rows(style, int(np.median(token_counts)))


def lift_rows(style: np.ndarray, tokens: int) -> np.ndarray:
    """``style`` with every row for fewer than ``tokens`` tokens replaced by the row for
    ``tokens``. The pieces a stream cuts one sentence into are read with the sentence's row:
    with their own, shorter rows the opening phrase was spoken higher and quicker than the
    rest of its sentence, and ended in up to 0.7 s of lengthened closing the engine rendered
    and the pipeline trimmed."""
    floor = min(tokens, len(style))
    if floor <= 1:
        return style
    return style[np.maximum(np.arange(len(style)), floor - 1)]


def limit_peak(audio: np.ndarray, ceiling: float = 0.95) -> np.ndarray:
    """Kokoro's output can exceed full scale; scale it down rather than let the WAV clip."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio * (ceiling / peak) if peak > ceiling else audio


def split_head(
    phonemes: str, max_phonemes: int = HEAD_MAX_PHONEMES, at_words: bool = True
) -> tuple[str, str] | None:
    """Cut a sentence's phonemes after its opening phrase, for an early first chunk.

    The cut falls after the first clause mark when that clause is short enough, else (only
    with ``at_words``) after the most words that fit in ``max_phonemes``; ``None`` when the
    sentence is too short to be worth two engine runs (each run renders its own edge
    silence). English cut between words reads worse (Whisper misheard 2 of 4 such heads,
    e.g. "keep your receipt" → "keep your seat"), so the pipeline cuts English only at
    clause marks; Chinese cut at a word boundary read as well as the whole sentence.
    """
    words = phonemes.split(" ")
    if len(words) < 2 * HEAD_MIN_WORDS or len(phonemes) <= max_phonemes + HEAD_SLACK_PHONEMES:
        return None
    cut, length = 0, -1
    for i, word in enumerate(words[:-HEAD_MIN_WORDS]):
        length += len(word) + 1
        if length > max_phonemes:
            break
        cut = i + 1
        if word[-1] in _CLAUSE_MARKS and cut >= HEAD_MIN_WORDS:
            break
    if cut < HEAD_MIN_WORDS or not (at_words or words[cut - 1][-1] in _CLAUSE_MARKS):
        return None
    return " ".join(words[:cut]), " ".join(words[cut:])


def stream_parts(phonemes: str, at_words: bool = True) -> list[str]:
    """A first sentence's phonemes in the pieces a stream renders one after another.

    The head is ``split_head``'s; a sentence it cannot cut (English with no clause mark
    early on, or a first word over the limit) starts at its first clause mark instead of
    rendering whole. Each later piece ends at the last clause mark within ``STREAM_GROWTH``
    times what was sent before it (or, if none is that close, the first one after), so
    the listener never waits between pieces. Word cuts are made in the head only: they
    cost a misheard syllable now and then, a comma never does.
    """
    words = phonemes.split(" ")
    parts = split_head(phonemes, at_words=at_words)
    head = parts[0].split(" ") if parts else words[:_clause_cut(words, HEAD_MAX_PHONEMES + HEAD_SLACK_PHONEMES)]
    pieces, rest = [" ".join(head)], words[len(head):]
    sent = len(pieces[0])
    while rest:
        piece = rest[:_clause_cut(rest, STREAM_GROWTH * sent)]
        pieces.append(" ".join(piece))
        sent, rest = sent + len(pieces[-1]) + 1, rest[len(piece):]
    return pieces


def _clause_cut(words: list[str], budget: int) -> int:
    """How many of ``words`` the next piece takes: all when they fit ``budget`` phoneme
    characters, else up to the last clause mark that fits, else up to the first clause mark
    (all when there is none); each cut leaves at least ``HEAD_MIN_WORDS`` on both sides."""
    if len(" ".join(words)) <= budget:
        return len(words)
    marks = [i + 1 for i, word in enumerate(words[:-HEAD_MIN_WORDS])
             if word[-1] in _CLAUSE_MARKS and i + 1 >= HEAD_MIN_WORDS]
    fitting = [cut for cut in marks if len(" ".join(words[:cut])) <= budget]
    return fitting[-1] if fitting else marks[0] if marks else len(words)


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

    def __init__(self, frontend: Frontend, engine: Engine, side_by_side: bool = True) -> None:
        self.frontend = frontend
        self.engine = engine
        self.side_by_side = side_by_side  # whole readings' chunks rendered at once (``_side_by_side``)

    @cached_property
    def analyzer(self) -> Analyzer:
        """The spectral analysis a voice's conversion filters through (built on the first converted voice)."""
        from worker.tts.synthesis.conversion import Analyzer  # deferred: see TYPE_CHECKING

        return Analyzer(self.engine.sample_rate)

    def stream(
        self, text: str, voice: VoiceState, config: SynthesisConfig = SynthesisConfig()
    ) -> Iterator[AudioChunk]:
        """Yield one chunk per sentence as soon as it is rendered; the first sentence's
        opening phrase comes on its own (``continues=True``) so first audio is early."""
        analysis = self.frontend.analyze(text)
        yield from self._stream_analysis(analysis, voice, config, split_first=True)

    def _stream_analysis(
        self, analysis: Analysis, voice: VoiceState, config: SynthesisConfig, split_first: bool = False
    ) -> Iterator[AudioChunk]:
        pieces = self.pieces(analysis, voice, split_first)
        yield from filter(None, (self._chunk(piece, config, self.engine) for piece in pieces))

    def _side_by_side(self, analysis: Analysis, voice: VoiceState, config: SynthesisConfig) -> Iterator[AudioChunk]:
        """A whole reading's chunks, rendered ``engine.threads`` at a time, each on a one-thread
        session (``KokoroEngine.single_threaded``), in the reading's order. Two renders at once
        use two cores better than two threads inside one render (engine RTF 0.165 against 0.192
        for the same ten sentences on a 2-core host), with the same samples. A whole reading is
        delivered at once, so only its total time counts; a stream renders one chunk after
        another on all threads instead, because there the first chunk's time is what counts.
        An operator's engine, or one on a GPU, renders its chunks one after another."""
        pieces = list(self.pieces(analysis, voice))
        engine = self.engine
        if not (self.side_by_side and isinstance(engine, KokoroEngine) and engine.device == "cpu"
                and engine.threads > 1 and len(pieces) > 1):
            yield from filter(None, (self._chunk(piece, config, engine) for piece in pieces))
            return
        if voice.conversion is not None:
            _ = self.analyzer  # built once here, not by two lanes at once
        lane = engine.single_threaded
        with ThreadPoolExecutor(min(len(pieces), engine.threads), thread_name_prefix="render-lane") as pool:
            yield from filter(None, pool.map(lambda piece: self._chunk(piece, config, lane), pieces))

    def pieces(self, analysis: Analysis, voice: VoiceState, split_first: bool = False) -> Iterator[Piece]:
        """What the engine reads, in order: one piece per sentence, or (``split_first``) the
        first sentence in the pieces a stream sends (``stream_parts``)."""
        first = split_first
        lengths = [len(self.engine.tokenize(s.phonemes)) for s in analysis.sentences]
        voice = replace(voice, style=context_style(voice.style, [n for n in lengths if n]))
        for sentence, tokens in zip(analysis.sentences, lengths, strict=True):
            phonemes = sentence.phonemes
            if not tokens:
                continue
            chinese = all(segment.lang == "zh" for segment in sentence.segments)
            pieces = stream_parts(phonemes, at_words=chinese) if first else [phonemes]
            first = False
            reading = voice if len(pieces) == 1 else replace(voice, style=lift_rows(voice.style, tokens))
            for piece in pieces[:-1]:
                pause = CLAUSE_PAUSE_S if piece[-1] in _CLAUSE_MARKS else 0.0
                yield Piece(sentence.text, piece, reading, continues=True, pause_s=pause)
            yield Piece(sentence.text, pieces[-1], reading)

    def _chunk(self, piece: Piece, config: SynthesisConfig, engine: Engine) -> AudioChunk | None:
        sr = engine.sample_rate
        voice = piece.voice
        pitch = voice.conversion.pitch_curve() if voice.conversion is not None else NATURAL_PITCH
        raw = engine.synthesize(piece.phonemes, voice.style, config.speed, pitch, piece.continues)
        if voice.conversion is not None:
            raw = voice.conversion.apply(raw, self.analyzer)
        audio = _fade(level(trim_silence(raw, sr), sr), int(config.fade_ms * sr / 1000))
        if not audio.size:
            return None
        if piece.pause_s:
            audio = np.concatenate([audio, np.zeros(int(piece.pause_s * sr), np.float32)])
        return AudioChunk(piece.sentence, piece.phonemes, audio, piece.continues)

    def render(self, text: str, voice: VoiceState, config: SynthesisConfig = SynthesisConfig()) -> Rendered:
        return self.render_analysis(self.frontend.analyze(text), voice, config)

    def render_analysis(self, analysis: Analysis, voice: VoiceState, config: SynthesisConfig) -> Rendered:
        """Render text the caller already analyzed (it needed the analysis, e.g. for a cache key)."""
        parts = list(self._joined(self._side_by_side(analysis, voice, config), config))
        audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return Rendered(audio=limit_peak(audio), sample_rate=self.engine.sample_rate, analysis=analysis)

    def stream_audio(
        self, analysis: Analysis, voice: VoiceState, config: SynthesisConfig, split_first: bool = True
    ) -> Iterator[np.ndarray]:
        """The audio of a whole reading, piece by piece as it is rendered: each chunk with the
        pause that precedes it. Joined, the pieces are the render; a speech stream sends
        each as it comes (``split_first``: the opening phrase on its own, for early audio)."""
        return self._joined(self._stream_analysis(analysis, voice, config, split_first=split_first), config)

    def _joined(self, chunks: Iterator[AudioChunk], config: SynthesisConfig) -> Iterator[np.ndarray]:
        """Each chunk with the pause that precedes it: what a sentence's end or a cut asks for."""
        sr = self.engine.sample_rate
        previous: AudioChunk | None = None
        for chunk in chunks:
            if previous is None:
                yield chunk.audio
            else:
                last = previous.sentence.rstrip()[-1:]
                cut_in_sentence = bool(last) and last in _CLAUSE_TEXT_MARKS
                pause = min(CLAUSE_PAUSE_S, config.sentence_pause_s) if cut_in_sentence else config.sentence_pause_s
                if previous.continues:  # the rest of the head's sentence (a head cut at a comma ends in its pause)
                    pause = 0.0
                yield np.concatenate([np.zeros(int(pause * sr), np.float32), chunk.audio]) if pause else chunk.audio
            previous = chunk
