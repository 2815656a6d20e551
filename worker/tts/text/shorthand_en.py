"""Signs and shorthand of shop, lesson and prescription text read as a narrator says them (see
``read_shorthand``). Kept apart from ``normalize_en``, which runs these before dates and numbers.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from num2words import num2words

from worker.tts.text.phones_en import say_digits

_UNIT_LETTERS = frozenset({"GB", "MB", "KB", "TB", "MP"})  # 8GB is a measure, not letters to spell
_VULGAR = MappingProxyType({"½": "1/2", "¼": "1/4", "¾": "3/4", "⅓": "1/3", "⅔": "2/3", "⅛": "1/8"})
_SIZES = MappingProxyType({"XXS": "double extra small", "XS": "extra small", "S": "small", "M": "medium", "L": "large",
                          "XL": "extra large", "XXL": "double extra large", "2XL": "double extra large",
                          "XXXL": "triple extra large", "3XL": "triple extra large"})
_SIZE = r"(?:XXS|XS|S|M|L|XL|XXL|2XL|XXXL|3XL)"
# "sizes S, M, L and XL": letters after the word size are sizes
_SIZE_LIST = re.compile(rf"(?<=\b[Ss]izes )({_SIZE}(?:(?:,\s*|,?\s+(?:and|or|to)\s+|\s?-\s?){_SIZE})*)\b|(?<=\b[Ss]ize ){_SIZE}\b")
_GEM = re.compile(r"\s+(?:t\.?w\.?\s+)?(?:diamonds?|sapphires?|rub(?:y|ies)|emeralds?|gems?|gemstones?|stones?)\b")
_SCORE_WORDS = r"(?i:won|lost|beat|beats|lead|led|leads|score|scored|victory|win|defeat|defeated|tied|trailing|trail)"


def _score(m: re.Match[str]) -> str:
    """won 3-1 "three to one", a 2-0 lead "two to nothing"."""
    before, a, b = (m.group(1) + " ", m.group(2), m.group(3)) if m.group(1) else ("", m.group(4), m.group(5))
    return f"{before}{a} to {'nothing' if b == '0' else b}"


def read_shorthand(text: str) -> str:
    """Signs and shorthand a reader expands: +3.4% "plus", A+ "A plus", 2/$5 "2 for $5", 802.11ax,
    8GB/256GB "slash", a blood pressure 120/80 "over", a score 2-0 "two to nothing", ½ alone "1/2",
    the 100m "meters", 9.58 s "seconds", 2FA "2 F A", a 3-pk "3-pack"."""
    text = re.sub(r"(?<![\w.])([+-])(?=\d+(?:\.\d+)?%)", lambda m: "plus " if m.group(1) == "+" else "minus ", text)
    text = re.sub(r"\b([A-F])([+-])(?=[\s,.;:)]|$)", lambda m: m.group(1) + (" plus" if m.group(2) == "+" else " minus"), text)
    text = re.sub(r"(?<![\w/])(\d+)/(?=[$€£]\d)", r"\1 for ", text)
    text = re.sub(r"\b802\.11([a-z]{1,2})\b", lambda m: "eight oh two dot eleven " + " ".join(m.group(1).upper()), text)
    text = re.sub(r"(?<=[KMGT]B)/(?=\d)", " slash ", text)
    text = re.sub(r"\b(BP|blood pressure)( (?:of|was|is|at|reading of) )(\d{2,3})/(\d{2,3})\b", r"\1\2\3 over \4", text)
    text = re.sub(rf"\b({_SCORE_WORDS}(?: (?:a|an|the|by))?) (\d{{1,2}})-(\d{{1,2}})\b|(?<![\w.-])(\d{{1,2}})-(\d{{1,2}})"
                  r"(?= (?:lead|win|victory|loss|defeat|halftime|final|score)\b)", _score, text)
    text = re.sub(r"\bSKU[:#]?\s?(\d{3,})\b", lambda m: "S K U " + say_digits(m.group(1)), text)
    text = re.sub(r"(?<![\d\w])(?<!and )([½¼¾⅓⅔⅛])", lambda m: _VULGAR[m.group(1)], text)  # 1½ stays "1 and a half"
    text = re.sub(r"\bthe (\d+)m\b(?! [a-z]+s\b)", r"the \1 meters", text)  # ran the 100m (the 2m followers: millions)
    text = re.sub(r"(?<![\d.])(\d+)m (?=relay|dash|sprint|hurdles|freestyle|butterfly|backstroke|breaststroke|medley)", r"\1 meter ", text)
    text = re.sub(r"(?<=\bin )(\d+\.\d+) s\b", r"\1 seconds", text)
    text = re.sub(r"(?<![\w.])(\d)([A-Z]{2,3})\b",
                  lambda m: m.group(0) if m.group(2) in _UNIT_LETTERS else f"{num2words(int(m.group(1)))} {' '.join(m.group(2))}",
                  text)  # 2FA, 4WD (the digit said first, so W is not read as watts)
    text = _SIZE_LIST.sub(lambda m: re.sub(_SIZE, lambda s: _SIZES[s.group(0)], re.sub(r"\s?-\s?", " to ", m.group(0))),
                          text)  # sizes S-XL: small to extra large
    text = re.sub(r"\b(\d{2})W\s?x\s?(\d{2})L\b", r"\1 waist by \2 length", text)  # 32W x 30L
    text = re.sub(r"\b(\d)T\s?-\s?(\d)T\b", r"\1 T to \2 T", text)  # toddler sizes 2T-5T
    text = re.sub(r"\b(\d{1,2})K (?=(?:white |rose |yellow |solid )?gold)", r"\1 karat ", text)  # 14K gold
    text = re.sub(r"(?<=\d) ct\.?(?=\s)", lambda m: " carat" if _GEM.match(m.string, m.end()) else " count", text)  # 100 ct.
    text = re.sub(r"(?<=[a-z] )x(\d)\b", r"times \1", text)  # toothbrush heads x2
    text = re.sub(r"\bqty\b\.?", "quantity", text)
    text = re.sub(r"(?:(?<=\bat )|(?<=\d\.\d))(\d*)A\b", r"\1 amps", text)  # 12V at 1.5A
    text = re.sub(r"\bHE\b(?= (?:machines?|washers?|detergents?)\b)", "H E", text)
    text = re.sub(r"\b(an? )(\d+(?:\.\d+)?) m\b(?= [a-z])", r"\1\2 meter", text)  # a 2.4 m cable (a 5m fine is money)
    text = re.sub(r"\bA/C\b", "A C", text)
    text = re.sub(r"\bSeries X\|S\b", "Series X and S", text)
    text = re.sub(r"\best\. (?=[a-z])", "estimated ", text)  # est. delivery
    text = re.sub(r"(?<=\d)'\s?x\s?(\d+)'", r" by \1", text)  # a 10'x12' rug: ten by twelve
    text = re.sub(r"(?<=\d) in\./(?=\d)", " inches or ", text)  # 15 in./38 cm
    text = re.sub(r"(?<=\d) in\. (?=[LWHD]\b)", " inches ", text)  # 72 in. L x 30 in. W
    text = re.sub(r"(?<=\b[LWHD]) x (?=\d)", " by ", text)
    return re.sub(r"(?<=\d)-?pk\b", "-pack", text)
