"""Numbers as they are spoken, for scoring: a transcript writes "20" or "twenty", "2024年" or
"二零二四年", whichever way the words were said, and both sides must read the same."""

from __future__ import annotations

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
