"""The pronunciation benchmark's data is well formed: what bench/pronunciation.py scores must
itself be consistent, or its error rates mean nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shared.pronunciation.pinyin import syllable_to_ipa
from shared.pronunciation.symbols import HAN
from worker.tts.evaluation.pronunciation_eval import (
    CATEGORIES,
    SYLLABLE,
    Row,
    load_rows,
    term_positions,
    train_lexicon,
)

DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "pronunciation.tsv"


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return load_rows(DATA)


def test_file_parses_with_enough_rows(rows: list[Row]) -> None:
    assert len(rows) >= 320
    ids = Counter(r.id for r in rows)
    assert not [i for i, n in ids.items() if n > 1], "duplicate ids"
    assert sum(r.split == "base" for r in rows) >= 100
    assert {r.category for r in rows} == set(CATEGORIES)
    assert not [r.id for r in rows if r.split == "base" and (r.term or r.reading or r.word)]
    assert not [r.id for r in rows if r.split != "base" and not (r.term and r.reading)]


def test_one_valid_syllable_per_chinese_character(rows: list[Row]) -> None:
    bad: list[str] = []
    syllables: set[str] = set()
    for r in rows:
        han = HAN.findall(r.normalized)
        pinyin = r.expected_pinyin.split()
        if len(pinyin) != len(han):
            bad.append(f"{r.id}: {len(pinyin)} syllables for {len(han)} characters")
        bad += [f"{r.id}: {s!r} is not tone-numbered pinyin" for s in pinyin if not SYLLABLE.match(s)]
        syllables.update(pinyin)
    for s in sorted(syllables):
        try:
            syllable_to_ipa(s.replace("v", "ü"))
        except ValueError:
            bad.append(f"{s!r} is not a Mandarin syllable")
    assert not bad, "\n".join(bad)


def test_every_term_has_three_train_and_three_test_rows(rows: list[Row]) -> None:
    counts = Counter((r.term, r.split) for r in rows if r.term)
    terms = {r.term for r in rows if r.term}
    assert len(terms) >= 40
    short = [t for t in sorted(terms) if counts[(t, "train")] < 3 or counts[(t, "test")] < 3]
    assert not short, f"terms with fewer than 3 train or 3 test rows: {short}"


def test_reading_matches_expected_pinyin_at_every_occurrence(rows: list[Row]) -> None:
    bad: list[str] = []
    for r in rows:
        if not r.term:
            continue
        han = "".join(HAN.findall(r.normalized))
        pinyin = r.expected_pinyin.split()
        reading = r.reading.split()
        if len(reading) != len(r.scored_han):
            bad.append(f"{r.id}: reading {r.reading!r} does not fit {r.scored_han}")
            continue
        starts = term_positions(han, r.scored_han)
        if not starts:
            bad.append(f"{r.id}: {r.scored_han} not in the normalized text")
        bad += [f"{r.id}: {r.scored_han} is {' '.join(pinyin[s:s + len(reading)])}, reading says {r.reading}"
                for s in starts if pinyin[s:s + len(reading)] != reading]
    assert not bad, "\n".join(bad)


def test_test_split_is_unseen_and_related_words_share_the_hard_character(rows: list[Row]) -> None:
    train_texts = {r.text for r in rows if r.split == "train"}
    assert not [r.id for r in rows if r.split in ("test", "base") and r.text in train_texts]
    assert not [r.id for r in rows if r.word and r.split != "test"], "related words belong to the test split"
    unrelated = [r.id for r in rows if r.word and not set(r.word) & set(r.term)]
    assert not unrelated, f"related words sharing no character with their term: {unrelated}"
    readings: dict[str, set[str]] = {}
    for r in rows:
        if r.term and not r.word:
            readings.setdefault(r.term, set()).add(r.reading)
    assert not {t: rs for t, rs in readings.items() if len(rs) > 1}, "a term with two readings"


def test_train_lexicon_has_one_entry_per_chinese_term(rows: list[Row]) -> None:
    lexicon, unsupported = train_lexicon(rows)
    terms = {r.term for r in rows if r.split == "train"}
    assert {e.word for e in lexicon.entries} | set(unsupported) == terms
    # Only terms written with a symbol the normalizer rewrites are left out.
    assert all(not all(HAN.match(c) for c in t) for t in unsupported)
    assert all(e.language == "zh" for e in lexicon.entries)
