"""Scoring of the frontend against its evaluation sets (tests/data/frontend_hard.tsv and the
tuning and sealed sets beside it).

Shared by bench/frontend_accuracy.py and the pytest accuracy gates so both measure the same
thing. An expected normalization may list accepted alternatives separated by "|" (where two
conventions of Chinese differ); 〇 and 零 are the same sound and spaces are not spoken, so
neither is scored. English lines are scored by sound: their phonemes against the phonemes of
the words a reader says (``expected_spoken``), or for homographs against the reading the word
must get (``expected_phonemes``).
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from worker.tts.text.en_g2p import EnG2P
from worker.tts.text.frontend import Frontend

# 一 and 不 change tone by context (sandhi); pypinyin's phrase table carries
# some of those changes and not others, so their tone is not scored.
_SANDHI_CHARS = frozenset("一不")


@dataclass(frozen=True)
class Case:
    category: str
    text: str
    expected_normalized: str
    expected_pinyin: str


@dataclass(frozen=True)
class Result:
    case: Case
    normalized: str
    pinyin: str
    ok: bool


def _rows(path: Path) -> list[dict[str, str]]:
    """A set's TSV lines as dicts; ``#`` lines are comments and quotes are literal text."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t",
                                   quoting=csv.QUOTE_NONE))


def load_cases(path: Path) -> list[Case]:
    return [Case(r["category"], r["text"], r.get("expected_normalized") or "",
                 r.get("expected_pinyin") or "") for r in _rows(path)]


def normalization_matches(got: str, expected: str) -> bool:
    """Whether ``got`` is one of the "|"-separated alternatives of ``expected``."""
    key = _normalization_key(got)
    return any(key == _normalization_key(alt) for alt in expected.split("|"))


def _normalization_key(text: str) -> str:
    return "".join(text.split()).replace("〇", "零")


def _pinyin_key(pairs: list[tuple[str, str]]) -> list[str]:
    return [p.replace("ü", "v").rstrip("12345") if c in _SANDHI_CHARS else p.replace("ü", "v")
            for c, p in pairs]


def score(frontend: Frontend, case: Case) -> Result:
    analysis = frontend.analyze(case.text)
    pairs = analysis.pinyin()
    got_py = " ".join(p for _, p in pairs)
    ok = True
    if case.expected_normalized:
        ok &= normalization_matches(analysis.normalized, case.expected_normalized)
    if case.expected_pinyin:
        want = case.expected_pinyin.split()
        han = [c for c, _ in pairs]
        want_pairs = list(zip(han, want)) if len(want) == len(han) else [("", w) for w in want]
        ok &= _pinyin_key(pairs) == _pinyin_key(want_pairs)
    return Result(case, analysis.normalized, got_py, ok)


def evaluate(frontend: Frontend, cases: list[Case]) -> dict[str, object]:
    """Per-category and overall accuracy, plus the failures and the time per line."""
    by_cat: dict[str, list[bool]] = defaultdict(list)
    failures: list[dict[str, str]] = []
    start = time.perf_counter()
    for case in cases:
        r = score(frontend, case)
        by_cat[case.category].append(r.ok)
        if not r.ok:
            failures.append({"category": case.category, "text": case.text,
                             "expected_normalized": case.expected_normalized, "normalized": r.normalized,
                             "expected_pinyin": case.expected_pinyin, "pinyin": r.pinyin})
    elapsed = time.perf_counter() - start
    total = sum(len(v) for v in by_cat.values())
    return {
        "categories": {k: {"n": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(by_cat.items())},
        "n": total,
        "accuracy": sum(sum(v) for v in by_cat.values()) / total if total else 0.0,
        "ms_per_line": 1000 * elapsed / total if total else 0.0,
        "failures": failures,
    }


@dataclass(frozen=True)
class EnCase:
    category: str
    text: str
    expected_spoken: str
    expected_phonemes: str


def load_en_cases(path: Path) -> list[EnCase]:
    return [EnCase(r["category"], r["text"], r.get("expected_spoken") or "",
                   r.get("expected_phonemes") or "") for r in _rows(path)]


_NOT_SOUND = frozenset(" ˈˌ.,!?;:—…-\"'“”()")


def _sound_key(phonemes: str) -> str:
    return "".join(c for c in phonemes if c not in _NOT_SOUND)


def evaluate_en(frontend: Frontend, cases: list[EnCase], plain: EnG2P | None = None) -> dict[str, object]:
    """English lines scored by sound. ``plain`` reads the expected words (no normalization, so
    the rules under test cannot make both sides agree); one is built when not given."""
    plain = plain or EnG2P()
    by_cat: dict[str, list[bool]] = defaultdict(list)
    failures: list[dict[str, str]] = []
    start = time.perf_counter()
    for case in cases:
        analysis = frontend.analyze(case.text)
        got = " ".join(s.phonemes for s in analysis.sentences)
        ok = all(seg.lang == "en" for s in analysis.sentences for seg in s.segments)
        if case.expected_spoken:
            ok &= any(_sound_key(got) == _sound_key(plain.words_to_phonemes(alt))
                      for alt in case.expected_spoken.split("|"))
        if case.expected_phonemes:
            ok &= all(want in got for want in case.expected_phonemes.split(";"))
        by_cat[case.category].append(ok)
        if not ok:
            failures.append({"category": case.category, "text": case.text, "normalized": analysis.normalized,
                             "phonemes": got, "expected_spoken": case.expected_spoken,
                             "expected_phonemes": case.expected_phonemes})
    elapsed = time.perf_counter() - start
    total = sum(len(v) for v in by_cat.values())
    return {
        "categories": {k: {"n": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(by_cat.items())},
        "n": total,
        "accuracy": sum(sum(v) for v in by_cat.values()) / total if total else 0.0,
        "ms_per_line": 1000 * elapsed / total if total else 0.0,
        "failures": failures,
    }
