"""Mandarin grapheme-to-phoneme: jieba words -> tone-numbered pinyin -> Kokoro IPA.

Kokoro v1.0's Chinese voices were trained on misaki's (legacy, version=None)
zh output: jieba words, pypinyin TONE3 readings per word, each syllable turned
into IPA with tone arrows by ``misaki.zh.ZHG2P.py2ipa``, words separated by a
space.  This module reproduces that exactly and only changes *which* pinyin is
chosen (polyphone fixes, overrides, lexicon), never how pinyin becomes IPA.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping, Sequence

with warnings.catch_warnings():  # jieba imports the deprecated pkg_resources; not ours to fix
    warnings.simplefilter("ignore", UserWarning)
    import jieba
from misaki.zh import ZHG2P
from misaki.zh_normalization.char_convert import tranditional_to_simplified
from pypinyin import Style, lazy_pinyin

from worker.tts.polyphones import NEUTRAL_SECOND, NOT_ERHUA, PHRASE_READINGS, fix_single_char, fix_word

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
PINYIN_SYLLABLE = re.compile(r"^[a-zü]+r?[1-5]$")

# Chinese punctuation -> what misaki feeds the model (its map_punctuation).
_PUNCT = {
    "、": ", ", "，": ", ", "。": ". ", "．": ". ", "！": "! ", "：": ": ", "；": "; ", "？": "? ",
    "«": " “", "»": "” ", "《": " “", "》": "” ", "「": " “", "」": "” ", "【": " “", "】": "” ",
    "（": " (", "）": ") ", "“": " “", "”": "” ", "‘": " “", "’": "” ", "…": "…", "—": "—",
    "·": " ", "～": " ",
}

# A piece of Chinese text; ``readings`` forces one pinyin per Han character.
Piece = tuple[str, "tuple[str, ...] | None"]


def parse_pinyin(reading: str, word: str) -> tuple[str, ...]:
    """Validate a user reading such as "yin2 hang2" against the Han characters of ``word``."""
    syllables = tuple(s.lower().replace("v", "ü").replace("u:", "ü") for s in reading.split())
    bad = [s for s in syllables if not PINYIN_SYLLABLE.match(s)]
    if bad:
        raise ValueError(f"reading {reading!r} for {word!r}: not tone-numbered pinyin: {bad}")
    n_han = len(HAN.findall(word))
    if len(syllables) != n_han:
        raise ValueError(
            f"reading {reading!r} for {word!r}: {len(syllables)} syllables for {n_han} characters")
    for s in syllables:
        syllable_to_ipa(s)  # raises ValueError on an impossible syllable
    return syllables


def syllable_to_ipa(syllable: str) -> str:
    """One tone-numbered syllable -> Kokoro IPA, via misaki's own tables.

    Erhua syllables written with a final r (nar3) are not in the tables; they
    are read as the base syllable followed by ɚ, which is what misaki does when
    儿 is a separate character.
    """
    try:
        return ZHG2P.py2ipa(syllable).replace(chr(815), "")
    except ValueError:
        m = re.fullmatch(r"([a-zü]+)r([1-5])", syllable)
        if m and m.group(1) not in ("e",):
            return ZHG2P.py2ipa(m.group(1) + m.group(2)).replace(chr(815), "") + "ɚ"
        raise ValueError(f"cannot convert pinyin syllable {syllable!r}") from None


class ZhG2P:
    """Holds one jieba tokenizer (private, so lexicon words do not leak across instances)."""

    def __init__(self, lexicon: Mapping[str, tuple[str, ...]] | None = None) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._lexicon: dict[str, tuple[str, ...]] = dict(lexicon or {})
        for word in list(PHRASE_READINGS) + list(self._lexicon):
            if len(word) > 1:
                self._jieba.add_word(word, freq=max(self._jieba.FREQ.get(word, 0), 2000))

    def words(self, text: str) -> list[str]:
        return self._jieba.lcut(text, HMM=True)

    def word_pinyin(self, words: Sequence[str]) -> list[list[str]]:
        """Pinyin per Han character of each word, with polyphone fixes applied in context."""
        out: list[list[str]] = []
        for i, w in enumerate(words):
            if w in self._lexicon:
                out.append(list(self._lexicon[w]))
            elif w in PHRASE_READINGS:
                out.append(list(PHRASE_READINGS[w]))
            else:
                han = "".join(HAN.findall(w))
                pys = lazy_pinyin(han, style=Style.TONE3, neutral_tone_with_five=True) if han else []
                if len(han) == len(w) and len(w) > 2:
                    _apply_known_phrases(w, pys)
                if w in NEUTRAL_SECOND and len(pys) == 2:
                    pys[1] = pys[1][:-1] + "5"
                if len(w) >= 2 and w.endswith("儿") and pys and pys[-1] == "er2" and w not in NOT_ERHUA:
                    pys[-1] = "er5"  # 哪儿, 一会儿: the suffix 儿 is unstressed
                out.append(pys)
        for i, w in enumerate(words):
            if w in self._lexicon:
                continue
            prev = words[i - 1] if i else ""
            nxt = words[i + 1] if i + 1 < len(words) else ""
            if len(w) == 1 and HAN.match(w):
                fixed = fix_single_char(w, prev, nxt, out[i][0] if out[i] else "")
                if fixed:
                    out[i] = [fixed]
            else:
                fixed_word = fix_word(w, prev, nxt, out[i])
                if fixed_word:
                    out[i] = list(fixed_word)
        return out

    def convert(self, pieces: Sequence[Piece]) -> tuple[str, list[tuple[str, str]]]:
        """Chinese pieces -> (Kokoro phonemes, [(char, pinyin)]).

        Forced pieces (overrides) keep their reading; plain pieces are cut by
        jieba.  Non-Han characters (punctuation) pass through mapped the way
        misaki maps them.
        """
        phonemes: list[str] = []
        pinyin: list[tuple[str, str]] = []
        for text, readings in pieces:
            if readings is not None:
                chars = HAN.findall(text)
                pinyin.extend(zip(chars, readings))
                phonemes.append("".join(syllable_to_ipa(s) for s in readings))
                continue
            pos = 0
            for m in HAN_RUN.finditer(text):
                phonemes.append(self._punct(text[pos:m.start()]))
                original = m.group(0)
                # jieba's and our dictionaries are simplified; the mapping is one
                # character to one, so pinyin lines up with the original text.
                simplified = tranditional_to_simplified(original)
                if len(simplified) != len(original):
                    simplified = original
                words = self.words(simplified)
                offset = 0
                for w, pys in zip(words, self.word_pinyin(words)):
                    pinyin.extend(zip(original[offset:offset + len(w)], pys))
                    offset += len(w)
                    phonemes.append("".join(syllable_to_ipa(p) for p in pys))
                pos = m.end()
            phonemes.append(self._punct(text[pos:]))
        return _join(phonemes), pinyin

    @staticmethod
    def _punct(text: str) -> str:
        return "".join(_PUNCT.get(c, c) for c in text)


def _apply_known_phrases(word: str, pys: list[str]) -> None:
    """Inside a long jieba word (薄荷糖), let the corrected reading of a known sub-phrase win."""
    i = 0
    while i < len(word):
        for j in range(len(word), i + 1, -1):
            sub = word[i:j]
            if sub in PHRASE_READINGS and sub != word:
                pys[i:j] = PHRASE_READINGS[sub]
                i = j - 1
                break
        i += 1


def _join(parts: Sequence[str]) -> str:
    """Join words with single spaces, attaching punctuation to the word before it."""
    out = ""
    for p in parts:
        if not p:
            continue
        if not p.strip():
            out = out.rstrip() + " "
            continue
        stripped = p.strip()
        if out and stripped[0] in ",.!?:;)”…—" :
            out = out.rstrip() + p.rstrip() + " "
        else:
            if out and not out.endswith(" "):
                out += " "
            out += p.strip() + (" " if p.endswith(" ") else "")
    return re.sub(r" {2,}", " ", out).strip()
