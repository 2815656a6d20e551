"""Chinese text normalization for TTS: digits and symbols -> Chinese characters.

Rules are regexes applied in order; specific patterns (dates, phone numbers,
codes, money, units) run before the generic number rules so that a number is
read the way its context requires.  Latin words are left as they are: the
frontend reads them with the English G2P.  Unlike ASR-oriented normalizers,
nothing here drops 儿 or interjections.

Readings decided where usage differs (GB/T 15835-2011 for numerals, broadcast usage otherwise):
- years digit by digit (2008年 二零零八年); two digits + 年 are a span when a span word follows
  (20年后 二十年后) and a short year otherwise (08年 零八年); generations 90后 九零后;
- 300w is 三百万 (w is the written shorthand of 万) unless the text around speaks of power
  (功率, 快充 …); 300W is always 三百瓦;
- service numbers (110, 120, 12315, 10086 …) and phone numbers are read digit by digit with 幺,
  as broadcasters say them; the same digits before a measure word or after 第 are a quantity;
- N-M is a score (比) when N ≥ M or a word of a match is near, a range (到) otherwise;
- 12-hour times say the part of the day first: 10:04pm 晚上十点零四分, 8:00 a.m. 上午八点.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shared.pronunciation.symbols import GREEK, MATH
from worker.tts.text.zh_dates import DATE_RULES
from worker.tts.text.zh_numbers import (
    range_word,
    read_cardinal,
    read_decimal,
    read_digits,
    read_dotted,
    read_number,
    read_quantity,
    read_temperature,
)
from worker.tts.text.zh_vocabulary import (
    CODE_WORDS,
    CURRENCY,
    FULLWIDTH,
    ISO_CURRENCY,
    PHONE_WORDS,
    QUANTITY_AFTER,
    SCORE_WORDS,
    SERVICE_AFTER,
    SERVICE_BEFORE,
    SERVICE_NUMBERS,
    UNITS,
    WATT_CONTEXT,
)

Rule = tuple["re.Pattern[str]", Callable[["re.Match[str]"], str]]

_CURRENCY_ALT = "|".join(re.escape(c) for c in sorted(CURRENCY, key=len, reverse=True))
_ISO_ALT = "|".join(ISO_CURRENCY)
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_PER = rf"(?:/(?P<per>{_UNIT_ALT}))?"  # a unit per unit: m³/h, L/min, mg/ml

_NUM = r"\d+(?:\.\d+)?"
_PROVINCE = "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"  # a plate's first character
_HAN = "\u4e00-\u9fff"
# A slash between a price or quantity and what it is counted by is 每: 元/年, 米/秒, 次/天 (是/否 stays).
_PER_SLASH = re.compile(rf"(?<=[{_HAN}])/(?=(?:年|月|天|日|周|次|个|件|人|位|晚|份|瓶|盒|包|台|套|张|斤|小时|分钟|秒|公斤|千克|克|米"
                        rf"|升|吨|平米|平方米)(?:(?![{_HAN}])|起|左右|以上|以内))")


def _digits_with_symbols(code: str, yao: bool) -> str:
    """Identifier reading: digits one by one, hyphens as 杠, letters kept for the English G2P."""
    out: list[str] = []
    for ch in code:
        if ch.isdigit():
            out.append(read_digits(ch, yao))
        elif ch in "-_":
            out.append("杠")
        elif ch == "/":
            out.append("斜杠")
        elif ch == ".":
            out.append("点")
        elif ch.isalpha():
            # Separate letters from the Chinese that follows so the English G2P
            # sees a clean run.
            out.append(ch)
        else:
            out.append(ch)
    return "".join(out)


def _iso_money(m: re.Match[str]) -> str:
    """An amount with an ISO code on either side: 500CNY 五百元, USD 300 三百美元."""
    return read_number(_trim_zero(m.group("a"))) + (m.group("big") or "") + ISO_CURRENCY[m.group("code")]


def _service(m: re.Match[str]) -> str:
    num = m.group(0)
    prev = m.string[max(0, m.start() - 1):m.start()]
    if (prev == "第" or re.match(r"[A-Za-z$¥￥€£₩₹₽฿]", prev) or re.match(r"\s?[A-Za-z]", m.string[m.end():])
            or re.match(QUANTITY_AFTER, m.string[m.end():])
            or not (SERVICE_BEFORE.search(m.string[max(0, m.start() - 6):m.start()])
                    or SERVICE_AFTER.match(m.string[m.end():m.end() + 3]))):
        return num  # a quantity: the number rules below read it
    return read_digits(num, yao=True)


def _dash_pair(m: re.Match[str]) -> str:
    """N-M is a score (中国1-2, 3-0获胜) when it cannot be a range (N ≥ M) or a word of a match is
    near; before a measure word it stays a range (3-5天) for the rules below."""
    a, b = m.group("a"), m.group("b")
    after = m.string[m.end():]
    if re.match(QUANTITY_AFTER, after) or re.match(r"\s*[=+*×÷<>≤≥]", after):
        return m.group(0)
    window = m.string[max(0, m.start() - 8):m.start()] + " " + after[:4]
    if int(a) >= int(b) or re.search(SCORE_WORDS, window):
        return read_number(a) + "比" + read_number(b)
    return m.group(0)


def _wan(m: re.Match[str]) -> str:
    """300w: lowercase w after a number is 万 in Chinese writing (粉丝300w, 月薪2w), unless the text
    around speaks of power (功率300w, 65w快充); 300W is always watts. w+ is 万加."""
    before = m.string[max(0, m.start() - 8):m.start()]
    after = m.string[m.end():m.end() + 3]
    if WATT_CONTEXT.search(before) or WATT_CONTEXT.match(after):
        return read_quantity(m.group("a"), "瓦") + "瓦" + ("加" if m.group("plus") else "")
    return read_number(m.group("a")) + "万" + ("加" if m.group("plus") else "")


def _power(m: re.Match[str]) -> str:
    """2^10 二的十次方: the exponent is a count, the base is read by the number rules."""
    return m.group(1) + "的" + read_number(m.group(2)) + "次方"


def _money(m: re.Match[str]) -> str:
    cur = CURRENCY[m.group("cur")]
    if m.group("cur") in ("¥", "￥") and m.string[max(0, m.start() - 2):m.start()] == "日元":
        cur = "日元"
    a, b, big = m.group("a"), m.group("b"), m.group("big") or ""
    if b:
        return read_number(_trim_zero(a)) + "到" + read_number(_trim_zero(b)) + big + cur
    return read_number(_trim_zero(a)) + big + cur


def _trim_zero(num: str) -> str:
    """25.50 -> 25.5, 3999.00 -> 3999: prices are read without trailing zeros."""
    if "." in num:
        num = num.rstrip("0").rstrip(".")
    return num


def _percent(m: re.Match[str]) -> str:
    a, b = m.group("a"), m.group("b")
    sign = ""
    if a.startswith("-"):
        sign, a = "负", a[1:]  # -98% 负百分之九十八: the sign is said before 百分之
    if b is not None:
        if m.group("pa"):
            return sign + "百分之" + read_number(a) + "到百分之" + read_number(b)
        return sign + "百分之" + read_number(a) + "到" + read_number(b)
    return sign + "百分之" + read_number(a)


def _unit(m: re.Match[str]) -> str:
    """5kg, 3-5mm, and a unit per unit as spoken: 400m³/h → 四百立方米每小时, 5L/min → 五升每分钟."""
    a, b, unit = m.group("a"), m.group("b"), UNITS[m.group("u")]
    if m.group("per"):
        unit += "每" + UNITS[m.group("per")]
    if b:
        return read_number(a) + range_word(m.group(0)) + read_quantity(b, unit) + unit
    return read_quantity(a, unit) + unit


def _range(m: re.Match[str]) -> str:
    follow = m.string[m.end():m.end() + 3]
    return read_quantity(m.group(1), follow) + range_word(m.group(0)) + read_quantity(m.group(2), follow)  # 两到四人


def _fraction(m: re.Match[str]) -> str:
    return read_number(m.group(2)) + "分之" + read_number(m.group(1))




def _model(m: re.Match[str]) -> str:
    """Model numbers: X200 -> X二零零, A17 -> A十七 (short numbers stay cardinal)."""
    letters, digits, rest = m.group(1), m.group(2), m.group(3) or ""
    sep = ""
    if len(digits) >= 3 or digits.startswith("0"):
        num = read_digits(digits)
    else:
        num = read_cardinal(digits)
    return letters + sep + num + rest


def _spaced_model(m: re.Match[str]) -> str:
    """A model number after capitals and a space: HP 1020 -> HP 一零二零, RTX 4090 -> RTX 四零九零."""
    return m.group(1) + read_digits(m.group(2))


def _dashed_model(m: re.Match[str]) -> str:
    """i7-13700H: i七 一三七零零H, the series as a model, then its number digit by digit (not a minus)."""
    return m.group(1) + read_cardinal(m.group(2)) + " " + read_digits(m.group(3)) + m.group(4)


def _integer(m: re.Match[str]) -> str:
    num = m.group(0)
    follow = m.string[m.end():m.end() + 4]
    prev = m.string[max(0, m.start() - 1):m.start()]
    if len(num) > 1 and num.startswith("0"):
        return read_digits(num)
    if prev == "第" or follow.startswith(("年级", "号", "楼", "月", "期", "代")):
        return read_cardinal(num)
    if prev and prev in "√^":
        return read_number(num)  # √2倍 is 根号二倍: the 2 is under the root, not a count
    return read_quantity(num, follow)


def _superscript(m: re.Match[str]) -> str:
    base, power = m.group(1), m.group(2)
    word = {"²": "的平方", "³": "的立方"}.get(power)
    if word is None:
        return base + "的" + read_cardinal(str("⁰¹²³⁴⁵⁶⁷⁸⁹".index(power))) + "次方"
    return base + word


def _expression(m: re.Match[str]) -> str:
    """Arithmetic written with symbols: 3+5=8, 10-4=6, 2*3."""
    ops = {"+": "加", "-": "减", "*": "乘", "×": "乘", "/": "除以", "÷": "除以", "=": "等于",
           ">": "大于", "<": "小于", "≥": "大于等于", "≤": "小于等于"}
    parts = re.split(r"\s*([+\-*×/÷=<>≥≤])\s*", m.group(0))
    out: list[str] = []
    for p in parts:
        if p in ops:
            out.append(ops[p])
        elif re.fullmatch(_NUM, p):
            out.append(read_number(p))
        else:
            out.append(p)
    return "".join(out)



RULES: tuple[Rule, ...] = (
    # 14 digits and more are never a quantity (ID and card numbers): digit by digit, before the
    # rules below, whose leading \d+ would otherwise try every position of a long run
    (re.compile(r"\d{14,}"), lambda m: read_digits(m.group(0), yao=True)),
    # an order's number, a plate, a train: digit by digit with 幺 (订单20260305001, 京A·12345, G1234次)
    (re.compile(rf"(?<=订单)\d{{6,}}|(?<={_PROVINCE}[A-Z]·)[A-Z0-9]{{5}}|(?<={_PROVINCE}[A-Z])[A-Z0-9]{{5}}(?![A-Za-z0-9])"
                r"|(?<![A-Za-z][GDCZTKY])(?<=[GDCZTKY])\d{1,4}(?=次)"), lambda m: _digits_with_symbols(m.group(0), yao=True)),
    # a song's length 3'20" 三分二十秒; a resolution 1080P 一零八零P; PM2.5
    (re.compile(r"(?<![\d.])(\d{1,3})[′'](\d{1,2})[″\"]"), lambda m: read_cardinal(m.group(1)) + "分" + read_cardinal(m.group(2)) + "秒"),
    (re.compile(r"(?<![\d.])(480|720|1080|1440|2160)(?=[Pp](?![A-Za-z]))"), lambda m: read_digits(m.group(1))),
    (re.compile(r"(?<=PM)2\.5"), lambda m: "二点五"),
    # No.5 五号; No.2026015 digit by digit (a serial number)
    (re.compile(r"(?<![A-Za-z])No\.?\s?(\d+)"),
     lambda m: read_cardinal(m.group(1)) + "号" if len(m.group(1)) <= 3 else read_digits(m.group(1), yao=True)),
    # ISBN 978-7-111-12345-6 and other codes of four dashed groups or more: digit by digit, a pause per group
    (re.compile(r"(?<![\d.-])\d+(?:-\d+){3,}(?![\d-])|(?<=ISBN )[\d-]+\d"),
     lambda m: " ".join(read_digits(g, yao=True) for g in m.group(0).split("-"))),
    # a height or a sprint said short: 1米75 一米七五, 9秒58 九秒五八
    (re.compile(r"(?<![\d.])(\d)([米秒])(\d{2})(?![\d.]|[A-Za-z\u4e00-\u9fff]*[米秒])"),
     lambda m: read_cardinal(m.group(1)) + m.group(2) + read_digits(m.group(3))),
    # thousands separators: 1,234,567 -> 1234567
    (re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])"), lambda m: m.group(0).replace(",", "")),
    # service numbers: 拨打110, 12315
    (re.compile(r"(?<![\d.])(?:" + "|".join(SERVICE_NUMBERS) + r")(?![\d.])"), _service),
    # phone numbers in context and by shape (before dates/ranges eat their hyphens)
    (re.compile(rf"({PHONE_WORDS})([:：是为]?\s?)(\+?\d[\d\- ]{{1,}}\d)"),
     lambda m: m.group(1) + m.group(2) + _phone(m.group(3))),
    (re.compile(r"(?<![\d.])(?:\+?86[\- ]?)?1[3-9]\d[\- ]?\d{4}[\- ]?\d{4}(?!\d)"), lambda m: _phone(m.group(0))),
    (re.compile(r"(?<![\d.])(?:0\d{2,3}-\d{7,8}|400-\d{3}-\d{4}|800-\d{3}-\d{4})(?!\d)"), lambda m: _phone(m.group(0))),
    # identifiers after a code word: SKU 80123-45, 验证码 0317
    (re.compile(rf"({CODE_WORDS})([:：为是]?\s*)([A-Za-z0-9][A-Za-z0-9\-_/.]*[A-Za-z0-9]|\d)"),
     lambda m: m.group(1) + m.group(2) + _digits_with_symbols(m.group(3), yao=True)),
    (re.compile(r"(?<=GB/T )\d+|(?<=GB/T)\d+|(?<=GB )\d+|(?<=ISO )\d+"), lambda m: read_digits(m.group(0))),  # 标准号
    # shopping festivals named by their date: 618大促 六一八, 3·15 三一五, 5·20 五二零, 10·1 十一
    (re.compile(r"(?<![\d.])(618|520|315|818|919|1111|1212)(?=大促|购物节|年中|狂欢|促销|活动|当天|期间|晚会)"),
     lambda m: read_digits(m.group(1))),
    *DATE_RULES,  # years, dates, generations, clock times and durations
    # N-M: a score or a range
    (re.compile(r"(?<![\d.:/A-Za-z-])(?P<a>\d{1,3})\s?[-–—]\s?(?P<b>\d{1,3})(?![\d.:/-])"), _dash_pair),
    # ratio / score 3:2
    (re.compile(r"(?<![\d.])(\d+)[:：](\d+)(?![\d])"), lambda m: read_number(m.group(1)) + "比" + read_number(m.group(2))),
    # money
    (re.compile(rf"(?<![A-Za-z])(?P<cur>{_CURRENCY_ALT})\s?(?P<a>{_NUM})(?:\s?[-~到至]\s?(?:{_CURRENCY_ALT})?(?P<b>{_NUM}))?(?P<big>[万亿]|千万|百万)?"), _money),
    (re.compile(rf"(?<![A-Za-z0-9.])(?P<a>{_NUM})\s?(?P<big>[万亿]|千万|百万)?\s?(?P<code>{_ISO_ALT})(?![A-Za-z])"), _iso_money),
    (re.compile(rf"(?<![A-Za-z])(?P<code>{_ISO_ALT})\s?(?P<a>{_NUM})(?P<big>[万亿]|千万|百万)?(?![\d.])"), _iso_money),
    # percentages and per-mille
    (re.compile(rf"(?<![\d.])(?P<a>-?{_NUM})(?P<pa>%)?\s?[-~到至]\s?(?P<b>{_NUM})%"), _percent),
    (re.compile(rf"(?<![\d.])(?P<a>-?{_NUM})%"), lambda m: ("负" if m.group("a").startswith("-") else "") + "百分之"
     + read_number(m.group("a").lstrip("-"))),
    (re.compile(rf"(?<![\d.])(?P<a>{_NUM})‰"), lambda m: "千分之" + read_number(m.group("a"))),
    # temperatures; "-5度" is below zero, not negative five
    (re.compile(rf"(?<![\dA-Za-z])[-−](?P<n>{_NUM})度"), lambda m: "零下" + read_quantity(m.group("n"), "度") + "度"),
    (re.compile(rf"(?<![\d.])(?:(?P<a>[-−]?{_NUM})\s?[-~～到至]\s?)?(?P<n>[-−]?{_NUM})\s?(?P<u>℃|°C|°F|℉)"),
     lambda m: read_temperature(m.group("n"), "F" in m.group("u"), m.group("a"), range_word(m.group(0)))),
    # a minus sign before a number at the start, after a Chinese character or an operator: -1+2, x=-3
    (re.compile(rf"(?:^|(?<=[\s{_HAN}=+*×÷(（,，:：<>≤≥]))[-−](?=\d)"), lambda m: "负"),
    (re.compile(r"(?<=\d)\s?h\s?(?=\d{1,2}\s?min(?![A-Za-z]))"), lambda m: "小时"),  # 1h30min 一小时三十分钟
    # 300w 三百万 (300W 三百瓦): before the unit rules read w as watts
    (re.compile(rf"(?<![\d.A-Za-z])(?P<a>{_NUM})w(?P<plus>\+)?(?![A-Za-z])"), _wan),
    # powers: 2^10, x^2
    (re.compile(r"([A-Za-z0-9]+)\^(\d+)"), _power),
    # discounts: 95折 is 九五折, 7.5折 stays 七点五折 (the decimal rule)
    (re.compile(r"(?<![\d.])([1-9]{2})(?=折(?![叠断腾磨]))"), lambda m: read_digits(m.group(1))),
    # a minus between single-letter variables: a-b -> a减b (Wi-Fi, e-mail have longer words around)
    (re.compile(r"(?<![A-Za-z0-9])([a-z])\s*[-−]\s*(?=(?:[a-z]|\d)(?![A-Za-z]))"), lambda m: m.group(1) + "减"),
    # model numbers after capitals and a space: HP 1020, RTX 4090 (not a currency or a count: USD 1000, GDP 2000亿)
    (re.compile(r"(?<![A-Za-z0-9])(?!(?:USD|RMB|CNY|EUR|HKD|JPY|GBP|TOP|GDP|NO|VS)\b)([A-Z]{2,6} )(\d{3,})"
                r"(?![\d.%A-Za-z:：/万亿千百元年月日号个台件人次位名岁块张米克天分秒倍])"), _spaced_model),
    # versions: v2.3.1 v二点三点一, 版本3.10 (and any number with two dots or more)
    (re.compile(r"(?<![A-Za-z0-9.])([vV]|[Vv]ersion\s?|版本号?\s?)(\d+(?:\.\d+)+)(?![\d.])"),
     lambda m: m.group(1) + read_dotted(m.group(2))),
    (re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d.])"), lambda m: read_dotted(m.group(0))),
    # a model with a dashed number: i7-13700H i七 一三七零零H (not 负一万三千七百)
    (re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,8})(\d{1,2})-(\d{3,})([A-Za-z]{0,3})(?![A-Za-z0-9])"), _dashed_model),
    # room numbers: 1203室 一二零三室
    (re.compile(r"(?<![\d.])(\d{3,4})(?=室|号房|房间)"), lambda m: read_digits(m.group(1), yao=True)),
    # alphanumeric model numbers: X200, RTX4090, A17, iPhone15
    (re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,8}-?)(\d+)([A-Za-z]{0,3})(?![A-Za-z0-9])"), _model),
    # number ranges with a unit: 3-5kg, 10~20cm
    (re.compile(rf"(?<![\d.A-Za-z])(?P<a>{_NUM})\s?[-~到至]\s?(?P<b>{_NUM})\s?(?P<u>{_UNIT_ALT}){_PER}(?![A-Za-z])"),
     _unit),
    # numbers with a unit: 5kg, 3.5mm, 100W (not the denominator of 5/8英寸)
    (re.compile(rf"(?<![\d./A-Za-z])(?P<a>{_NUM})(?P<b>)\s?(?P<u>{_UNIT_ALT}){_PER}(?![A-Za-z/])"), _unit),
    # superscripts: x², 10³
    (re.compile(r"([A-Za-z0-9]+)([²³⁴⁵⁶⁷⁸⁹])"), _superscript),
    (re.compile(r"(?<=平方|立方)\s*[-−]\s*(?=[\dA-Za-z])"), lambda m: "减"),  # x²-4 x的平方减四
    # fractions beside + - × ÷: 1/3+1/6 三分之一加六分之一 (before the sums below take 3+1)
    (re.compile(r"(?<![\d/.])(\d+)/(\d+)(?![\d/.])(?=\s*[+\-*×÷])"), _fraction),
    (re.compile(r"(?<=[+\-*×÷])(\s*)(\d+)/(\d+)(?![\d/.])"),
     lambda m: m.group(1) + read_number(m.group(3)) + "分之" + read_number(m.group(2))),
    # arithmetic with an equals sign or comparison: 3+5=8, 10-4=6
    (re.compile(rf"(?<![\d.]){_NUM}(?:\s*[+\-*×/÷]\s*{_NUM})+\s*[=<>≥≤]\s*{_NUM}"), _expression),
    (re.compile(rf"(?<![\d.]){_NUM}(?:\s*[+*×÷]\s*{_NUM})+"), _expression),
    # plain ranges: 3-5天, 10~20
    (re.compile(rf"(?<![\d.A-Za-z])({_NUM})\s?[-~～—至]\s?({_NUM})(?![\d.])"), _range),
    # fractions: 3/4 -> 四分之三
    (re.compile(r"(?<![\d/])(\d+)/(\d+)(?![\d/])"), _fraction),
    # negative numbers
    (re.compile(rf"(?<![\dA-Za-z])[-−]({_NUM})"), lambda m: "负" + read_number(m.group(1))),
    # decimals, then integers
    (re.compile(r"\d+\.\d+"), lambda m: read_decimal(m.group(0))),
    (re.compile(r"\d+"), _integer),
)


def _phone(raw: str) -> str:
    """Phone numbers digit by digit with 幺 for 1; the +86 prefix is read 加八六."""
    raw = raw.strip()
    out = ""
    if raw.startswith("+"):
        out, raw = "加", raw[1:]
    return out + read_digits(re.sub(r"[\s\-]", "", raw), yao=True)


def normalize_zh(text: str) -> str:
    """Rewrite digits and symbols in Chinese text as the characters a reader would say."""
    text = text.translate(FULLWIDTH)
    text = text.replace("<=", "≤").replace(">=", "≥").replace("!=", "≠").replace("=<", "≤").replace("=>", "≥")
    for pattern, handler in RULES:
        text = pattern.sub(handler, text)
    text = "".join(GREEK.get(c, c) for c in text)
    for sym, word in MATH.items():
        text = text.replace(sym, word)
    text = re.sub(r"=", "等于", text)
    text = re.sub(rf"(?<=[{_HAN}A-Za-z0-9])\s*>\s*(?=[{_HAN}A-Za-z0-9])", "大于", text)
    text = re.sub(rf"(?<=[{_HAN}A-Za-z0-9])\s*<\s*(?=[{_HAN}A-Za-z0-9])", "小于", text)
    text = re.sub(rf"(?<=[{_HAN}A-Za-z0-9])\+(?=[{_HAN}A-Za-z0-9])", "加", text)
    text = re.sub(rf"(?<=[{_HAN}])\s*[~]\s*(?=[{_HAN}])", "到", text)
    text = re.sub(r"(?<=[零一二三四五六七八九十百千万亿两])\+(?![\w+])", "加", text)  # 已售10万+ 十万加
    return _PER_SLASH.sub("每", text)  # 八十八元/年 八十八元每年
