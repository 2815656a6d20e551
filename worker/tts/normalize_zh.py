"""Chinese text normalization for TTS: digits and symbols -> Chinese characters.

Rules are regexes applied in order; specific patterns (dates, phone numbers,
codes, money, units) run before the generic number rules so that a number is
read the way its context requires.  Latin words are left as they are: the
frontend reads them with the English G2P.  Unlike ASR-oriented normalizers,
nothing here drops 儿 or interjections.
"""

from __future__ import annotations

import re
from typing import Callable

from worker.tts.zh_numbers import (
    read_cardinal,
    read_decimal,
    read_digits,
    read_number,
    read_quantity,
)

Rule = tuple["re.Pattern[str]", Callable[["re.Match[str]"], str]]

_FULLWIDTH = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)}
    | {chr(0xFF21 + i): chr(0x41 + i) for i in range(26)}
    | {chr(0xFF41 + i): chr(0x61 + i) for i in range(26)}
    | {"％": "%", "＋": "+", "－": "-", "．": ".", "／": "/", "＄": "$", "＝": "=", "＜": "<", "＞": ">",
       "﹪": "%", "—": "—", "〜": "~", "～": "~", "∶": ":", "‰": "‰", "\u3000": " "}
)

GREEK: dict[str, str] = {
    "α": "阿尔法", "β": "贝塔", "γ": "伽马", "δ": "德尔塔", "ε": "艾普西龙", "ζ": "泽塔",
    "η": "伊塔", "θ": "西塔", "ι": "约塔", "κ": "卡帕", "λ": "兰姆达", "μ": "缪", "ν": "纽",
    "ξ": "克西", "ο": "奥米克戎", "π": "派", "ρ": "肉", "σ": "西格玛", "τ": "套", "υ": "宇普西龙",
    "φ": "斐", "χ": "卡", "ψ": "普西", "ω": "欧米伽", "Δ": "德尔塔", "Σ": "西格玛", "Ω": "欧米伽",
    "Φ": "斐", "Γ": "伽马", "Λ": "兰姆达", "Π": "派", "Θ": "西塔", "Ψ": "普西",
}

MATH: dict[str, str] = {
    "≥": "大于等于", "≤": "小于等于", "≠": "不等于", "≈": "约等于", "±": "正负", "×": "乘",
    "÷": "除以", "√": "根号", "∞": "无穷大", "∑": "求和", "∫": "积分", "∈": "属于",
    "∵": "因为", "∴": "所以", "°": "度", "‰": "千分之", "&": "和", "＆": "和", "№": "第",
}

CURRENCY: dict[str, str] = {"¥": "元", "￥": "元", "$": "美元", "US$": "美元", "€": "欧元", "£": "英镑", "HK$": "港元", "₩": "韩元"}

# Units after a number; longest spellings first so km/h wins over km.
UNITS: dict[str, str] = {
    "km/h": "公里每小时", "m/s": "米每秒", "kWh": "千瓦时", "kwh": "千瓦时", "mAh": "毫安时",
    "mah": "毫安时", "GHz": "吉赫兹", "MHz": "兆赫兹", "kHz": "千赫兹", "Hz": "赫兹",
    "km²": "平方公里", "m²": "平方米", "cm²": "平方厘米", "m³": "立方米", "cm³": "立方厘米",
    "㎡": "平方米", "㎥": "立方米", "km": "公里", "cm": "厘米", "mm": "毫米", "nm": "纳米",
    "μm": "微米", "kg": "千克", "KG": "千克", "Kg": "千克", "mg": "毫克", "g": "克",
    "ml": "毫升", "mL": "毫升", "ML": "毫升", "L": "升", "l": "升", "kW": "千瓦", "KW": "千瓦",
    "kw": "千瓦", "W": "瓦", "w": "瓦", "mA": "毫安", "kV": "千伏", "V": "伏", "dB": "分贝",
    "ms": "毫秒", "min": "分钟", "h": "小时", "s": "秒", "t": "吨", "m": "米", "英寸": "英寸",
    "inch": "英寸", "in": "英寸", "ft": "英尺", "lb": "磅", "lbs": "磅", "oz": "盎司",
    "fps": "帧每秒", "rpm": "转每分钟", "Mbps": "兆比特每秒", "Gbps": "吉比特每秒",
    "MB/s": "兆字节每秒", "GB": "GB", "TB": "TB", "MB": "MB", "KB": "KB",
    "K": "K", "k": "K", "P": "P", "G": "G",
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_PER = rf"(?:/(?P<per>{_UNIT_ALT}))?"  # a unit per unit: m³/h, L/min, mg/ml

# Words after which a run of digits/letters is an identifier read one symbol at a time.
CODE_WORDS = (
    "SKU|sku|型号|编号|货号|订单号|单号|工号|序列号|批号|批次号|编码|代码|验证码|密码|房间号|房号|"
    "账号|帐号|卡号|尾号|车牌号|车牌|航班号|航班|车次|学号|邮编|快递单号|运单号|身份证号|No\\.?|ID|id|"
    "版本号|机型|产品号|零件号|料号|识别码|口令|分机"
)
PHONE_WORDS = "电话|手机|热线|拨打|拨|致电|号码|联系方式|客服|座机|传真|来电|呼叫|短信|微信号"

_NUM = r"\d+(?:\.\d+)?"
_HAN = "\u4e00-\u9fff"


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


def _date(m: re.Match[str]) -> str:
    y, mo, d = m.group("y"), m.group("mo"), m.group("d")
    out = ""
    if y:
        out += read_digits(y) + "年"
    if mo:
        out += read_cardinal(mo) + "月"
    if d:
        out += read_cardinal(d) + (m.group("suf") or "日")
    return out


def _time(m: re.Match[str]) -> str:
    h, mi, s = m.group("h"), m.group("mi"), m.group("s")
    out = read_quantity(h, "点") + "点"
    if mi and mi != "00":
        out += ("零" if mi.startswith("0") else "") + read_cardinal(mi) + "分"
    if s and s != "00":
        out += ("零" if s.startswith("0") and mi == "00" else "") + read_cardinal(s) + "秒"
    return out


def _time_range(m: re.Match[str]) -> str:
    return _time(_TIME.fullmatch(m.group(1))) + "到" + _time(_TIME.fullmatch(m.group(2)))  # type: ignore[arg-type]


def _money(m: re.Match[str]) -> str:
    cur = CURRENCY[m.group("cur")]
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
    if b is not None:
        if m.group("pa"):
            return "百分之" + read_number(a) + "到百分之" + read_number(b)
        return "百分之" + read_number(a) + "到" + read_number(b)
    return "百分之" + read_number(a)


def _temperature(m: re.Match[str]) -> str:
    num = m.group("n")
    prefix = ""
    if num.startswith(("-", "−")):
        prefix, num = "零下", num[1:]
    unit = "华氏度" if "F" in m.group("u") else "摄氏度"
    return prefix + read_quantity(num, "度") + unit


def _unit(m: re.Match[str]) -> str:
    """5kg, 3-5mm, and a unit per unit as spoken: 400m³/h → 四百立方米每小时, 5L/min → 五升每分钟."""
    a, b, unit = m.group("a"), m.group("b"), UNITS[m.group("u")]
    if m.group("per"):
        unit += "每" + UNITS[m.group("per")]
    if b:
        return read_number(a) + "到" + read_quantity(b, unit) + unit
    return read_quantity(a, unit) + unit


def _range(m: re.Match[str]) -> str:
    follow = m.string[m.end():m.end() + 3]
    return read_number(m.group(1)) + "到" + read_quantity(m.group(2), follow)


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


def _year_range(m: re.Match[str]) -> str:
    return read_digits(m.group(1)) + "到" + read_digits(m.group(2)) + "年"


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


_TIME = re.compile(r"(?P<h>[01]?\d|2[0-4])[:：](?P<mi>[0-5]\d)(?:[:：](?P<s>[0-5]\d))?")

RULES: tuple[Rule, ...] = (
    # thousands separators: 1,234,567 -> 1234567
    (re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])"), lambda m: m.group(0).replace(",", "")),
    # phone numbers in context and by shape (before dates/ranges eat their hyphens)
    (re.compile(rf"({PHONE_WORDS})([:：是为]?\s?)(\+?\d[\d\- ]{{1,}}\d)"),
     lambda m: m.group(1) + m.group(2) + _phone(m.group(3))),
    (re.compile(r"(?<![\d.])(?:\+?86[\- ]?)?1[3-9]\d[\- ]?\d{4}[\- ]?\d{4}(?!\d)"), lambda m: _phone(m.group(0))),
    (re.compile(r"(?<![\d.])(?:0\d{2,3}-\d{7,8}|400-\d{3}-\d{4}|800-\d{3}-\d{4})(?!\d)"), lambda m: _phone(m.group(0))),
    # identifiers after a code word: SKU 80123-45, 验证码 0317
    (re.compile(rf"({CODE_WORDS})([:：为是]?\s*)([A-Za-z0-9][A-Za-z0-9\-_/.]*[A-Za-z0-9]|\d)"),
     lambda m: m.group(1) + m.group(2) + _digits_with_symbols(m.group(3), yao=True)),
    # dates
    (re.compile(r"(?<!\d)(\d{4})\s*[-~至到—]\s*(\d{4})年"), _year_range),
    (re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<mo>0?[1-9]|1[0-2])[-/.](?P<d>0?[1-9]|[12]\d|3[01])(?!\d)(?P<suf>)"), _date),
    (re.compile(r"(?<!\d)(?P<y>\d{4}|\d{2})年(?:(?P<mo>0?[1-9]|1[0-2])月(?:(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号]))?)?"), _date),
    (re.compile(r"(?<![\d.])(?P<y>)(?P<mo>0?[1-9]|1[0-2])月(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号])"), _date),
    # times and time ranges
    (re.compile(r"(?<![\d.])((?:[01]?\d|2[0-4])[:：][0-5]\d(?:[:：][0-5]\d)?)\s*[-~至到—]\s*"
                r"((?:[01]?\d|2[0-4])[:：][0-5]\d(?:[:：][0-5]\d)?)(?!\d)"), _time_range),
    (re.compile(rf"(?<![\d.]){_TIME.pattern}(?![\d])"), _time),
    # ratio / score 3:2
    (re.compile(r"(?<![\d.])(\d+)[:：](\d+)(?![\d])"), lambda m: read_number(m.group(1)) + "比" + read_number(m.group(2))),
    # money
    (re.compile(rf"(?P<cur>HK\$|US\$|[¥￥$€£₩])\s?(?P<a>{_NUM})(?:\s?[-~到至]\s?(?:HK\$|US\$|[¥￥$€£₩])?(?P<b>{_NUM}))?(?P<big>[万亿]|千万|百万)?"), _money),
    # percentages and per-mille
    (re.compile(rf"(?P<a>-?{_NUM})(?P<pa>%)?\s?[-~到至]\s?(?P<b>{_NUM})%"), _percent),
    (re.compile(rf"(?P<a>-?{_NUM})%(?P<b>)?(?P<pa>)"), lambda m: "百分之" + read_number(m.group("a"))),
    (re.compile(rf"(?P<a>{_NUM})‰"), lambda m: "千分之" + read_number(m.group("a"))),
    # temperatures; "-5度" is below zero, not negative five
    (re.compile(rf"(?<![\dA-Za-z])[-−](?P<n>{_NUM})度"), lambda m: "零下" + read_quantity(m.group("n"), "度") + "度"),
    (re.compile(rf"(?P<n>[-−]?{_NUM})\s?(?P<u>℃|°C|°F|℉)"), _temperature),
    # discounts: 95折 is 九五折, 7.5折 stays 七点五折 (the decimal rule)
    (re.compile(r"(?<![\d.])([1-9]{2})(?=折(?![叠断腾磨]))"), lambda m: read_digits(m.group(1))),
    # a minus between single-letter variables: a-b -> a减b (Wi-Fi, e-mail have longer words around)
    (re.compile(r"(?<![A-Za-z0-9])([a-z])\s*[-−]\s*(?=(?:[a-z]|\d)(?![A-Za-z]))"), lambda m: m.group(1) + "减"),
    # model numbers after capitals and a space: HP 1020, RTX 4090 (not a currency or a count: USD 1000, GDP 2000亿)
    (re.compile(r"(?<![A-Za-z0-9])(?!(?:USD|RMB|CNY|EUR|HKD|JPY|GBP|TOP|GDP|NO|VS)\b)([A-Z]{2,6} )(\d{3,})"
                r"(?![\d.%A-Za-z:：/万亿千百元年月日号个台件人次位名岁块张米克天分秒倍])"), _spaced_model),
    # alphanumeric model numbers: X200, RTX4090, A17, iPhone15
    (re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,8}-?)(\d+)([A-Za-z]{0,3})(?![A-Za-z0-9])"), _model),
    # number ranges with a unit: 3-5kg, 10~20cm
    (re.compile(rf"(?<![\d.A-Za-z])(?P<a>{_NUM})\s?[-~到至]\s?(?P<b>{_NUM})\s?(?P<u>{_UNIT_ALT}){_PER}(?![A-Za-z])"),
     _unit),
    # numbers with a unit: 5kg, 3.5mm, 100W
    (re.compile(rf"(?<![\d.A-Za-z])(?P<a>{_NUM})(?P<b>)\s?(?P<u>{_UNIT_ALT}){_PER}(?![A-Za-z/])"), _unit),
    # superscripts: x², 10³
    (re.compile(r"([A-Za-z0-9]+)([²³⁴⁵⁶⁷⁸⁹])"), _superscript),
    # arithmetic with an equals sign or comparison: 3+5=8, 10-4=6
    (re.compile(rf"{_NUM}(?:\s*[+\-*×/÷]\s*{_NUM})+\s*[=<>≥≤]\s*{_NUM}"), _expression),
    (re.compile(rf"{_NUM}(?:\s*[+*×÷]\s*{_NUM})+"), _expression),
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
    text = text.translate(_FULLWIDTH)
    for pattern, handler in RULES:
        text = pattern.sub(handler, text)
    text = "".join(GREEK.get(c, c) for c in text)
    for sym, word in MATH.items():
        text = text.replace(sym, word)
    text = re.sub(r"=", "等于", text)
    text = re.sub(rf"(?<=[{_HAN}A-Za-z0-9])\+(?=[{_HAN}A-Za-z0-9])", "加", text)
    text = re.sub(rf"(?<=[{_HAN}])\s*[~]\s*(?=[{_HAN}])", "到", text)
    return text
