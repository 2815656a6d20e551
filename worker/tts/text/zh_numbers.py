"""Chinese number readings (cardinal, decimal, digit-by-digit).

Kept apart from the rule table in normalize_zh so the readings can be reused
(and tested) without the regex machinery around them.
"""

from __future__ import annotations

DIGITS = "零一二三四五六七八九"
DIGITS_YAO = "零幺二三四五六七八九"

# Measure words and units after which a bare "2" is read 两 rather than 二.
LIANG_MEASURES: tuple[str, ...] = (
    "个", "只", "条", "本", "件", "位", "次", "天", "年", "小时", "分钟", "秒", "种", "张",
    "台", "部", "辆", "家", "名", "岁", "斤", "公斤", "千克", "克", "米", "公里", "千米",
    "厘米", "毫米", "升", "毫升", "吨", "点", "周", "星期", "倍", "块", "元", "份", "套",
    "双", "对", "层", "间", "口", "把", "支", "杯", "瓶", "碗", "首", "篇", "页", "遍",
    "趟", "分", "角", "万", "亿", "千", "百", "瓦", "千瓦", "伏", "节", "颗", "粒", "座",
    "所", "架", "艘", "门", "头", "匹", "棵", "片", "根", "盒", "包", "箱", "袋", "桶",
    "人", "秒钟", "个月", "英寸", "寸", "尺", "码", "磅", "盎司", "平方米", "立方米",
    "摄氏度", "度", "毫安时", "千瓦时", "兆", "G", "T", "M", "K",
    "款", "道", "项", "场", "批", "轮", "局", "集", "段", "句", "组", "类", "样", "枚", "幅", "封", "笔", "章",
)


def read_digits(digits: str, yao: bool = False) -> str:
    """Digit-by-digit reading, for phone numbers, codes and years.

    ``yao`` reads 1 as 幺, the convention for phone numbers and codes where
    一 and 七 are easily confused.
    """
    table = DIGITS_YAO if yao else DIGITS
    return "".join(table[int(d)] if d.isdigit() else d for d in digits)


def read_cardinal(number: str) -> str:
    """Cardinal reading of a non-negative integer string.

    Very long strings (bank cards, IDs) are read digit by digit because a
    cardinal reading of them is never what a listener expects.
    """
    number = number.lstrip("0") or "0"
    if len(number) > 13:
        return read_digits(number)
    text = _cardinal(int(number))
    # 2000 -> 两千, 20000 -> 两万: leading 二 before a big unit is spoken 两.
    if len(text) >= 2 and text[0] == "二" and text[1] in "千万亿":
        text = "两" + text[1:]
    return text


_GROUP_UNITS = ("", "万", "亿", "万亿")
_PLACES = ("千", "百", "十", "")


def _four(group: int) -> str:
    """1..9999 with 零 for each run of inner zeros: 1005 一千零五, 1050 一千零五十."""
    out = ""
    zero = False
    for place, d in zip(_PLACES, f"{group:04d}"):
        if d == "0":
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[int(d)] + place
    return out


def _cardinal(n: int) -> str:
    """Cardinal reading by groups of four digits (万, 亿), as GB/T 15835 spells numbers out.

    A group below 1000 after a higher group, or a run of empty groups, is marked with one
    零: 100000001000 一千亿零一千, 10010 一万零一十. (cn2an dropped the 零 of the first.)
    """
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = ""
    gap = False
    for unit, group in reversed(list(zip(_GROUP_UNITS, groups))):
        if group == 0:
            gap = bool(out)
            continue
        if out and (gap or group < 1000):
            out += "零"
        out += _four(group) + unit
        gap = False
    if out.startswith("一十"):
        out = out[1:]  # 10-19 at the head: 十五, 十万
    return out


def read_decimal(number: str) -> str:
    """Reading of a decimal such as 3.14 -> 三点一四 (fraction digits one by one)."""
    whole, _, frac = number.partition(".")
    out = read_cardinal(whole or "0")
    if frac:
        out += "点" + read_digits(frac)
    return out


def read_number(number: str) -> str:
    """Integer or decimal, with an optional leading minus sign (负)."""
    sign = ""
    if number.startswith(("-", "−")):
        sign, number = "负", number[1:]
    if "." in number:
        return sign + read_decimal(number)
    return sign + read_cardinal(number)


def read_quantity(number: str, following: str) -> str:
    """Number before a measure word: a bare 2 becomes 两 (两个, 两千克)."""
    if number == "2" and following.startswith(LIANG_MEASURES):
        return "两"
    return read_number(number)


def read_dotted(number: str) -> str:
    """2.3.1 二点三点一: a version's parts as numbers (a part written with a leading zero digit by digit)."""
    return "点".join(read_digits(p) if p.startswith("0") and len(p) > 1 else read_cardinal(p) for p in number.split("."))


def read_temperature(number: str, fahrenheit: bool, low: str | None = None, joiner: str = "到") -> str:
    """-5℃ 零下五摄氏度; a range says its unit once, at the end: 2-8℃ 二到八摄氏度 (2至8℃ 二至八摄氏度)."""
    def below(n: str) -> str:
        return "零下" if n.startswith(("-", "−")) else ""
    said = below(number) + read_quantity(number.lstrip("-−"), "度") + ("华氏度" if fahrenheit else "摄氏度")
    return below(low) + read_number(low.lstrip("-−")) + joiner + said if low else said


def range_word(written: str) -> str:
    """至 where the text wrote 至 (七至十个工作日), else 到: a range is said as it is written."""
    return "至" if "至" in written else "到"
