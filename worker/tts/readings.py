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

The API uses this module too; misaki's pinyin tables (over a second to import) are
loaded only when a pinyin reading is first checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Every block of Han ideographs: the URO and Extension A, Extensions B–I (the supplementary
# ideographic planes) and the compatibility ideographs. A character outside the readings the
# frontend has (pypinyin's table, from Unihan's kMandarin) is skipped with a warning, not an error.
HAN_CLASS = ("\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
             "\U00030000-\U000323af")
HAN = re.compile(f"[{HAN_CLASS}]")
PINYIN_SYLLABLE = re.compile(r"^[a-zü]+r?[1-5]$")
_EN_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9'’\-.&+ ]*$")
_RESPELLING = re.compile(r"^[A-Za-z][A-Za-z'’\- ]*$")
LANGUAGES = ("zh", "en")

# ARPAbet (CMUdict's 39 symbols and a few common extras) -> misaki/Kokoro v1.0 symbols.
# misaki writes the American diphthongs as single capitals (A = eɪ, I = aɪ, W = aʊ,
# O = oʊ, Y = ɔɪ) and puts a stress mark right before the stressed vowel.
ARPABET_VOWELS: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "W", "AY": "I", "EH": "ɛ", "ER": "ɜɹ",
    "EY": "A", "IH": "ɪ", "IY": "i", "OW": "O", "OY": "Y", "UH": "ʊ", "UW": "u",
    "AX": "ə", "AXR": "əɹ", "IX": "ɪ", "UX": "u",
}
# Unstressed forms that misaki spells differently from the stressed ones.
ARPABET_UNSTRESSED: dict[str, str] = {"AH": "ə", "ER": "əɹ"}
ARPABET_CONSONANTS: dict[str, str] = {
    "B": "b", "CH": "ʧ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "ʤ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t",
    "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
    "DX": "ɾ", "EL": "əl", "EM": "əm", "EN": "ən", "NX": "n",
}
_ARPA_TOKEN = re.compile(r"^([A-Z]{1,3})([012])?$")


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
    from worker.tts.normalize_zh import GREEK, MATH

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


@lru_cache(maxsize=8192)  # about 1 500 syllables exist; misaki's conversion costs ~0.2 ms each
def syllable_to_ipa(syllable: str) -> str:
    """One tone-numbered syllable -> Kokoro IPA, via misaki's own tables.

    Erhua syllables written with a final r (nar3) are not in the tables; they
    are read as the base syllable followed by ɚ, which is what misaki does when
    儿 is a separate character.
    """
    from misaki.zh import ZHG2P

    try:
        return ZHG2P.py2ipa(syllable).replace(chr(815), "")
    except (ValueError, KeyError, IndexError):
        m = re.fullmatch(r"([a-zü]+)r([1-5])", syllable)
        if m and m.group(1) not in ("e",):
            try:
                return ZHG2P.py2ipa(m.group(1) + m.group(2)).replace(chr(815), "") + "ɚ"
            except (ValueError, KeyError, IndexError):
                pass
        raise ValueError(f"cannot convert pinyin syllable {syllable!r}") from None


def is_arpabet(reading: str) -> bool:
    try:
        arpabet_to_phonemes(reading)
    except ValueError:
        return False
    return True


def arpabet_to_phonemes(reading: str) -> str:
    """CMUdict ARPAbet ("T AH0 M EY1 T OW2") -> Kokoro phonemes; stress marks precede the vowel."""
    tokens = reading.upper().split()
    if not tokens:
        raise ValueError("the ARPAbet reading is empty")
    out = ""
    for token in tokens:
        m = _ARPA_TOKEN.match(token)
        sym, stress = (m.group(1), m.group(2)) if m else (token, None)
        if sym in ARPABET_CONSONANTS and stress is None:
            out += ARPABET_CONSONANTS[sym]
            continue
        if sym not in ARPABET_VOWELS:
            raise ValueError(f"not an ARPAbet symbol: {token!r} in {reading!r}")
        vowel = ARPABET_UNSTRESSED.get(sym, ARPABET_VOWELS[sym]) if stress == "0" else ARPABET_VOWELS[sym]
        out += {"1": "ˈ", "2": "ˌ"}.get(stress or "", "") + vowel
    return out


@lru_cache(maxsize=1)
def _kokoro_symbols() -> frozenset[str]:
    from worker.tts.assets import kokoro_vocab

    return frozenset(kokoro_vocab()) | {" "}


def check_english(reading: str) -> Reading:
    """ARPAbet, ``~respelling`` or ``/phonemes/``; the error says which form was meant."""
    text = reading.strip()
    if text.startswith("~"):
        spelled = text[1:].strip()
        if not _RESPELLING.match(spelled):
            raise ValueError(f"respelling {reading!r} must be Latin letters after the '~' (e.g. '~show me')")
        return Reading("en", "~" + spelled, "respelling")
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        unknown = sorted(set(text[1:-1]) - _kokoro_symbols())
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
