"""What a reading may look like: the one syntax for inline overrides, lexicon entries and
reviewers' feedback, checked the same way by the API (before anything is stored) and by
the frontend (before anything is spoken).

- Chinese words (Han characters only) take tone-numbered pinyin, one syllable per
  character: ``yin2 hang2`` (``v`` or ``u:`` for ``ü``, tone 5 for the neutral tone).
  A Chinese word may be written with Greek letters or math symbols (α粒子, π函数, ∑符号):
  its reading then has one syllable per character of the word as spoken (阿尔法粒子).
- English words (Latin letters, digits, ``' - . & +`` and spaces) take one of
  * ARPAbet as in CMUdict, stress digits on vowels: ``SH AW1 M IY0``;
  * a respelling after a tilde, read by the English G2P: ``~show me``;
  * Kokoro phonemes between slashes: ``/ʃˈWmi/``.

Nothing here loads a model: pinyin and the Kokoro vocabulary come from data files
(shared/pronunciation/pinyin.py, symbols.py), so the API checks readings cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.pronunciation.arpabet import arpabet_to_phonemes
from shared.pronunciation.pinyin import syllable_to_ipa
from shared.pronunciation.symbols import GREEK, HAN, MATH, kokoro_symbols

PINYIN_SYLLABLE = re.compile(r"^[a-zü]+r?[1-5]$")
_EN_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9'’\-.&+ ]*$")
_RESPELLING = re.compile(r"^[A-Za-z][A-Za-z'’\- ]*$")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Reading:
    """A checked reading: its language, its normalized text and what kind it is."""

    language: str
    text: str
    kind: str  # pinyin | arpabet | respelling | phonemes


def spoken_zh(word: str) -> str:
    """A Chinese word as it is spoken: Greek letters and math symbols spelled out the way
    the text normalizer reads them (α粒子 → 阿尔法粒子, ∑符号 → 求和符号); other words as
    they are."""
    return "".join(GREEK.get(c) or MATH.get(c) or c for c in word.strip())


def word_language(word: str) -> str:
    """``zh`` for a word of Han characters (Greek letters and math symbols allowed beside
    them), ``en`` for a Latin one; anything else is an error."""
    stripped = word.strip()
    if not stripped:
        raise ValueError("the word is empty")
    if HAN.search(stripped):
        if not all(HAN.match(c) for c in spoken_zh(stripped)):
            raise ValueError(f"word {word!r} mixes Chinese characters with other characters; "
                             "give the Chinese and the Latin parts separately")
        return "zh"
    if _EN_WORD.match(stripped) and re.search(r"[A-Za-z]", stripped):
        return "en"
    raise ValueError(f"word {word!r} is neither Chinese characters nor a Latin-letter word")


def parse_pinyin(reading: str, word: str) -> tuple[str, ...]:
    """Validate a reading such as "yin2 hang2" against the Han characters of ``word``."""
    syllables = tuple(s.lower().replace("v", "ü").replace("u:", "ü") for s in reading.split())
    bad = [s for s in syllables if not PINYIN_SYLLABLE.match(s)]
    if bad:
        raise ValueError(f"reading {reading!r} for {word!r}: not tone-numbered pinyin: {bad}")
    n_han = len(HAN.findall(spoken_zh(word)))
    if len(syllables) != n_han:
        raise ValueError(
            f"reading {reading!r} for {word!r}: {len(syllables)} syllables for {n_han} characters")
    for s in syllables:
        syllable_to_ipa(s)  # raises ValueError on an impossible syllable
    return syllables


def check_english(reading: str) -> Reading:
    """ARPAbet, ``~respelling`` or ``/phonemes/``; the error says which form was meant."""
    text = reading.strip()
    if text.startswith("~"):
        spelled = text[1:].strip()
        if not _RESPELLING.match(spelled):
            raise ValueError(f"respelling {reading!r} must be Latin letters after the '~' (e.g. '~show me')")
        return Reading("en", "~" + spelled, "respelling")
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        unknown = sorted(set(text[1:-1]) - kokoro_symbols())
        if unknown:
            raise ValueError(f"phonemes {reading!r} use symbols the engine does not know: {''.join(unknown)!r}")
        return Reading("en", text, "phonemes")
    try:
        arpabet_to_phonemes(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; an English reading is ARPAbet ('SH AW1 M IY0'), a respelling after '~' "
                         "('~show me') or Kokoro phonemes between slashes") from None
    return Reading("en", " ".join(text.upper().split()), "arpabet")


def check_reading(word: str, reading: str, language: str | None = None) -> Reading:
    """Check ``reading`` for ``word``; ``language``, when given, must agree with the word."""
    lang = word_language(word)
    if language is not None and language != lang:
        raise ValueError(f"word {word!r} is {'Chinese' if lang == 'zh' else 'English'}, "
                         f"but the language given is {language!r}")
    if not reading or not reading.strip():
        raise ValueError(f"the reading for {word!r} is empty")
    if lang == "zh":
        return Reading("zh", " ".join(parse_pinyin(reading, word)), "pinyin")
    return check_english(reading)


OVERRIDE = re.compile(r"\{([^{}|]+)\|([^{}]*)\}")


def check_overrides(text: str) -> list[Reading]:
    """Check every inline ``{word|reading}`` of a text (the API does, before storing it)."""
    out = []
    for m in OVERRIDE.finditer(text):
        try:
            out.append(check_reading(m.group(1).strip(), m.group(2)))
        except ValueError as exc:
            raise ValueError(f"override {m.group(0)!r}: {exc}") from None
    return out
