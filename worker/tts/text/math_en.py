"""Arithmetic and algebra read in English as a teacher says them.

Inside an equation (terms joined by operators around "="): 2x - 4 = 10 "2 x minus 4 equals 10",
10 ÷ 2 = 5 "10 divided by 2 equals 5", 3 × 3 = 9 "3 times 3 equals 9". Outside one, the sign ×
between two numbers is "times" where no unit follows (2 × 3 is the same as 3 × 2; a 10 × 20 cm
tray stays a dimension, "by"); 5² "5 squared", x³ "x cubed", x^2 "x squared", 2^10 "2 to the
power of 10", √9 "the square root of 9", and a ratio 16:9 "16 to 9" (a clock time is left).
"""

from __future__ import annotations

import re

_POWER_WORDS = {"²": "squared", "³": "cubed", "2": "squared", "3": "cubed"}
_OPERATORS = {"-": "minus", "−": "minus", "+": "plus", "×": "times", "*": "times", "÷": "divided by", "=": "equals"}
_TERM = r"(?:√?\d+(?:\.\d+)?[a-z]?[²³]?|√?[a-z][²³]?)"
_EQUATION = re.compile(rf"(?<![\w.]){_TERM}(?:\s?[-−+×*÷=]\s?{_TERM})*\s?=\s?{_TERM}(?:\s?[-−+×*÷=]\s?{_TERM})*(?!\w|\.\d)")
_TIMES_SIGN = re.compile(r"(?<=\d)\s?×\s?(?=\d+(?:\.\d+)?(?:\s*(?:[.,;:!?)]|$)|\s(?:is|equals|makes|gives|and|or)\b))")


def _equation(m: re.Match[str]) -> str:
    parts = re.split(r"\s?([-−+×*÷=])\s?", m.group(0))
    return " ".join(_OPERATORS.get(p) or re.sub(r"(?<=\d)(?=[a-z])", " ", p) for p in parts)


def read_math(text: str) -> str:
    """``text`` with its equations, powers, roots and ratios as said."""
    text = _EQUATION.sub(_equation, text)
    text = _TIMES_SIGN.sub(" times ", text)
    text = re.sub(r"(?<![A-Za-z\d])(?<!\d )([a-z]|\d+(?:\.\d+)?)([²³])",  # 20 m² is a unit
                  lambda m: f"{m.group(1)} {_POWER_WORDS[m.group(2)]}", text)
    text = re.sub(r"√\s?(?=\d|[a-z]\b)", "the square root of ", text)
    text = re.sub(r"\^(\d+)", lambda m: " " + (_POWER_WORDS.get(m.group(1)) or f"to the power of {m.group(1)}"), text)
    return re.sub(r"(?<![\d:.])(\d{1,2}):(\d)(?![\d:])", r"\1 to \2", text)  # a ratio 3:1, 16:9 (not a clock)
