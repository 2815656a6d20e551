"""Scoring of the frontend against bench/data/pronunciation.tsv, the feedback-loop benchmark.

Each row is a sentence about one hard term (a brand, surname, place, unit or symbol whose
reading the frontend may get wrong), or a plain regression sentence (split ``base``). The
``train`` rows stand for what reviewers corrected; a lexicon built from them (or an adapter
trained on them) is judged on the unseen ``test`` rows and must not break the ``base`` rows.
Shared by bench/pronunciation.py and tests/worker/test_pronunciation_data.py so both read
the file the same way.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.pronunciation.lexicon import Entry, Lexicon
from shared.pronunciation.readings import check_reading
from shared.pronunciation.symbols import HAN
from worker.tts.text.normalize_zh import normalize_zh

if TYPE_CHECKING:  # the frontend loads jieba and misaki; reading the data needs neither
    from worker.tts.text.analysis import Analysis, CompiledLexicon

SPLITS = ("base", "train", "test")
CATEGORIES = ("polyphone", "brand", "model_number", "unit_price", "greek_math", "mixed_en", "surname", "place")
COLUMNS = ("id", "split", "category", "term", "reading", "word", "text", "expected_normalized", "expected_pinyin")
SYLLABLE = re.compile(r"^[a-z]+[1-5]$")
# 一 and 不 change tone by context (sandhi); the data writes their citation tone and it is not scored.
SANDHI_CHARS = frozenset("一不")


class Analyzer(Protocol):
    """What is scored: the frontend, or anything that analyzes text the same way."""

    def analyze(self, text: str, lexicon: CompiledLexicon | Lexicon | None = None) -> Analysis: ...


@dataclass(frozen=True)
class Row:
    id: str
    split: str
    category: str
    term: str
    reading: str
    word: str  # a related word this sentence uses instead of the term (农行 for 招行), or ""
    text: str
    expected_normalized: str
    expected_pinyin: str

    @property
    def normalized(self) -> str:
        """The text as the frontend should normalize it (the text itself when nothing changes)."""
        return self.expected_normalized or self.text

    @property
    def scored_word(self) -> str:
        """The word whose reading this row checks: ``word`` when set, else ``term``."""
        return self.word or self.term

    @property
    def scored_han(self) -> str:
        """The scored word's Han characters once normalized: α粒子 -> 阿尔法粒子."""
        return "".join(HAN.findall(normalize_zh(self.scored_word)))


@dataclass(frozen=True)
class RowResult:
    row: Row
    normalized: str
    pinyin: tuple[str, ...]
    term_ok: bool | None  # None for base rows, which have no term
    sentence_ok: bool
    term_pinyin: str = ""  # how the scored word was read (its first occurrence); "" when not found


def load_rows(path: Path) -> list[Row]:
    """Rows of the TSV; a malformed file is a ValueError naming the line."""
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{path}: columns must be {'/'.join(COLUMNS)}, got {reader.fieldnames}")
    rows: list[Row] = []
    for n, record in enumerate(reader, 2):
        if None in record or any(v is None for v in record.values()):
            raise ValueError(f"{path}: data row {n} does not have {len(COLUMNS)} fields")
        row = Row(**{k: record[k].strip() for k in COLUMNS})
        if row.split not in SPLITS or row.category not in CATEGORIES:
            raise ValueError(f"{path}: row {row.id}: unknown split {row.split!r} or category {row.category!r}")
        rows.append(row)
    return rows


def syllable_key(char: str, syllable: str) -> str:
    """A syllable as compared: ü spelled v, and no tone on 一/不."""
    syllable = syllable.replace("ü", "v")
    return syllable.rstrip("12345") if char in SANDHI_CHARS else syllable


def term_positions(han: str, word_han: str) -> list[int]:
    """Every start of ``word_han`` in the Han characters ``han`` of a sentence."""
    return [m.start() for m in re.finditer(f"(?={re.escape(word_han)})", han)] if word_han else []


def train_lexicon(rows: Iterable[Row], version: int = 1) -> tuple[Lexicon, list[str]]:
    """One entry per train-split term, as a reviewer's accepted feedback would add it.

    Returns the lexicon and the terms it cannot hold (a reading the entry checks refuse).
    A term written with a Greek letter or math symbol (α粒子, ∑符号) is an entry like any
    other: it matches the text as written and reads as spoken (阿尔法粒子).
    """
    readings: dict[str, str] = {}
    for row in rows:
        if row.split == "train" and row.term and readings.setdefault(row.term, row.reading) != row.reading:
            raise ValueError(f"term {row.term!r} has two readings in the train split")
    entries: list[Entry] = []
    unsupported: list[str] = []
    for term, reading in sorted(readings.items()):
        try:
            checked = check_reading(term, reading)
        except ValueError:
            unsupported.append(term)
            continue
        entries.append(Entry(word=term, reading=checked.text, language=checked.language, id=f"train:{term}"))
    return Lexicon(version=version, entries=tuple(entries)), unsupported


def correction_examples(rows: Iterable[Row], split: str = "train") -> list[tuple[str, int, str]]:
    """(normalized sentence, character index, reading) for every character of each row's scored
    word: the per-character corrections a polyphone adapter is trained or tested on."""
    out: list[tuple[str, int, str]] = []
    for row in rows:
        if row.split != split or not row.scored_word:
            continue
        sentence = row.normalized
        han_index = [i for i, c in enumerate(sentence) if HAN.match(c)]
        han = "".join(sentence[i] for i in han_index)
        syllables = row.reading.split()
        for start in term_positions(han, row.scored_han):
            for k, syllable in enumerate(syllables):
                out.append((sentence, han_index[start + k], syllable))
    return out


def score(frontend: Analyzer, row: Row, lexicon: CompiledLexicon | None = None) -> RowResult:
    """Whether the scored word is read right (every occurrence) and whether the whole sentence is."""
    analysis = frontend.analyze(row.text, lexicon)
    pairs = analysis.pinyin()
    got = [syllable_key(c, p) for c, p in pairs]
    want_syllables = row.expected_pinyin.split()
    han = "".join(c for c, _ in pairs)
    sentence_ok = len(want_syllables) == len(pairs) and got == [
        syllable_key(c, p) for (c, _), p in zip(pairs, want_syllables)]
    if row.expected_normalized:
        sentence_ok &= analysis.normalized == row.expected_normalized
    term_ok: bool | None = None
    term_pinyin = ""
    if row.scored_word:
        want = row.reading.split()
        starts = term_positions(han, row.scored_han)
        term_ok = bool(starts) and all(
            got[s:s + len(want)] == [syllable_key(c, p) for c, p in zip(han[s:], want)] for s in starts)
        if starts:
            term_pinyin = " ".join(p for _, p in pairs[starts[0]:starts[0] + len(want)])
    return RowResult(row, analysis.normalized, tuple(p for _, p in pairs), term_ok, sentence_ok, term_pinyin)


def summarize(results: list[RowResult]) -> dict[str, object]:
    """Error rates per category and overall: terms read wrong, sentences with any error."""
    by_cat: dict[str, list[RowResult]] = defaultdict(list)
    for r in results:
        by_cat[r.row.category].append(r)

    def rates(rs: list[RowResult]) -> dict[str, object]:
        termed = [r for r in rs if r.term_ok is not None]
        return {
            "n": len(rs),
            "term_error": (sum(not r.term_ok for r in termed) / len(termed)) if termed else None,
            "sentence_error": sum(not r.sentence_ok for r in rs) / len(rs) if rs else 0.0,
        }

    return {"all": rates(results), "categories": {c: rates(by_cat[c]) for c in CATEGORIES if by_cat[c]}}


def failure(r: RowResult) -> dict[str, str]:
    return {"id": r.row.id, "term": r.row.scored_word, "text": r.row.text,
            "expected_normalized": r.row.normalized, "normalized": r.normalized,
            "expected_pinyin": r.row.expected_pinyin, "pinyin": " ".join(r.pinyin)}
