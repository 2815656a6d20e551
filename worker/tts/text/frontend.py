"""Text frontend: raw text -> normalized sentences -> Kokoro v1.0 phoneme strings.

Pipeline per input text:
  0. HTML, Markdown emphasis and emoji are removed (worker/tts/text/markup.py);
  1. inline overrides ``{word|reading}``, then the words of the lexicon passed to
     ``analyze`` (longest first), are swapped for private-use placeholder characters
     so normalization cannot touch them and their reading is forced: an inline
     override wins over the lexicon, the lexicon over the G2P models. Reading syntax:
     shared/pronunciation/readings.py;
  2. the text is cut into sentences; a sentence with any Han character is
     normalized as Chinese (numbers become characters, Latin words stay),
     otherwise as English (misaki reads numbers itself);
  3. each sentence is split into runs of one language; Chinese runs go through
     jieba + pypinyin + misaki's pinyin->IPA, English runs through misaki en;
  4. sentences whose phonemes exceed Kokoro's 510-token window are re-cut at
     clause punctuation.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from shared.pronunciation.lexicon import Lexicon, word_key
from shared.pronunciation.readings import OVERRIDE, check_reading, parse_pinyin, word_language
from shared.pronunciation.symbols import HAN, HAN_CLASS
from worker.tts.synthesis.assets import kokoro_vocab
from worker.tts.text.analysis import Analysis, CompiledLexicon, Forced, Segment, Sentence
from worker.tts.text.markup import clean_markup
from worker.tts.text.normalize_en import NO_STOP
from worker.tts.text.normalize_zh import normalize_zh

if TYPE_CHECKING:  # torch loads only when an adapter is actually used; each G2P with its first sentence
    from worker.tts.text.en_g2p import EnG2P
    from worker.tts.text.polyphone_model import LearnedPolyphones
    from worker.tts.text.zh_g2p import ZhG2P

MAX_PHONEMES = 510
_PUA_BASE = 0xE000
_PUA_MAX = 0xF8FF
_OVERRIDE = OVERRIDE
# A sentence ends at terminal punctuation (plus any closing quotes/brackets after it; the "?"
# of a web address's query, "?id=42", does not end one), or at an English period followed by whitespace or the end
# (not the period of a dotted abbreviation or of inches before a lower-case word: "a Ph.D. from the U.K.
# and", "10 in. wide").
_SENTENCE = re.compile(r".*?(?:(?:[。！？；;…\n]|!(?!=)|\?(?![\w%-]*=))+|"
                       + "".join(rf"(?<!\b{re.escape(a)})" for a in NO_STOP) + r"(?<!\d [NSEW])"  # 88 S. Elm Dr.
                       + r"(?!(?<=\.[A-Za-z])\.\s+[a-z])(?!(?<=\d in)\.\s+(?:[a-z]|[LWHD]\b))(?!(?<=\din)\.\s+[a-z])\.(?=\s|$))[”’」』》）)\"']*|.+", re.DOTALL)
_SPEAKABLE = re.compile(f"[A-Za-z0-9{HAN_CLASS}\ue000-\uf8ff]")
_EN_PUNCT = str.maketrans({"，": ",", "。": ".", "！": "!", "？": "?", "：": ":", "；": ";", "、": ",",
                           "“": "“", "”": "”", "（": "(", "）": ")"})
_CLAUSE_END = re.compile(r"(?<=[，,、：:；;—])")
_LATIN = re.compile(r"[A-Za-z]")
_EN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9'’\-\.&+ ]*[A-Za-z0-9+]|[A-Za-z]")


class Frontend:
    """Loaded once per process (jieba, misaki lexicons, espeak) and reused; holds no shared state.

    Each language's G2P is built when the first text in that language comes (seconds each:
    jieba's dictionary; spacy, misaki's lexicons and espeak), so a process that only ever reads
    English (``narrator say "Hello"``) never loads the Chinese one, and the other way round.
    """

    def __init__(self, lexicon: Mapping[str, str] | None = None, cache_dir: Path | None = None) -> None:
        """``cache_dir``: the model cache, where the English G2P keeps its built lexicon between
        processes (``worker.tts.text.en_g2p.us_lexicon``); None builds it in every process."""
        lexicon = dict(lexicon or {})
        self._cache_dir = cache_dir
        zh_lex: dict[str, tuple[str, ...]] = {}
        en_lex: dict[str, str] = {}
        for word, reading in lexicon.items():
            if HAN.search(word):
                zh_lex[word] = parse_pinyin(reading, word)
            elif _LATIN.search(word):
                en_lex[word] = reading
            else:
                raise ValueError(f"lexicon word {word!r} has neither Chinese nor Latin letters")
        self._zh_lexicon, self._en_lexicon = zh_lex, en_lex
        self._zh_g2p: ZhG2P | None = None
        self._en_g2p: EnG2P | None = None
        if en_lex:  # its readings are checked (and a bad one refused) now, not at the first English text
            self._en_g2p = self._en
        self._vocab = frozenset(kokoro_vocab())  # anything else would be dropped by the engine

    @property
    def _zh(self) -> ZhG2P:
        if self._zh_g2p is None:
            from worker.tts.text.zh_g2p import ZhG2P  # deferred: jieba and pypinyin load with Chinese

            self._zh_g2p = ZhG2P(self._zh_lexicon)
        return self._zh_g2p

    @property
    def _en(self) -> EnG2P:
        if self._en_g2p is None:
            from worker.tts.text.en_g2p import EnG2P  # deferred: spacy (torch with it) loads with English

            self._en_g2p = EnG2P(self._en_lexicon, self._cache_dir)
        return self._en_g2p

    # -- public ---------------------------------------------------------------

    def with_learned(self, learned: LearnedPolyphones | None) -> Frontend:
        """This frontend reading a tenant's learned characters with its promoted adapter;
        the heavy parts (jieba, lexicons, espeak) are shared, not copied."""
        adapted = copy.copy(self)
        adapted._zh_g2p = self._zh.with_learned(learned)
        return adapted

    def compile(self, lexicon: Lexicon) -> CompiledLexicon:
        """Parse every entry's reading once; a reading that cannot be spoken is a ValueError."""
        words: dict[str, Forced] = {}
        for entry in lexicon.entries:
            try:
                checked = check_reading(entry.word, entry.reading)
                words[word_key(entry.word)] = self._forced(entry.word, checked.text, "lexicon", entry.id)
            except ValueError as exc:
                raise ValueError(f"lexicon entry {entry.word!r} (version {lexicon.version}): {exc}") from None
        if not words:
            return CompiledLexicon(version=lexicon.version, words={}, pattern=None)
        alternatives = []
        groups = tuple(sorted(words, key=len, reverse=True))
        for n, key in enumerate(groups):
            escaped = r"\s+".join(re.escape(part) for part in words[key].word.split())
            bounded = escaped if words[key].lang == "zh" else rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
            alternatives.append(f"(?P<w{n}>{bounded})")
        return CompiledLexicon(version=lexicon.version, words=words,
                               pattern=re.compile("|".join(alternatives), re.IGNORECASE), groups=groups)

    def analyze(self, text: str, lexicon: CompiledLexicon | Lexicon | None = None) -> Analysis:
        """Normalize and phonemize ``text``; ``lexicon`` (compiled once, ideally) forces the
        readings of its words, and inline overrides in the text win over it."""
        if not isinstance(text, str):
            raise TypeError(f"analyze() wants str, got {type(text).__name__}")
        if isinstance(lexicon, Lexicon):
            lexicon = self.compile(lexicon)
        protected, forced = self._protect(clean_markup(text), lexicon)
        sentences: list[Sentence] = []
        normalized_parts: list[str] = []
        text_is_zh = _is_chinese(protected, forced)
        for raw in _split_sentences(protected):
            if not raw.strip():
                normalized_parts.append(raw)
                continue
            is_zh = _sentence_is_chinese(raw, forced, default=text_is_zh)
            norm = normalize_zh(raw) if is_zh else raw
            normalized_parts.append(norm)
            sentences.extend(self._sentences(norm.strip(), forced, is_zh))
        normalized = _restore("".join(normalized_parts), forced).strip()
        return Analysis(original=text, normalized=normalized, sentences=sentences, forced=list(forced.values()),
                        lexicon_version=lexicon.version if lexicon is not None else None)

    # -- steps ----------------------------------------------------------------

    def _forced(self, word: str, reading: str, source: str, entry_id: str | None = None) -> Forced:
        if word_language(word) == "zh":
            return Forced(word, "zh", reading, source, pinyin=parse_pinyin(reading, word), entry_id=entry_id)
        return Forced(word, "en", reading, source, phonemes=self._en.reading_to_phonemes(reading), entry_id=entry_id)

    def _protect(self, text: str, lexicon: CompiledLexicon | None = None) -> tuple[str, dict[str, Forced]]:
        """Swap overrides, then lexicon words, for placeholder characters; override readings
        are checked here so errors point at the input."""
        forced: dict[str, Forced] = {}

        def placeholder(item: Forced) -> str:
            code = _PUA_BASE + len(forced)
            if code > _PUA_MAX:
                raise ValueError("too many inline overrides in one text")
            ch = chr(code)
            forced[ch] = item
            return ch

        def sub(m: re.Match[str]) -> str:
            word, reading = m.group(1).strip(), m.group(2).strip()
            if not word:
                raise ValueError(f"empty word in override {m.group(0)!r}")
            try:
                return placeholder(self._forced(word, reading, "inline"))
            except ValueError as exc:
                raise ValueError(f"override {m.group(0)!r}: {exc}") from None

        def from_lexicon(m: re.Match[str]) -> str:
            assert lexicon is not None
            entry = lexicon.entry_for(m)
            return placeholder(Forced(m.group(0), entry.lang, entry.reading, "lexicon", pinyin=entry.pinyin,
                                      phonemes=entry.phonemes, entry_id=entry.entry_id))

        if any(_PUA_BASE <= ord(c) <= _PUA_MAX for c in text):
            text = "".join(c for c in text if not _PUA_BASE <= ord(c) <= _PUA_MAX)
        text = _OVERRIDE.sub(sub, text)
        if lexicon is not None and lexicon.pattern is not None:
            text = lexicon.pattern.sub(from_lexicon, text)
        return text, forced

    def _sentences(self, norm: str, forced: Mapping[str, Forced], is_zh: bool) -> list[Sentence]:
        if len(norm) > MAX_PHONEMES:
            return self._cut_long(norm, forced, is_zh)
        sentence = self._sentence(norm, forced, is_zh)
        if len(sentence.phonemes) <= MAX_PHONEMES:
            return [sentence]
        clauses = [c for c in _CLAUSE_END.split(norm) if c.strip()]
        if len(clauses) == 1:
            return self._hard_split(norm, forced, is_zh)
        out: list[Sentence] = []
        buf = ""
        for clause in clauses:
            trial = buf + clause
            if buf and len(self._sentence(trial, forced, is_zh).phonemes) > MAX_PHONEMES:
                out.extend(self._sentences(buf, forced, is_zh))
                buf = clause
            else:
                buf = trial
        if buf.strip():
            out.extend(self._sentences(buf, forced, is_zh))
        return out

    def _cut_long(self, norm: str, forced: Mapping[str, Forced], is_zh: bool) -> list[Sentence]:
        """A text longer than the window in characters cannot fit it (every character that is
        said gives at least one phoneme), so it is cut at clauses, then halved, before it is read:
        reading 10 000 characters whole and again at each halving took minutes."""
        clauses = [c for c in _CLAUSE_END.split(norm) if c.strip()]
        if len(clauses) == 1:
            return self._hard_split(norm, forced, is_zh)
        out: list[Sentence] = []
        buf = ""
        for clause in clauses:
            if buf and len(buf) + len(clause) > MAX_PHONEMES:
                out.extend(self._sentences(buf, forced, is_zh))
                buf = clause
            else:
                buf += clause
        if buf.strip():
            out.extend(self._sentences(buf, forced, is_zh))
        return out

    def _hard_split(self, norm: str, forced: Mapping[str, Forced], is_zh: bool) -> list[Sentence]:
        """No clause punctuation left: halve the text (at a space when there is one) until it fits."""
        if len(norm) <= 1:
            return [self._sentence(norm, forced, is_zh)]
        mid = len(norm) // 2
        space = norm.rfind(" ", 0, mid)
        cut = space if space > 0 else mid
        return self._sentences(norm[:cut].strip(), forced, is_zh) + self._sentences(norm[cut:].strip(), forced, is_zh)

    def _sentence(self, norm: str, forced: Mapping[str, Forced], is_zh: bool) -> Sentence:
        segments: list[Segment] = []
        for lang, run in _runs(norm, forced, is_zh):
            seg = self._segment(lang, run, forced)
            if seg.text.strip():
                segments.append(seg)
        return Sentence(text=_restore(norm, forced).strip(), segments=segments)

    def _segment(self, lang: str, run: str, forced: Mapping[str, Forced]) -> Segment:
        pieces: list[tuple[str, Forced | None]] = []
        buf = ""
        for ch in run:
            if ch in forced:
                if buf:
                    pieces.append((buf, None))
                    buf = ""
                pieces.append((forced[ch].spoken, forced[ch]))
            else:
                buf += ch
        if buf:
            pieces.append((buf, None))
        text = "".join(p for p, _ in pieces)
        if lang == "zh":
            phonemes, pinyin, skipped = self._zh.convert([(p, f.pinyin if f else None) for p, f in pieces])
            return Segment(text=text.strip(), lang="zh", phonemes=self._clean(phonemes), pinyin=pinyin,
                           skipped=skipped)
        parts = [f.phonemes or "" if f else self._en.phonemize(p.translate(_EN_PUNCT)) for p, f in pieces]
        return Segment(text=text.strip(), lang="en", phonemes=self._clean(" ".join(x for x in parts if x)))

    def _clean(self, phonemes: str) -> str:
        """Drop symbols Kokoro has no embedding for, so what we report is what it hears."""
        return re.sub(r" {2,}", " ", "".join(c for c in phonemes if c in self._vocab)).strip()


def _is_chinese(text: str, forced: Mapping[str, Forced]) -> bool:
    """Language of the whole text: Chinese if any Han character (or Chinese override) occurs,
    or if there is no English word at all (bare numbers and formulas read in Chinese).

    Deciding once per text keeps an English sentence inside a Chinese narration
    reading its numbers in Chinese, like the sentences around it.
    """
    if HAN.search(text) or any(f.lang == "zh" for f in forced.values()):
        return True
    plain = "".join(c for c in text if c not in forced)
    return not re.search(r"[A-Za-z]{2,}", plain) and not any(f.lang == "en" for f in forced.values())


def _sentence_is_chinese(raw: str, forced: Mapping[str, Forced], default: bool) -> bool:
    """A sentence with Han characters is Chinese, one with English words is English;
    bare numbers and formulas follow the language of the whole text."""
    if HAN.search(raw) or any(forced[c].lang == "zh" for c in raw if c in forced):
        return True
    plain = "".join(c for c in raw if c not in forced)
    if re.search(r"[A-Za-z]{2,}", plain) or any(forced[c].lang == "en" for c in raw if c in forced):
        return False
    return default


def _split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; pieces with nothing to say (stray punctuation) join the one before."""
    out: list[str] = []
    for piece in _SENTENCE.findall(text):
        if out and not _SPEAKABLE.search(piece):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _restore(text: str, forced: Mapping[str, Forced]) -> str:
    return "".join(forced[c].spoken if c in forced else c for c in text)


def _runs(norm: str, forced: Mapping[str, Forced], is_zh: bool) -> list[tuple[str, str]]:
    """Cut a normalized sentence into (lang, text) runs; punctuation stays with the run before it."""
    if not is_zh:
        return [("en", norm)]
    runs: list[tuple[str, str]] = []
    pos = 0
    en_re = re.compile(_EN_RUN.pattern + "|[" + "".join(
        re.escape(k) for k, f in forced.items() if f.lang == "en") + "]" if any(
        f.lang == "en" for f in forced.values()) else _EN_RUN.pattern)
    for m in en_re.finditer(norm):
        if m.start() > pos:
            runs.append(("zh", norm[pos:m.start()]))
        runs.append(("en", m.group(0)))
        pos = m.end()
    if pos < len(norm):
        runs.append(("zh", norm[pos:]))
    # Merge punctuation-only zh runs (", ") into the run before them.
    merged: list[tuple[str, str]] = []
    for lang, text in runs:
        if merged and lang == "zh" and not HAN.search(text) and not any(c in forced for c in text):
            prev_lang, prev_text = merged[-1]
            merged[-1] = (prev_lang, prev_text + text)
        elif merged and merged[-1][0] == lang:
            merged[-1] = (lang, merged[-1][1] + text)
        else:
            merged.append((lang, text))
    return merged

