"""Dates, years and times of day read in Chinese (2024-05-01 二零二四年五月一日, 10:04pm
晚上十点零四分): the normalizer's rules that find them (``DATE_RULES``, run in order after the
phone numbers and codes) and the functions that say them."""

from __future__ import annotations

import re
from collections.abc import Callable

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


DATE_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    # decades: 80年代 八十年代 (a two-digit year before 年 is otherwise read digit by digit)
    (re.compile(r"(?<![\d.])([1-9]0)(?=年代)"), lambda m: read_cardinal(m.group(1))),
    # dates
    (re.compile(r"(?<!\d)(\d{4})\s*[-~至到—]\s*(\d{4})年"), read_year_range),
    (re.compile(r"(?<!\d)(\d{4})\s*[-~～至到—]\s*(\d{4})(?=学年|财年|赛季|年度|届)"),
     lambda m: read_digits(m.group(1)) + "到" + read_digits(m.group(2))),
    (re.compile(r"(?<!\d)(?P<y>\d{4})([-/.·])(?P<mo>0?[1-9]|1[0-2])\2(?P<d>0?[1-9]|[12]\d|3[01])(?!\d)(?P<suf>)"), read_date),
    # 2008/08 and 08/2008: a year and a month (a fraction never has a four-digit year on one side)
    (re.compile(r"(?<![\d/.])(?P<y>(?:19|20)\d{2})[/·-](?P<mo>0?[1-9]|1[0-2])(?![\d/.·%-])"), read_date),
    (re.compile(r"(?<![\d/.-])(?P<mo>0?[1-9]|1[0-2])/(?P<y>(?:19|20)\d{2})(?![\d/.])"), read_date),
    # 12/2/2, 19/3/8: a two-digit year, month and day (three parts are never a fraction)
    (re.compile(r"(?<![\d/.])(?P<y>\d{2})/(?P<mo>0?[1-9]|1[0-2])/(?P<d>0?[1-9]|[12]\d|3[01])(?![\d/])"), read_date),
    # 08-08, 05-20: month-day written with a leading zero (a range is not written 05-20)
    (re.compile(r"(?<![\d./-])(?P<mo>0[1-9])-(?P<d>0[1-9]|[12]\d|3[01])(?![\d-])"), read_date),
    # 12.15上午, 12/15（周二）: a month and day before a time of day or a weekday
    (re.compile(r"(?<![\d./])(?P<y>)(?P<mo>1[0-2]|0?[1-9])[./](?P<d>3[01]|[12]\d|0?[1-9])(?P<suf>)(?=\s?(?:上午|下午|晚上|中午|"
                r"早上|凌晨|傍晚|当天|[（(]?周[一二三四五六日天]|[（(]?星期))"), read_date),
    # 周三（3/5）: ... or after a weekday, in brackets
    (re.compile(r"(?<=周[一二三四五六日天][（(])(?P<y>)(?P<mo>1[0-2]|0?[1-9])[./](?P<d>3[01]|[12]\d|0?[1-9])(?P<suf>)(?=[）)])"),
     read_date),
    (re.compile(r"(?<!\d)(?P<y>\d{4})年(?:(?P<mo>0?[1-9]|1[0-2])月(?:(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号]))?)?"), read_date),
    (re.compile(r"(?<![\d.])(?P<y>\d{2})年(?:(?P<mo>0?[1-9]|1[0-2])月(?:(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号]))?)?"), read_short_year),
    (re.compile(r"(?<![\d.])(?P<y>)(?P<mo>0?[1-9]|1[0-2])月(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号])"), read_date),
    # 3月15日-17日, 12月1日-12月12日 (that month already read): a range of days
    (re.compile(r"(?<=[日号])\s?[-~—–至]\s?(?:(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号])|(?=[一二三四五六七八九十]+月|[零〇一二三四五六七八九]{4}年))"),
     lambda m: read_cardinal(m.group("d")).join(("到", m.group("suf"))) if m.group("d") else range_word(m.group(0))),
    (re.compile(r"(?<![\d.·第])(1[0-2]|[1-9])(?:·|\.(?=\d{1,2}[\u4e00-\u9fff]{1,3}节))([1-9]|[12]\d|3[01])(?![\d·])"),
     lambda m: read_cardinal(m.group(1)) + read_digits(m.group(2))),
    # generations: 90后 九零后, 00后 零零后
    (re.compile(r"(?<![\d.])(\d{2})后"), lambda m: read_digits(m.group(1)) + "后"),
    # 12-hour clock: 10:04pm, 8:00 a.m., 9am
    (re.compile(r"(?<![\d.:])(?P<h>1[0-2]|0?[1-9])(?:[:：](?P<mi>[0-5]\d)(?:[:：](?P<s>[0-5]\d))?)?\s?"
                r"(?P<ap>[aApP]\.\s?[mM]\.|[aApP][mM])(?![A-Za-z])"), read_clock),
    # 上午九点-下午六点: the dash between two clock times read above is 到
    (re.compile(r"(?<=[点分秒])\s?[-~～—–至]\s?(?=上午|下午|晚上|凌晨|中午|早上)"), lambda m: "到"),
    # durations after a word of elapsed time: 用时1:23:45, 时长3:20
    (re.compile(r"(?P<w>用时|耗时|时长|历时|计时)(?P<sep>[:：为是约]?\s?)(?:(?P<h>\d{1,2})[:：])?(?P<mi>[0-5]?\d)[:：]"
                r"(?P<s>[0-5]\d)(?![\d:：])"), read_duration),
    # times and time ranges
    (re.compile(r"(?<![\d.])((?:[01]?\d|2[0-4])[:：][0-5]\d(?:[:：][0-5]\d)?)\s*[-~至到—]\s*"
                r"((?:[01]?\d|2[0-4])[:：][0-5]\d(?:[:：][0-5]\d)?)(?!\d)"), read_time_range),
    (re.compile(rf"(?<![\d.]){TIME.pattern}(?![\d])"), read_time),
)
