"""ARPAbet (as in CMUdict) to the Kokoro v1.0 phonemes misaki writes.

misaki writes the American diphthongs as single capitals (A = eɪ, I = aɪ, W = aʊ, O = oʊ,
Y = ɔɪ) and puts a stress mark right before the stressed vowel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

# CMUdict's 39 symbols and a few common extras.
ARPABET_VOWELS: Mapping[str, str] = MappingProxyType({
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "W", "AY": "I", "EH": "ɛ", "ER": "ɜɹ",
    "EY": "A", "IH": "ɪ", "IY": "i", "OW": "O", "OY": "Y", "UH": "ʊ", "UW": "u",
    "AX": "ə", "AXR": "əɹ", "IX": "ɪ", "UX": "u",
})
# Unstressed forms that misaki spells differently from the stressed ones.
ARPABET_UNSTRESSED: Mapping[str, str] = MappingProxyType({"AH": "ə", "ER": "əɹ"})
ARPABET_CONSONANTS: Mapping[str, str] = MappingProxyType({
    "B": "b", "CH": "ʧ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "ʤ", "K": "k",
    "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t",
    "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
    "DX": "ɾ", "EL": "əl", "EM": "əm", "EN": "ən", "NX": "n",
})
_ARPA_TOKEN = re.compile(r"^([A-Z]{1,3})([012])?$")


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
