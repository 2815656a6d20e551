"""What the frontend decided about a text: its sentences and language runs with their
phonemes and pinyin, the readings that were forced (inline overrides, lexicon entries), and
a lexicon compiled for matching. The pipeline renders from an ``Analysis``; the CLI and a
batch item's record show it as JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.pronunciation.readings import spoken_zh


@dataclass(frozen=True)
class Segment:
    """A run of one language inside a sentence."""

    text: str
    lang: str
    phonemes: str
    pinyin: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # characters with no reading, left unsaid


@dataclass(frozen=True)
class Sentence:
    text: str
    segments: list[Segment]

    @property
    def phonemes(self) -> str:
        return " ".join(s.phonemes for s in self.segments if s.phonemes).strip()


@dataclass(frozen=True)
class Forced:
    """A reading that won over the G2P models: an inline override or a lexicon entry.

    Placeholders in the protected text stand for these: the word as written, and either
    pinyin or English phonemes.
    """

    word: str
    lang: str
    reading: str
    source: str  # "inline" | "lexicon"
    pinyin: tuple[str, ...] | None = None
    phonemes: str | None = None
    entry_id: str | None = None

    @property
    def spoken(self) -> str:
        """The word as the normalized text says it (α粒子 → 阿尔法粒子); ``word`` is how the
        input writes it, which is what a lexicon entry matches."""
        return spoken_zh(self.word) if self.lang == "zh" else self.word

    def to_json(self) -> dict[str, object]:
        return {"word": self.word, "reading": self.reading, "lang": self.lang, "source": self.source,
                "entry_id": self.entry_id}


@dataclass(frozen=True)
class CompiledLexicon:
    """A lexicon with its readings parsed and one pattern finding its words; built once per
    lexicon version by ``Frontend.compile`` and kept by the caller (the worker's model cache)."""

    version: int
    words: Mapping[str, Forced]
    pattern: re.Pattern[str] | None
    # The word key of each alternative of ``pattern``, in order: alternative ``n`` is the named
    # group ``w{n}``, so a match names its entry. Looking the matched text up instead fails
    # wherever case-insensitive matching is wider than ``word_key`` ("ſkype" matches "Skype").
    groups: tuple[str, ...] = ()

    def entry_for(self, match: re.Match[str]) -> Forced:
        """The entry whose alternative of ``pattern`` made ``match``."""
        assert match.lastgroup is not None and match.lastgroup.startswith("w")
        return self.words[self.groups[int(match.lastgroup[1:])]]


@dataclass(frozen=True)
class Analysis:
    original: str
    normalized: str
    sentences: list[Sentence]
    forced: list[Forced] = field(default_factory=list)
    lexicon_version: int | None = None

    def pinyin(self) -> list[tuple[str, str]]:
        return [p for s in self.sentences for seg in s.segments for p in seg.pinyin]

    def warnings(self) -> list[str]:
        """What the reading left out, one line per character: kept on a batch item's record so
        a text with a rare character is rendered (without it) and the gap is visible."""
        skipped = [c for s in self.sentences for seg in s.segments for c in seg.skipped]
        return [f"skipped U+{ord(c):04X} {c}: no reading known" for c in dict.fromkeys(skipped)]

    def lexicon_matches(self) -> list[Forced]:
        """The lexicon entries this text used, once each."""
        out: dict[str | None, Forced] = {}
        for f in self.forced:
            if f.source == "lexicon":
                out.setdefault(f.entry_id or f.word, f)
        return list(out.values())

    def to_json(self) -> dict[str, object]:
        return {
            "normalized": self.normalized,
            "pinyin": [[c, p] for c, p in self.pinyin()],
            "segments": [
                # lang is kept for existing readers; language says the same: a line (or run) with
                # no Chinese character is English
                {"text": seg.text, "lang": seg.lang, "language": seg.lang, "phonemes": seg.phonemes}
                for s in self.sentences for seg in s.segments
            ],
            "overrides": [f.to_json() for f in self.forced],
            "warnings": self.warnings(),
        }
