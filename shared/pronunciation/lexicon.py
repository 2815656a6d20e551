"""A pronunciation lexicon as the frontend sees it: words and readings, plus the version
they belong to. The rows and their history live in the database (shared/lexicon.py);
this module only holds the plain values and the CSV form both the API and the CLI read.

CSV: a header row ``word,reading,language,voice_id`` (``language`` and ``voice_id`` may be
empty or left out: the language follows from the word, no voice means every voice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.pronunciation.readings import check_reading

CSV_FIELDS = ("word", "reading", "language", "voice_id")


@dataclass(frozen=True)
class Entry:
    word: str
    reading: str
    language: str
    voice_id: str | None = None
    id: str | None = None  # the database row, when the entry came from one


@dataclass(frozen=True)
class Lexicon:
    """The entries one render applies (voice entries already merged over tenant ones)."""

    version: int
    entries: tuple[Entry, ...] = ()

    @classmethod
    def merged(cls, version: int, entries: Iterable[Entry], voice_id: str | None) -> Lexicon:
        """Tenant-wide entries, overridden word by word by the voice's own entries."""
        chosen: dict[str, Entry] = {}
        for entry in sorted(entries, key=lambda e: e.voice_id is not None):
            if entry.voice_id is None or entry.voice_id == voice_id:
                chosen[word_key(entry.word)] = entry
        return cls(version=version, entries=tuple(sorted(chosen.values(), key=lambda e: e.word)))


class LexiconCsvError(ValueError):
    """Every bad line of a CSV, so the author can fix them all at once."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"line {n}: {reason}" for n, reason in errors[:20]))
        self.errors = errors


def word_key(word: str) -> str:
    """Words are the same entry regardless of the case of Latin letters ("Xiaomi" = "XIAOMI")."""
    return " ".join(word.split()).lower()


def parse_csv(text: str, voice_known: Callable[[str], bool] | None = None) -> list[Entry]:
    """Checked entries of a lexicon CSV; raises LexiconCsvError naming every bad line.
    ``voice_known`` (when given) decides whether a ``voice_id`` may be used."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip() for f in reader.fieldnames or []]
    if "word" not in fields or "reading" not in fields:
        raise LexiconCsvError([(1, "the header row must name the columns word,reading[,language,voice_id]")])
    unknown = sorted(set(fields) - set(CSV_FIELDS))
    if unknown:
        raise LexiconCsvError([(1, f"unknown columns: {', '.join(unknown)}")])
    reader.fieldnames = fields
    entries: list[Entry] = []
    errors: list[tuple[int, str]] = []
    seen: dict[tuple[str, str | None], int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append((line, "more fields than the header has"))
            continue
        word = " ".join((row.get("word") or "").split())
        reading = (row.get("reading") or "").strip()
        language = (row.get("language") or "").strip() or None
        voice_id = (row.get("voice_id") or "").strip() or None
        if not word and not reading and not language and not voice_id:
            continue  # a blank line
        try:
            checked = check_reading(word, reading, language)
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        if voice_id is not None and voice_known is not None and not voice_known(voice_id):
            errors.append((line, f"unknown voice_id {voice_id!r}"))
            continue
        key = (word_key(word), voice_id)
        if key in seen:
            errors.append((line, f"word {word!r} already appears on line {seen[key]}"))
            continue
        seen[key] = line
        entries.append(Entry(word=word, reading=checked.text, language=checked.language, voice_id=voice_id))
    if errors:
        raise LexiconCsvError(errors)
    return entries


def to_csv(entries: Iterable[Entry]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for e in entries:
        writer.writerow([e.word, e.reading, e.language, e.voice_id or ""])
    return buf.getvalue()
