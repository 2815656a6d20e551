"""Dates, years and times of day read in Chinese (2024-05-01 二零二四年五月一日, 10:04pm
晚上十点零四分); the normalizer's rules find them, these say them."""

from __future__ import annotations

import re

from worker.tts.text.zh_numbers import range_word, read_cardinal, read_digits, read_quantity
from worker.tts.text.zh_vocabulary import YEARS_COUNTED, YEARS_SPAN

TIME = re.compile(r"(?P<h>[01]?\d|2[0-4])[:：](?P<mi>[0-5]\d)(?:[:：](?P<s>[0-5]\d))?")


def read_date(m: re.Match[str]) -> str:
    groups = m.groupdict()
    y, mo, d = groups.get("y"), groups.get("mo"), groups.get("d")
    out = ""
    if y:
        out += read_digits(y) + "年"
    if mo:
        out += read_cardinal(mo) + "月"
    if d:
        out += read_cardinal(d) + (groups.get("suf") or "日")
    return out


def read_short_year(m: re.Match[str]) -> str:
    """Two digits + 年: a span of years when a span word follows (20年后 二十年后, 15年来 十五年来),
    otherwise a year written short (08年, 98年) read digit by digit."""
    num = m.group("y")
    counted = m.string[:m.start()].endswith(YEARS_COUNTED)
    if not num.startswith("0") and (counted or re.match(YEARS_SPAN, m.string[m.end():])):
        return read_cardinal(num) + "年"
    return read_date(m)


def read_clock(m: re.Match[str]) -> str:
    """A 12-hour time: 10:04pm 晚上十点零四分, 8:00 a.m. 上午八点, 12am 凌晨十二点.

    The part of the day is said before the time, unless the text already says it (早上7:30 a.m.)."""
    h = int(m.group("h"))
    pm = m.group("ap").lower().startswith("p")
    if pm:
        part = "中午" if h == 12 else "下午" if h <= 6 else "晚上"  # 6pm 下午六点, 7pm 晚上七点
    else:
        part = "凌晨" if h == 12 or h < 5 else "上午"
    before = m.string[max(0, m.start() - 2):m.start()]
    if before in ("早上", "上午", "下午", "晚上", "凌晨", "中午", "傍晚", "夜里", "清晨", "早晨", "午后", "夜间"):
        part = ""
    mi, sec = m.group("mi"), m.group("s")
    if mi is None:
        return part + read_quantity(m.group("h"), "点") + "点"
    return part + read_time(TIME.fullmatch(f"{m.group('h')}:{mi}" + (f":{sec}" if sec else "")))  # type: ignore[arg-type]


def read_time(m: re.Match[str]) -> str:
    h, mi, s = m.group("h"), m.group("mi"), m.group("s")
    out = read_quantity(h, "点") + "点"
    if mi and mi != "00":
        out += ("零" if mi.startswith("0") else "") + read_cardinal(mi) + "分"
    if s and s != "00":
        out += ("零" if s.startswith("0") and mi == "00" else "") + read_cardinal(s) + "秒"
    return out


def read_time_range(m: re.Match[str]) -> str:
    return read_time(TIME.fullmatch(m.group(1))) + range_word(m.group(0)) + read_time(TIME.fullmatch(m.group(2)))  # type: ignore[arg-type]


def read_year_range(m: re.Match[str]) -> str:
    return read_digits(m.group(1)) + "到" + read_digits(m.group(2)) + "年"


def read_duration(m: re.Match[str]) -> str:
    """用时1:23:45 一小时二十三分四十五秒: after a word of elapsed time, h:mm:ss is a duration, not a clock."""
    h, mi, sec = m.group("h"), m.group("mi"), m.group("s")
    out = m.group("w") + m.group("sep")
    if h:
        out += read_quantity(h, "小时") + "小时"
    if mi.strip("0") or h:
        out += read_cardinal(mi.lstrip("0") or "0") + "分"
    return out + read_cardinal(sec.lstrip("0") or "0") + "秒"
