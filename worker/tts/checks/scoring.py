"""Scoring a transcript against the text it should say.

Scoring and recognition must agree on what a "token" is: Chinese is scored per character
(CER), English per word (WER), and mixed Chinese text with embedded English words scores
each Latin word as one token. Mandarin renders are judged on the syllables heard.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from opencc import OpenCC
from pypinyin import Style, lazy_pinyin, pinyin

from worker.tts.checks.spoken_numbers import en_number_words, zh_digits, zh_number_reading


def whisper_language(lang: str | None) -> str | None:
    """Map a narrator language tag (``zh``, ``zh-CN``, ``en-US``, ``zh-en``) to Whisper's code."""
    if not lang:
        return None
    return lang.replace("_", "-").split("-")[0].lower()


@functools.cache
def traditional_to_simplified() -> Callable[[str], str]:
    """Whisper often writes Mandarin in Traditional characters; references are Simplified.

    Built once per process: reading OpenCC's dictionaries costs ~4 ms, and scoring calls
    this for every transcript. The converter is read-only, so sharing it is safe."""
    return OpenCC("t2s").convert


_CJK_LANGS = frozenset({"zh", "ja", "yue", "wuu", "cmn"})
_LATIN_WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*%?")
# Characters Mandarin speech cannot tell apart (same syllable, same tone, same role):
# Whisper picks one at random, so they are folded before scoring instead of being
# counted as errors the voice never made. 幺 is how "one" is said inside codes and phone
# numbers, and a transcript writes it 1 or 一.
_ZH_HOMOPHONES = str.maketrans({"她": "他", "它": "他", "牠": "他", "祂": "他", "幺": "一"})


def scoring_mode(lang: str) -> str:
    """``"char"`` for languages written without spaces (CER), ``"word"`` otherwise (WER)."""
    base = whisper_language(lang)
    if not base:
        raise ValueError("a language is required for scoring")
    return "char" if base in _CJK_LANGS else "word"


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3400 <= code <= 0x9FFF  # CJK unified ideographs (+ ext A)
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3134F
        or 0x3040 <= code <= 0x30FF  # kana, so Japanese scores per character too
    )


def _strip_punctuation(text: str) -> str:
    """Replace every punctuation/symbol character by a space (keeps letters, digits, apostrophes)."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "'" or cat[0] in "LN" or cat == "Mn" or cat == "Mc":
            out.append(ch)
        else:
            out.append(" ")
    return "".join(out)


def _zh_tokens(text: str, like: str = "") -> list[str]:
    """Characters for CJK script, whole lowercase words for embedded Latin text.

    A digit string has two readings, as a number (一百六十七万) and digit by digit
    (一六七零零零零), and a transcript writes digits whichever way it was said: given the
    reference's reading (``like``), the digit-by-digit reading is taken where the reference
    has it, so a SKU read out correctly is not scored as seven wrong characters."""
    text = traditional_to_simplified()(unicodedata.normalize("NFKC", text)).translate(_ZH_HOMOPHONES)

    def reading(m: re.Match[str]) -> str:
        spoken = zh_number_reading(m.group(0), _following_char(text, m.end()))
        digits = zh_digits(m.group(0))
        return digits if like and spoken not in like and digits in like else spoken

    text = _NUMBER_RE.sub(reading, text)
    tokens: list[str] = []
    for chunk in _strip_punctuation(text).split():
        word = ""
        for ch in chunk:
            if _is_cjk(ch):
                if word:
                    tokens.append(word.replace("'", "").lower())
                    word = ""
                tokens.append(ch)
            else:
                word += ch
        if word and word.replace("'", ""):
            tokens.append(word.replace("'", "").lower())
    return tokens


def _following_char(text: str, index: int) -> str:
    return text[index] if index < len(text) else ""


def _en_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _NUMBER_RE.sub(lambda m: " " + en_number_words(m.group(0)) + " ", text)
    words = _LATIN_WORD_RE.findall(_strip_punctuation(text))
    return [w.replace("'", "") for w in words if w.replace("'", "")]


def _ja_tokens(text: str) -> list[str]:
    """Katakana of the reading: Japanese spells one word in kanji or kana at will
    (物語 / ものがたり), so comparing written characters counts choices, not errors.
    Falls back to written characters when pyopenjtalk is not installed."""
    try:
        import pyopenjtalk  # deferred: optional; without it Japanese is scored on written characters
    except ImportError:
        return _zh_tokens(text)
    reading = pyopenjtalk.g2p(unicodedata.normalize("NFKC", text), kana=True)
    return [ch for ch in _strip_punctuation(reading) if not ch.isspace()]


def normalize_for_scoring(text: str, lang: str, like: str = "") -> list[str]:
    """Tokens to compare: zh → characters (digits read out in Chinese), en → lowercase words.

    Both reference and hypothesis go through this, so any convention (Traditional vs
    Simplified, "2024年" vs "二零二四年", "20" vs "twenty") only has to map to the same
    tokens; ``like`` is the reference's Chinese reading, for a hypothesis's digit strings.
    Japanese is compared on its kana reading.
    """
    if scoring_mode(lang) == "word":
        return _en_tokens(text)
    return _ja_tokens(text) if whisper_language(lang) == "ja" else _zh_tokens(text, like)


def text_units(text: str, lang: str) -> int:
    """Length of the text for speaking-rate checks: written characters (plus embedded
    Latin words) for zh/ja, words for en. Unlike scoring, Japanese is not converted to
    its reading here, so one rate calibration holds for both CJK languages."""
    return len(_en_tokens(text) if scoring_mode(lang) == "word" else _zh_tokens(text))


def levenshtein(reference: list[str], hypothesis: list[str]) -> int:
    """Minimum number of substitutions, insertions and deletions turning one into the other."""
    if len(reference) < len(hypothesis):
        reference, hypothesis = hypothesis, reference
    previous = list(range(len(hypothesis) + 1))
    for i, ref_token in enumerate(reference, start=1):
        current = [i]
        for j, hyp_token in enumerate(hypothesis, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_token != hyp_token))
            )
        previous = current
    return previous[-1]


def error_rate(reference: str, hypothesis: str, lang: str) -> float:
    """CER for zh (and other unspaced scripts), WER for en: edits / reference tokens.

    An empty reference scores 0.0 against an empty hypothesis and 1.0 otherwise, so the
    rate stays a meaningful "fraction wrong" for the gate. Rates can exceed 1.0 when the
    hypothesis adds many tokens (e.g. hallucinated text).
    """
    ref = normalize_for_scoring(reference, lang)
    hyp = normalize_for_scoring(hypothesis, lang, like="".join(ref))
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)


def judged_measure(lang: str) -> str:
    """The score a render is judged by: Mandarin by the syllables heard, others by CER/WER."""
    return "syllable_error" if whisper_language(lang) == "zh" else ("cer" if scoring_mode(lang) == "char" else "wer")


def heard_error_rate(reference: str, hypothesis: str, lang: str) -> float:
    """How much of ``reference`` the transcript got wrong, by ``judged_measure(lang)``."""
    if judged_measure(lang) == "syllable_error":
        return zh_syllable_error_rate(reference, hypothesis)
    return error_rate(reference, hypothesis, lang)


def zh_syllable_error_rate(reference: str, hypothesis: str) -> float:
    """Edits over tone-numbered syllables, per reference syllable: what was heard, not written.

    Whisper-base writes a Mandarin syllable with whichever character its language model
    prefers (旧照片 → 就照片, 厚厚 → 后后, 相册 → 相侧), and CER counts each as an error
    the voice never made. The reference is read as pinyin phrase by phrase (its polyphones
    in context); a transcript token matches when it is the same character, or when one of
    its readings is that syllable (any tone, where the reference's is neutral). So a
    homophone costs nothing, a wrong tone still counts, and the rate never exceeds the CER.
    """
    ref_tokens = normalize_for_scoring(reference, "zh")
    ref = list(zip(ref_tokens, _syllables(ref_tokens)))
    hyp = [(token, _readings(token)) for token in normalize_for_scoring(hypothesis, "zh", like="".join(ref_tokens))]
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, (char, syllable) in enumerate(ref, start=1):
        current = [i]
        for j, (token, readings) in enumerate(hyp, start=1):
            same = token == char or syllable in readings or (
                syllable.endswith("5") and any(r[:-1] == syllable[:-1] for r in readings))
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (not same)))
        previous = current
    return previous[-1] / len(ref)


def _syllables(tokens: list[str]) -> list[str]:
    """One reading per token: runs of Chinese characters as tone-numbered pinyin in context,
    Latin words as they are."""
    out: list[str] = []
    run = ""
    for token in [*tokens, ""]:
        if len(token) == 1 and _is_cjk(token):
            run += token
            continue
        if run:
            # one item per character, also for characters without pinyin (kana, rare ideographs)
            out += lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, errors=list)
            run = ""
        if token:
            out.append(token)
    return out


def _readings(token: str) -> frozenset[str]:
    """Every tone-numbered reading a Chinese character can have; a Latin word is itself."""
    if len(token) == 1 and _is_cjk(token):
        return frozenset(pinyin(token, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0])
    return frozenset((token,))
