"""Phone numbers read in English as a caller says them.

Digit by digit in the groups they are written in, with a comma (Kokoro's short pause) between
groups; the US toll-free and premium area codes 800 and 900 as "eight hundred" and "nine
hundred" (1-800-555-0199 "one, eight hundred, five five five, zero one nine nine"); a number
written with a country code after "plus" (+44 20 7946 0958); an extension after "extension";
and a short number (911, a text code) only right after a word of calling, since "call 100
customers" is a count.
"""

from __future__ import annotations

import re

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_US = re.compile(r"(?<![\w+-])(?:(\+?1)[-. ])?(?:\((\d{3})\)\s?|(\d{3})[-. ])(\d{3})[-. ](\d{4})(?![\w-])")
_AREA_WORDS = {"800": "eight hundred", "900": "nine hundred"}
# Seven digits alone are a phone number only where the words before speak of calling: "100-2000
# lumens" is a range.
_SEVEN = re.compile(r"(?<![\w-])(\d{3})-(\d{4})(?![\w-])")
_CALLING = re.compile(r"\b(call|phone|tel|telephone|line|dial|fax|text|number|hotline|contact|reach|voicemail|message)\b\W*(?:\w+\W+){0,3}$",
                      re.IGNORECASE)
_INTERNATIONAL = re.compile(r"(?<![\w+])\+(\d{1,3})((?:[ .-]\(?\d{1,5}\)?){2,5})(?![\w-])")
_EXTENSION = re.compile(r",?\s(?:ext\.?|extension)\s?(\d{1,6})\b", re.IGNORECASE)
_SHORT = re.compile(r"\b((?i:call|dial|text))\s(\d{3,6})(?=\s*(?:$|[.,;:!?)]|(?:to|now|for|today|or|and|if|before|in|from|immediately|right)\b))")
_AFTER_NUMBER = re.compile(rf"(?:\d|{'|'.join(_DIGIT_WORDS)}|hundred)$")
# A keyword texted to a short code: "Text STOP to 55123".
_TEXT_CODE = re.compile(r"(\b(?i:text|send|reply)\s+[A-Z]{2,}\s+to\s)(\d{3,6})\b")


def say_digits(number: str) -> str:
    """Each digit as a word: 0142 "zero one four two"."""
    return " ".join(_DIGIT_WORDS[int(d)] for d in number if d.isdigit())


def _us(m: re.Match[str]) -> str:
    area = m.group(2) or m.group(3)
    groups = [("plus " if m.group(1).startswith("+") else "") + say_digits(m.group(1))] if m.group(1) else []
    groups += [_AREA_WORDS.get(area) or say_digits(area), say_digits(m.group(4)), say_digits(m.group(5))]
    return ", ".join(groups)


def read_phone_numbers(text: str) -> str:
    """``text`` with its phone numbers as the words a caller says."""
    text = _US.sub(_us, text)
    text = _SEVEN.sub(lambda m: say_digits(m.group(1)) + ", " + say_digits(m.group(2))
                      if _CALLING.search(m.string[max(0, m.start() - 80):m.start()]) else m.group(0), text)
    text = _INTERNATIONAL.sub(lambda m: "plus " + ", ".join(say_digits(g) for g in re.findall(r"\d+", m.group(0))), text)
    text = _EXTENSION.sub(lambda m: ("," if _AFTER_NUMBER.search(m.string, 0, m.start()) else "")
                          + " extension " + say_digits(m.group(1)), text)  # "ask for ext. 204" takes no pause
    text = _TEXT_CODE.sub(lambda m: m.group(1) + say_digits(m.group(2)), text)
    return _SHORT.sub(lambda m: m.group(1) + " " + say_digits(m.group(2)), text)
