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

# Currency signs written before the amount; the dollar signs of other countries carry a prefix.
CURRENCY: dict[str, str] = {
    "¥": "元", "￥": "元", "$": "美元", "US$": "美元", "€": "欧元", "£": "英镑", "HK$": "港元", "₩": "韩元",
    "A$": "澳元", "AU$": "澳元", "C$": "加元", "CA$": "加元", "S$": "新加坡元", "NT$": "新台币",
    "NZ$": "新西兰元", "MOP$": "澳门元", "₹": "卢比", "₽": "卢布", "฿": "泰铢", "₫": "越南盾", "₱": "比索",
}
_CURRENCY_ALT = "|".join(re.escape(c) for c in sorted(CURRENCY, key=len, reverse=True))
# ISO 4217 codes, written before or after the amount (USD 300, 500CNY); CNY and RMB are read 元.
ISO_CURRENCY: dict[str, str] = {
    "USD": "美元", "CNY": "元", "RMB": "元", "HKD": "港元", "EUR": "欧元", "GBP": "英镑", "JPY": "日元",
    "AUD": "澳元", "CAD": "加元", "SGD": "新加坡元", "KRW": "韩元", "TWD": "新台币", "INR": "卢比",
    "CHF": "瑞士法郎", "RUB": "卢布", "THB": "泰铢", "MOP": "澳门元", "NZD": "新西兰元",
}
_ISO_ALT = "|".join(ISO_CURRENCY)

# Units after a number; longest spellings first so km/h wins over km.
UNITS: dict[str, str] = {
    "km/h": "公里每小时", "m/s²": "米每二次方秒", "m/s": "米每秒", "kWh": "千瓦时", "kwh": "千瓦时", "mAh": "毫安时",
    "mah": "毫安时", "GHz": "吉赫兹", "MHz": "兆赫兹", "kHz": "千赫兹", "Hz": "赫兹",
    "km²": "平方公里", "m²": "平方米", "cm²": "平方厘米", "m³": "立方米", "cm³": "立方厘米",
    "㎡": "平方米", "㎥": "立方米", "km": "公里", "cm": "厘米", "mm": "毫米", "nm": "纳米",
    "μm": "微米", "kg": "千克", "KG": "千克", "Kg": "千克", "mg": "毫克", "g": "克",
    "ml": "毫升", "mL": "毫升", "ML": "毫升", "L": "升", "l": "升", "kW": "千瓦", "KW": "千瓦",
    "kw": "千瓦", "W": "瓦", "w": "瓦", "mA": "毫安", "kV": "千伏", "V": "伏", "dB": "分贝",
    "s²": "二次方秒", "ms": "毫秒", "min": "分钟", "h": "小时", "s": "秒", "t": "吨", "m": "米", "英寸": "英寸",
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
PHONE_WORDS = "电话|手机|热线|拨打|拨|致电|号码|联系方式|客服|座机|传真|来电|呼叫|短信|微信号|区号"

# Public service numbers (police, fire, ambulance, consumer, directory, carriers' hotlines) are
# names, read digit by digit with 幺 as broadcasters do: 拨打110 is 拨打幺幺零. The same digits before
# a measure word, after 第, or with no word of calling near are a quantity (110个城市, 总分120).
SERVICE_NUMBERS = ("110", "119", "120", "122", "114", "12315", "12345", "12306", "12333", "12348", "12358",
                   "12369", "12320", "12110", "12121", "12377", "12395", "10086", "10010", "10000", "10001",
                   "95588", "95533", "95555", "95566", "95599", "95559", "95511", "95518", "96110", "999")
# A service number is one only with words of calling or service around it: 总分120 and 时速120
# are quantities, 急救120 and 12306订票 are numbers to call or visit.
_SERVICE_BEFORE = re.compile(r"拨打|拨|打|电话|热线|报警|急救|火警|匪警|消防|交警|客服|查号|致电|呼叫|举报|投诉|号码|"
                             r"服务|专线|求助|联系|短信|发送|官网|登录")
_SERVICE_AFTER = re.compile(r"报警|急救|消防|热线|客服|电话|查询|投诉|举报|订票|购票|官网|网站|平台|求助|服务")
_QUANTITY_AFTER = (
    "个|名|人|米|分|元|块|岁|次|天|年|月|号|件|位|家|多|余|万|亿|千|百|%|斤|公|千|克|吨|辆|台|条|只|张|页|"
    "章|届|期|平|升|度|倍|秒|小时|周|座|所|种|项|篇|本|部|间|层|楼|份|套|盒|瓶|km|kg|cm|mm|ml|g|m|w|W"
)
# Words around a dash that make N-M a result, read 比, rather than a range, read 到.
SCORE_WORDS = ("比分|比赛|战成|战胜|击败|不敌|负于|输给|赢了|获胜|完胜|险胜|大胜|惜败|逆转|取胜|告负|"
               "胜出|打平|主场|客场|主队|客队|对阵|决赛|半决赛|联赛|结果为|最终|以")
# After a two-digit number + 年, a word that makes it a span of years (20年后 二十年后) rather than a
# year written short (08年 零八年).
_YEARS_SPAN = "后|前|来|内|间|多|余|半|左右|以上|以下|之久|之内|之后|之前|里|中|的时间|期间|过去|了"
# Before a lowercase w after a number, words that make it watts; otherwise w is the shorthand of 万.
_WATT_CONTEXT = re.compile(r"功率|瓦|电|灯|额定|输出|输入|充|功耗|电源|马达|电机|音箱|喇叭")

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


def _short_year(m: re.Match[str]) -> str:
    """Two digits + 年: a span of years when a span word follows (20年后 二十年后, 15年来 十五年来),
    otherwise a year written short (08年, 98年) read digit by digit."""
    num = m.group("y")
    if not num.startswith("0") and re.match(_YEARS_SPAN, m.string[m.end():]):
        return read_cardinal(num) + "年"
    return _date(m)


def _clock(m: re.Match[str]) -> str:
    """A 12-hour time: 10:04pm 晚上十点零四分, 8:00 a.m. 上午八点, 12am 凌晨十二点.

    The part of the day is said before the time, unless the text already says it (早上7:30 a.m.)."""
    h = int(m.group("h"))
    pm = m.group("ap").lower().startswith("p")
    if pm:
        part = "中午" if h == 12 else "下午" if h < 6 else "晚上"
    else:
        part = "凌晨" if h == 12 or h < 5 else "上午"
    before = m.string[max(0, m.start() - 2):m.start()]
    if before in ("早上", "上午", "下午", "晚上", "凌晨", "中午", "傍晚", "夜里", "清晨", "早晨", "午后", "夜间"):
        part = ""
    mi, sec = m.group("mi"), m.group("s")
    if mi is None:
        return part + read_quantity(m.group("h"), "点") + "点"
    return part + _time(_TIME.fullmatch(f"{m.group('h')}:{mi}" + (f":{sec}" if sec else "")))  # type: ignore[arg-type]


def _iso_money(m: re.Match[str]) -> str:
    """An amount with an ISO code on either side: 500CNY 五百元, USD 300 三百美元."""
    return read_number(_trim_zero(m.group("a"))) + (m.group("big") or "") + ISO_CURRENCY[m.group("code")]


def _service(m: re.Match[str]) -> str:
    num = m.group(0)
    prev = m.string[max(0, m.start() - 1):m.start()]
    if (prev == "第" or re.match(r"[A-Za-z$¥￥€£₩₹₽฿]", prev) or re.match(r"\s?[A-Za-z]", m.string[m.end():])
            or re.match(_QUANTITY_AFTER, m.string[m.end():])
            or not (_SERVICE_BEFORE.search(m.string[max(0, m.start() - 6):m.start()])
                    or _SERVICE_AFTER.match(m.string[m.end():m.end() + 3]))):
        return num  # a quantity: the number rules below read it
    return read_digits(num, yao=True)


def _dash_pair(m: re.Match[str]) -> str:
    """N-M is a score (中国1-2, 3-0获胜) when it cannot be a range (N ≥ M) or a word of a match is
    near; before a measure word it stays a range (3-5天) for the rules below."""
    a, b = m.group("a"), m.group("b")
    after = m.string[m.end():]
    if re.match(_QUANTITY_AFTER, after) or re.match(r"\s*[=+*×÷<>≤≥]", after):
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
    if _WATT_CONTEXT.search(before) or _WATT_CONTEXT.match(after):
        return read_quantity(m.group("a"), "瓦") + "瓦" + ("加" if m.group("plus") else "")
    return read_number(m.group("a")) + "万" + ("加" if m.group("plus") else "")


def _power(m: re.Match[str]) -> str:
    """2^10 二的十次方: the exponent is a count, the base is read by the number rules."""
    return m.group(1) + "的" + read_number(m.group(2)) + "次方"


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
    # 14 digits and more are never a quantity (ID and card numbers): digit by digit, before the
    # rules below, whose leading \d+ would otherwise try every position of a long run
    (re.compile(r"\d{14,}"), lambda m: read_digits(m.group(0))),
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
    # dates
    (re.compile(r"(?<!\d)(\d{4})\s*[-~至到—]\s*(\d{4})年"), _year_range),
    (re.compile(r"(?<!\d)(?P<y>\d{4})([-/.·])(?P<mo>0?[1-9]|1[0-2])\2(?P<d>0?[1-9]|[12]\d|3[01])(?!\d)(?P<suf>)"), _date),
    # 2008/08 and 08/2008: a year and a month (a fraction never has a four-digit year on one side)
    (re.compile(r"(?<![\d/.])(?P<y>(?:19|20)\d{2})[/·-](?P<mo>0?[1-9]|1[0-2])(?![\d/.·%-])"), _date),
    (re.compile(r"(?<![\d/.-])(?P<mo>0?[1-9]|1[0-2])/(?P<y>(?:19|20)\d{2})(?![\d/.])"), _date),
    # 12/2/2, 19/3/8: a two-digit year, month and day (three parts are never a fraction)
    (re.compile(r"(?<![\d/.])(?P<y>\d{2})/(?P<mo>0?[1-9]|1[0-2])/(?P<d>0?[1-9]|[12]\d|3[01])(?![\d/])"), _date),
    # 08-08, 05-20: month-day written with a leading zero (a range is not written 05-20)
    (re.compile(r"(?<![\d./-])(?P<mo>0[1-9])-(?P<d>0[1-9]|[12]\d|3[01])(?![\d-])"), _date),
    (re.compile(r"(?<!\d)(?P<y>\d{4})年(?:(?P<mo>0?[1-9]|1[0-2])月(?:(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号]))?)?"), _date),
    (re.compile(r"(?<![\d.])(?P<y>\d{2})年(?:(?P<mo>0?[1-9]|1[0-2])月(?:(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号]))?)?"), _short_year),
    (re.compile(r"(?<![\d.])(?P<y>)(?P<mo>0?[1-9]|1[0-2])月(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号])"), _date),
    # 3月15日-17日: a range of days
    (re.compile(r"(?<=[日号])\s?[-~—–至]\s?(?P<d>0?[1-9]|[12]\d|3[01])(?P<suf>[日号])"),
     lambda m: "到" + read_cardinal(m.group("d")) + m.group("suf")),
    # generations: 90后 九零后, 00后 零零后
    (re.compile(r"(?<![\d.])(\d{2})后"), lambda m: read_digits(m.group(1)) + "后"),
    # 12-hour clock: 10:04pm, 8:00 a.m., 9am
    (re.compile(r"(?<![\d.:])(?P<h>1[0-2]|0?[1-9])(?:[:：](?P<mi>[0-5]\d)(?:[:：](?P<s>[0-5]\d))?)?\s?"
                r"(?P<ap>[aApP]\.\s?[mM]\.|[aApP][mM])(?![A-Za-z])"), _clock),
    # times and time ranges
    (re.compile(r"(?<![\d.])((?:[01]?\d|2[0-4])[:：][0-5]\d(?:[:：][0-5]\d)?)\s*[-~至到—]\s*"
                r"((?:[01]?\d|2[0-4])[:：][0-5]\d(?:[:：][0-5]\d)?)(?!\d)"), _time_range),
    (re.compile(rf"(?<![\d.]){_TIME.pattern}(?![\d])"), _time),
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
    (re.compile(rf"(?<![\d.])(?P<n>[-−]?{_NUM})\s?(?P<u>℃|°C|°F|℉)"), _temperature),
    # a minus sign before a number at the start, after a Chinese character or an operator: -1+2, x=-3
    (re.compile(rf"(?:^|(?<=[\s{_HAN}=+*×÷(（,，:：<>≤≥]))[-−](?=\d)"), lambda m: "负"),
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
    text = text.translate(_FULLWIDTH)
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
    return text
