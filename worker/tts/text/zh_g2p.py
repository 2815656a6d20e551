"""Mandarin grapheme-to-phoneme: jieba words -> tone-numbered pinyin -> Kokoro IPA.

Kokoro v1.0's Chinese voices were trained on misaki's (legacy, version=None)
zh output: jieba words, pypinyin TONE3 readings per word, each syllable turned
into IPA with tone arrows by ``misaki.zh.ZHG2P.py2ipa``, words separated by a
space.  This module reproduces that exactly and only changes *which* pinyin is
chosen (polyphone fixes, overrides, lexicon), never how pinyin becomes IPA.
"""

from __future__ import annotations

import copy
import logging
import re
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

with warnings.catch_warnings():  # jieba imports the deprecated pkg_resources; not ours to fix
    warnings.simplefilter("ignore", UserWarning)
    import jieba
    import jieba.posseg
from misaki.zh_normalization.char_convert import tranditional_to_simplified
from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT
from pypinyin.pinyin_dict import pinyin_dict

from shared.pronunciation.pinyin import syllable_to_ipa
from shared.pronunciation.symbols import HAN, HAN_CLASS
from worker.tts.text.polyphones import fix_single_char, fix_word, phrase_readings
from worker.tts.text.zh_surnames import SURNAME_READINGS, name_reading, surname_before_title
from worker.tts.text.zh_tones import NEUTRAL_SECOND, NOT_ERHUA

if TYPE_CHECKING:  # torch loads only when an adapter is actually used
    from worker.tts.text.polyphone_model import LearnedPolyphones

HAN_RUN = re.compile(f"[{HAN_CLASS}]+")

# Chinese punctuation -> what misaki feeds the model (its map_punctuation).
_PUNCT = MappingProxyType({
    "、": ", ", "，": ", ", "。": ". ", "．": ". ", "！": "! ", "：": ": ", "；": "; ", "？": "? ",
    "«": " “", "»": "” ", "《": " “", "》": "” ", "「": " “", "」": "” ", "【": " “", "】": "” ",
    "（": " (", "）": ") ", "“": " “", "”": "” ", "‘": " “", "’": "” ", "…": "…", "—": "—",
    "·": " ", "～": " ",
})

# A piece of Chinese text; ``readings`` forces one pinyin per Han character.
Piece = tuple[str, "tuple[str, ...] | None"]


class ZhG2P:
    """Holds one jieba tokenizer (private, so lexicon words do not leak across instances)."""

    def __init__(self, lexicon: Mapping[str, tuple[str, ...]] | None = None) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._lexicon: dict[str, tuple[str, ...]] = dict(lexicon or {})
        for word in list(phrase_readings()) + list(self._lexicon):
            if len(word) > 1:
                self._jieba.add_word(word, freq=max(self._jieba.FREQ.get(word, 0), 2000))
        self._learned: LearnedPolyphones | None = None
        # Parts of speech, read from the same dictionary: a person's name (nr), a noun after 一打.
        self._pos = jieba.posseg.POSTokenizer(self._jieba)

    def with_learned(self, learned: LearnedPolyphones | None) -> ZhG2P:
        """The same tokenizer and tables, reading ``learned.chars`` with a tenant's adapter."""
        adapted = copy.copy(self)
        adapted._learned = learned
        return adapted

    def words(self, text: str) -> list[str]:
        return self._split_titles(self._jieba.lcut(text, HMM=True))

    def _split_titles(self, words: list[str]) -> list[str]:
        """Cut a surname polyphone off the word it starts when a title follows it: jieba reads
        曾经理 as 曾经|理 and 仇先生 as one word; 曾|经理 and 仇|先生 let each part be read.
        What follows decides: 曾经理解 stays 曾经|理解 because the rest does not start with a title."""
        for i, w in enumerate(words):
            if (len(w) > 1 and w[-1] in SURNAME_READINGS and not self._jieba.FREQ.get(w)
                    and i + 1 < len(words) and surname_before_title(w[-1], w[:-1], words[i + 1])):
                # 请单|女士, 课由单|老师: jieba's HMM glued the surname to the word before it
                return words[:i] + [w[:-1], w[-1]] + self._split_titles(words[i + 1:])
            if w[0] not in SURNAME_READINGS:
                continue
            window = "".join(words[i:i + 3])[1:]  # enough to see the word after the surname
            first = self._jieba.lcut(window, HMM=True)[0] if window else ""
            if surname_before_title(w[0], words[i - 1] if i else "", first):
                rest = "".join(words[i:])[1:]
                return words[:i] + [w[0]] + self._split_titles(self._jieba.lcut(rest, HMM=True))
        return words

    def _tag(self, word: str) -> str:
        """jieba's part of speech of ``word``: the dictionary's, else its HMM tagger's."""
        tag = self._pos.word_tag_tab.get(word)
        if tag is None and HAN.match(word):
            tagged = self._pos.lcut(word, HMM=True)
            tag = tagged[0].flag if len(tagged) == 1 else ""
        return tag or ""

    def word_pinyin(self, words: Sequence[str]) -> list[list[str]]:
        """Pinyin per Han character of each word, with polyphone fixes applied in context."""
        out: list[list[str]] = []
        for i, w in enumerate(words):
            if w in self._lexicon:
                out.append(list(self._lexicon[w]))
            elif w in phrase_readings():
                out.append(list(phrase_readings()[w]))
            else:
                han = "".join(HAN.findall(w))
                pys = lazy_pinyin(han, style=Style.TONE3, neutral_tone_with_five=True) if han else []
                if len(han) == len(w) and len(w) > 2:
                    _apply_known_phrases(w, pys)
                    if w not in PHRASES_DICT and w[-2:] in NEUTRAL_SECOND and len(pys) == len(w):
                        pys[-1] = pys[-1][:-1] + "5"  # 最舒服, 红衣服: the neutral tone of the word inside
                    if len(w) == 4 and w not in PHRASES_DICT and w[:2] != "地方" and w[:2] in NEUTRAL_SECOND and len(pys) == 4:
                        pys[1] = pys[1][:-1] + "5"  # 爷爷奶奶, 关系密切: jieba joined two words
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
            after = "".join(words[i + 1:i + 7])
            nxt_tag = self._tag(nxt) if nxt and w[-1] in "打只地数种" else ""
            if len(w) == 1 and HAN.match(w):
                fixed = fix_single_char(w, prev, nxt, out[i][0] if out[i] else "", after, nxt_tag)
                if fixed:
                    out[i] = [fixed]
            else:
                fixed_word = fix_word(w, prev, nxt, out[i], after, nxt_tag)
                if fixed_word:
                    out[i] = list(fixed_word)
                if (w[0] in SURNAME_READINGS and w not in PHRASES_DICT and w not in phrase_readings()
                        and (len(w) == 3 or not self._jieba.FREQ.get(w))  # 华为 is a dictionary word
                        and self._tag(w).startswith("nr")):
                    named = name_reading(w, out[i])
                    if named:
                        out[i] = list(named)  # 曾国藩, 单田芳: a person's name
        if self._learned is not None:
            self._apply_learned(words, out)
        return out

    def _apply_learned(self, words: Sequence[str], out: list[list[str]]) -> None:
        """Characters a tenant's corrections taught are read by the adapted model, in context."""
        assert self._learned is not None
        sentence = "".join(words)
        slots: list[tuple[int, int]] = []  # (word, character) of each learned character
        for i, w in enumerate(words):
            if w in self._lexicon or len(out[i]) != len(w):
                continue
            slots.extend((i, j) for j, ch in enumerate(w) if ch in self._learned.chars)
        if not slots:
            return
        starts = [sum(len(w) for w in words[:i]) for i in range(len(words))]
        readings = self._learned.read(sentence, [starts[i] + j for i, j in slots])
        for (i, j), reading in zip(slots, readings):
            out[i][j] = reading

    def convert(self, pieces: Sequence[Piece]) -> tuple[str, list[tuple[str, str]], list[str]]:
        """Chinese pieces -> (Kokoro phonemes, [(char, pinyin)], [characters skipped]).

        Forced pieces (overrides) keep their reading; plain pieces are cut by
        jieba.  Non-Han characters (punctuation) pass through mapped the way
        misaki maps them.  A Han character with no reading (not in pypinyin's
        table, which is Unihan's kMandarin) is left out and returned as skipped,
        so one rare character never fails a whole text.
        """
        phonemes: list[str] = []
        pinyin: list[tuple[str, str]] = []
        skipped: list[str] = []
        for text, readings in pieces:
            if readings is not None:
                chars = HAN.findall(text)
                pinyin.extend(zip(chars, readings))
                phonemes.append("".join(syllable_to_ipa(s) for s in readings))
                continue
            pos = 0
            for m in HAN_RUN.finditer(text):
                phonemes.append(self._punct(text[pos:m.start()]))
                original, simplified = _readable(m.group(0), skipped)
                if not original:
                    pos = m.end()
                    continue
                words = self.words(simplified)
                offset = 0
                for w, pys in zip(words, self.word_pinyin(words)):
                    if len(pys) != len(w):  # never expected: every character left has a reading
                        pys = [lazy_pinyin(c, style=Style.TONE3, neutral_tone_with_five=True)[0] for c in w]
                    ipa = []
                    for char, syllable in zip(original[offset:offset + len(w)], pys):
                        try:
                            ipa.append(syllable_to_ipa(syllable))
                        except ValueError:
                            skipped.append(char)  # a reading misaki has no sound for (hm, ng)
                            continue
                        pinyin.append((char, syllable))
                    offset += len(w)
                    phonemes.append("".join(ipa))
                pos = m.end()
            phonemes.append(self._punct(text[pos:]))
        return _join(phonemes), pinyin, skipped

    @staticmethod
    def _punct(text: str) -> str:
        return "".join(_PUNCT.get(c, c) for c in text)


def _readable(run: str, skipped: list[str]) -> tuple[str, str]:
    """The characters of a Han run that have a reading, as written and as looked up.

    jieba's and our dictionaries are simplified, and a compatibility ideograph (U+F900…) is
    looked up as the unified character it stands for; both mappings are one character to one,
    so pinyin lines up with the original text. Characters with no reading go to ``skipped``.
    """
    simplified = tranditional_to_simplified(run)
    if len(simplified) != len(run):
        simplified = run
    kept_original: list[str] = []
    kept_lookup: list[str] = []
    for char, lookup in zip(run, simplified):
        unified = unicodedata.normalize("NFKC", lookup)
        if len(unified) == 1:
            lookup = unified
        if ord(lookup) in pinyin_dict:
            kept_original.append(char)
            kept_lookup.append(lookup)
        else:
            skipped.append(char)
    return "".join(kept_original), "".join(kept_lookup)


def _apply_known_phrases(word: str, pys: list[str]) -> None:
    """Inside a long jieba word (薄荷糖), let the corrected reading of a known sub-phrase win."""
    i = 0
    while i < len(word):
        for j in range(len(word), i + 1, -1):
            sub = word[i:j]
            if sub in phrase_readings() and sub != word:
                pys[i:j] = phrase_readings()[sub]
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
