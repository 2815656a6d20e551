"""Tone-numbered pinyin syllables to Kokoro IPA, from a table shipped beside this module.

``data/pinyin_ipa.tsv`` holds every syllable misaki's pinyin converter accepts (its
``ZHG2P.py2ipa``, the conversion Kokoro's Chinese voices were trained on; found by trying
every initial with every spelling of a final up to four letters), each with its IPA and ``0``
where the tone mark goes. The table is misaki's own output, so the API can check a
reading and the frontend can speak it without importing misaki;
tests/worker/test_lexicon.py compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType

# Kokoro's tone marks: misaki's arrows for the five tones (the neutral tone has none).
TONE_MARKS: Mapping[str, str] = MappingProxyType({"1": "→", "2": "↗", "3": "↓", "4": "↘", "5": ""})
_SYLLABLE = re.compile(r"(?P<base>[^\d]+)(?P<tone>[1-5]?)")
_ERHUA = re.compile(r"([a-zü]+)r([1-5])")


@cache
def pinyin_table() -> Mapping[str, str]:
    """Toneless syllable (``v`` and ``ü`` both) -> IPA with ``0`` for the tone mark."""
    text = (resources.files(__package__) / "data" / "pinyin_ipa.tsv").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line)
    return MappingProxyType({syllable: ipa for syllable, ipa in rows})


def _convert(syllable: str) -> str:
    m = _SYLLABLE.fullmatch(syllable)
    template = pinyin_table().get(m.group("base")) if m else None
    if m is None or template is None:
        raise ValueError(f"not a pinyin syllable: {syllable!r}")
    return template.replace("0", TONE_MARKS[m.group("tone") or "5"])


@lru_cache(maxsize=8192)  # about 1 500 syllables exist
def syllable_to_ipa(syllable: str) -> str:
    """One tone-numbered syllable -> Kokoro IPA (a syllable without a tone digit is neutral).

    Erhua syllables written with a final r (nar3) are not in the table; they are read as the
    base syllable followed by ɚ, which is what misaki does when 儿 is a separate character.
    """
    try:
        return _convert(syllable)
    except ValueError:
        m = _ERHUA.fullmatch(syllable)
        if m and m.group(1) not in ("e",):
            try:
                return _convert(m.group(1) + m.group(2)) + "ɚ"
            except ValueError:
                pass
        raise ValueError(f"cannot convert pinyin syllable {syllable!r}") from None
