"""English dates read as a narrator says them: numeric dates (``12/06/2026``, ``2026-12-06``; US
month first unless the first number cannot be a month), a month and day after a word of dates or
in a range (``valid 12/1-12/24``: "December first to December twenty-fourth"), abbreviated months
before a day or a year (``Dec. 5th``) and, without a period, only beside a day (``3 Feb``); weekdays
abbreviated beside a date or in a run of days (``Mon-Fri``). Alone, "Sun", "Wed" and "Mar" are words.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from num2words import num2words

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
# An abbreviated month (with its period) is read as the month only before a day or a year: alone,
# "Jan." may be a name.
MONTH_ABBREVIATIONS = MappingProxyType({m[:3]: m for m in MONTHS if m != "May"} | {"Sept": "September"})
_MONTH_ABBREVIATION_ALT = "|".join(MONTH_ABBREVIATIONS)
# The same without a period, only right next to a day ("Feb 3", "3 Feb"): "Mar" alone may be a word.
_MONTH_NEXT_TO_DAY = re.compile(rf"\b({_MONTH_ABBREVIATION_ALT})\b(?=\s+\d{{1,2}}(?!\d))"
                                rf"|(?<=(?<![\d.,])\d\s)({_MONTH_ABBREVIATION_ALT})\b"
                                rf"|(?<=(?<![\d.,])\d\d\s)({_MONTH_ABBREVIATION_ALT})\b")
# ... or after a word of time, with no day: "starts in Aug." (its period ends the sentence only where one follows).
_MONTH_AFTER_TIME_WORD = re.compile(rf"\b((?i:in|by|until|since|from|before|after|during|early|mid|late|of)) "
                                    rf"({_MONTH_ABBREVIATION_ALT})\.((?=\s*$|\s+[A-Z]))?")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_ABBREVIATIONS = MappingProxyType({d[:3]: d for d in WEEKDAYS} | {"Tues": "Tuesday", "Thur": "Thursday",
                                                                        "Thurs": "Thursday"})
_WEEKDAY_ALT = "|".join(sorted(_WEEKDAY_ABBREVIATIONS, key=len, reverse=True))
# An abbreviated weekday is read as the day before a date ("Mon, 3 Feb") or in a run of days
# ("Mon-Fri", "Sat & Sun"); alone, "Sun" or "Wed" is a word.
_WEEKDAY_RANGE = re.compile(rf"\b({_WEEKDAY_ALT})\.?\s?(?:[-–—/&]|\s(?:to|through|and)\s)\s?({_WEEKDAY_ALT})\b")
_WEEKDAY_BEFORE_DATE = re.compile(rf"\b({_WEEKDAY_ALT})\b\.?(?=,?\s+(?:\d{{1,2}}(?!\d)|(?:{'|'.join(MONTHS)}|"
                                  rf"{_MONTH_ABBREVIATION_ALT})\b))")
_NUMERIC_DATE = re.compile(r"(?<![\d/.-])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?![\d/])")
_ISO_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")
_MONTH_DAY = re.compile(rf"\b({'|'.join(MONTHS)})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:\s?[-–]\s?(\d{{1,2}})(?:st|nd|rd|th)?)?"
                        rf"(?![\d:.,]\d|\w)")  # Dec 1-15: "December first to the fifteenth"
_DAY_MONTH = re.compile(rf"(?<![\w.,])(\d{{1,2}})(?:st|nd|rd|th)?\s+({'|'.join(MONTHS)})\b")


def _date(month: int, day: int, year: str) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    full = int(year) if len(year) == 4 else int(year) + (2000 if int(year) < 50 else 1900)  # 01/05/26: 2026
    spoken_year = num2words(full, to="year")
    return f"{MONTHS[month - 1]} {num2words(day, to='ordinal')}, {spoken_year}"


def _numeric_date(m: re.Match[str]) -> str:
    """12/06/2026: December sixth; the day first only when the first number cannot be a month."""
    first, second, year = int(m.group(1)), int(m.group(2)), m.group(3)
    month, day = (second, first) if first > 12 else (first, second)
    return _date(month, day, year) or m.group(0)


def _weekday_run(m: re.Match[str]) -> str:
    """Mon-Fri: Monday to Friday; Sat & Sun: Saturday and Sunday."""
    joiner = "and" if "&" in m.group(0) or " and " in m.group(0) else "to"
    return f"{_WEEKDAY_ABBREVIATIONS[m.group(1)]} {joiner} {_WEEKDAY_ABBREVIATIONS[m.group(2)]}"


# A month and day without a year (12/24) is a date after a word of dates or beside another one in a
# range; elsewhere it may be a fraction or a score.
_DATE_WORD = r"(?i:on|from|until|till|by|before|after|since|through|thru|due|valid|starting|starts|ends?|expires?|between|delivery|arrives)"
_MONTH_DAY_PAIR = r"(1[0-2]|0?[1-9])/(3[01]|[12]\d|0?[1-9])"
_SLASHED_RANGE = re.compile(rf"(?<![\d/.-]){_MONTH_DAY_PAIR}\s?[-–]\s?{_MONTH_DAY_PAIR}(?![\d/])")
_SLASHED_AFTER_WORD = re.compile(rf"\b({_DATE_WORD} ){_MONTH_DAY_PAIR}(?![\d/]|\.\d)")


# the 1st-3rd of March: "the first to the third of March"
_ORDINAL_RANGE = re.compile(r"(?<![\w.])(\d{1,2})(?:st|nd|rd|th)\s?[-–]\s?(\d{1,2})(?:st|nd|rd|th)\b( of)?")


def _month_day(month: str, day: str) -> str:
    return f"{MONTHS[int(month) - 1]} {num2words(int(day), to='ordinal')}"


def read_dates(text: str) -> str:
    """Every kind of date in ``text`` as words (see the module's docstring)."""
    text = re.sub(rf"\b({_MONTH_ABBREVIATION_ALT})\.(?=\s*\d)", lambda m: MONTH_ABBREVIATIONS[m.group(1)], text)
    text = _MONTH_AFTER_TIME_WORD.sub(lambda m: f"{m.group(1)} {MONTH_ABBREVIATIONS[m.group(2)]}"
                                  + ("." if m.group(3) is not None else ""), text)
    text = _MONTH_NEXT_TO_DAY.sub(lambda m: MONTH_ABBREVIATIONS[m.group(m.lastindex or 0)], text)
    text = _WEEKDAY_RANGE.sub(_weekday_run, text)
    text = _WEEKDAY_BEFORE_DATE.sub(lambda m: _WEEKDAY_ABBREVIATIONS[m.group(1)], text)
    text = _ISO_DATE.sub(lambda m: _date(int(m.group(2)), int(m.group(3)), m.group(1)) or m.group(0), text)
    text = _NUMERIC_DATE.sub(_numeric_date, text)
    text = _MONTH_DAY.sub(lambda m: " to the ".join([f"{m.group(1)} {num2words(int(m.group(2)), to='ordinal')}"]
                                                + [num2words(int(d), to="ordinal") for d in m.groups()[2:] if d])
                          if all(1 <= int(d) <= 31 for d in m.groups()[1:] if d) else m.group(0), text)
    text = _DAY_MONTH.sub(lambda m: f"the {num2words(int(m.group(1)), to='ordinal')} of {m.group(2)}"
                          if 1 <= int(m.group(1)) <= 31 else m.group(0), text)
    text = _ORDINAL_RANGE.sub(lambda m: f"{num2words(int(m.group(1)), to='ordinal')} to "
                              f"{'the ' if m.group(3) else ''}{num2words(int(m.group(2)), to='ordinal')}{m.group(3) or ''}", text)
    text = _SLASHED_RANGE.sub(lambda m: f"{_month_day(m.group(1), m.group(2))} to {_month_day(m.group(3), m.group(4))}", text)
    return _SLASHED_AFTER_WORD.sub(lambda m: m.group(1) + _month_day(m.group(2), m.group(3)), text)
