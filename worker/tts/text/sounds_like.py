"""Does a transcript contain a phrase, as heard rather than as spelled?

Speech recognition writes a name by its sound: 林小雨 may come back as 林晓雨, a code as
"3579" or "三五七九". Chinese is compared by toneless pinyin, English by lowercase words
with number words turned into digits.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from pypinyin import lazy_pinyin

ZH_DIGITS = "零一二三四五六七八九"
EN_NUMBERS = MappingProxyType({w: str(i) for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])})


def _zh_sound(text: str) -> str:
    text = "".join(ZH_DIGITS[int(ch)] if ch.isdigit() else ch for ch in text)
    return "".join(p for p in lazy_pinyin(text) if p.isalpha()).lower()


def _en_words(text: str) -> str:
    words = [EN_NUMBERS.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower())]
    return re.sub(r"(?<=\d) (?=\d)", "", " ".join(words))  # "3 5 7 9" and "3579" alike


def substring_distance(needle: str, haystack: str) -> int:
    """Fewest edits that turn ``needle`` into some substring of ``haystack`` (Sellers' algorithm)."""
    previous = list(range(len(needle) + 1))
    best = previous[-1]
    for ch in haystack:
        current = [0]
        for i, nch in enumerate(needle, 1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (nch != ch)))
        best = min(best, current[-1])
        previous = current
    return best


def mentions(transcript: str, phrase: str, language: str, tolerance: float = 0.25) -> bool:
    """True when the phrase is heard in the transcript, allowing about one misheard sound in
    four (Whisper-base turns 五 wu into 路 lu now and then); a different name is far more."""
    sound = _zh_sound if language == "zh" else _en_words
    needle, haystack = sound(phrase), sound(transcript)
    return bool(needle) and substring_distance(needle, haystack) <= max(1, int(tolerance * len(needle)))
