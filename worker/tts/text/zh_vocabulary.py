"""Words the Chinese normalizer reads symbols as, and the words around a number that decide
how it is read (a number to call, a score, a span of years, watts)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

FULLWIDTH = str.maketrans(
    {chr(0xFF10 + i): str(i) for i in range(10)}
    | {chr(0xFF21 + i): chr(0x41 + i) for i in range(26)}
    | {chr(0xFF41 + i): chr(0x61 + i) for i in range(26)}
    | {"％": "%", "＋": "+", "－": "-", "．": ".", "／": "/", "＄": "$", "＝": "=", "＜": "<", "＞": ">",
       "﹪": "%", "—": "—", "〜": "~", "～": "~", "∶": ":", "‰": "‰", "\u3000": " "}
)

# Currency signs written before the amount; the dollar signs of other countries carry a prefix.
CURRENCY: Mapping[str, str] = MappingProxyType({
    "¥": "元", "￥": "元", "$": "美元", "US$": "美元", "€": "欧元", "£": "英镑", "HK$": "港元", "₩": "韩元",
    "A$": "澳元", "AU$": "澳元", "C$": "加元", "CA$": "加元", "S$": "新加坡元", "NT$": "新台币",
    "NZ$": "新西兰元", "MOP$": "澳门元", "₹": "卢比", "₽": "卢布", "฿": "泰铢", "₫": "越南盾", "₱": "比索",
})
# ISO 4217 codes, written before or after the amount (USD 300, 500CNY); CNY and RMB are read 元.
ISO_CURRENCY: Mapping[str, str] = MappingProxyType({
    "USD": "美元", "CNY": "元", "RMB": "元", "HKD": "港元", "EUR": "欧元", "GBP": "英镑", "JPY": "日元",
    "AUD": "澳元", "CAD": "加元", "SGD": "新加坡元", "KRW": "韩元", "TWD": "新台币", "INR": "卢比",
    "CHF": "瑞士法郎", "RUB": "卢布", "THB": "泰铢", "MOP": "澳门元", "NZD": "新西兰元",
})

# Units after a number; longest spellings first so km/h wins over km.
UNITS: Mapping[str, str] = MappingProxyType({
    "km/h": "公里每小时", "m/s²": "米每二次方秒", "m/s": "米每秒", "kWh": "千瓦时", "kwh": "千瓦时", "mAh": "毫安时",
    "mah": "毫安时", "GHz": "吉赫兹", "MHz": "兆赫兹", "kHz": "千赫兹", "Hz": "赫兹",
    "km²": "平方公里", "m²": "平方米", "cm²": "平方厘米", "m³": "立方米", "cm³": "立方厘米",
    "㎡": "平方米", "㎥": "立方米", "km": "公里", "cm": "厘米", "mm": "毫米", "nm": "纳米",
    "μm": "微米", "kg": "千克", "KG": "千克", "Kg": "千克", "mg": "毫克", "g": "克",
    "ml": "毫升", "mL": "毫升", "ML": "毫升", "L": "升", "l": "升", "kW": "千瓦", "KW": "千瓦",
    "kw": "千瓦", "W": "瓦", "w": "瓦", "mA": "毫安", "kV": "千伏", "V": "伏", "dB": "分贝",
    "s²": "二次方秒", "ms": "毫秒", "min": "分钟", "h": "小时", "s": "秒", "t": "吨", "m": "米", "英寸": "英寸",
    "inch": "英寸", "in": "英寸", "ft": "英尺", "lb": "磅", "lbs": "磅", "oz": "盎司",
    "kcal": "千卡", "Kcal": "千卡", "fps": "帧每秒", "rpm": "转每分钟", "Mbps": "兆比特每秒", "Gbps": "吉比特每秒",
    "MB/s": "兆字节每秒", "GB": "GB", "TB": "TB", "MB": "MB", "KB": "KB",
    "K": "K", "k": "K", "P": "P", "G": "G",
})

# Words after which a run of digits/letters is an identifier read one symbol at a time.
CODE_WORDS = (
    "SKU|sku|型号|编号|货号|订单号|单号|工号|序列号|批号|批次号|编码|代码|验证码|密码|房间号|房号|"
    "账号|帐号|卡号|尾号|车牌号|车牌|航班号|航班|车次|学号|邮编|快递单号|运单号|身份证号|No\\.?|ID|id|"
    "版本号|机型|产品号|零件号|料号|识别码|口令|分机号|分机"
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
SERVICE_BEFORE = re.compile(r"拨打|拨|打|电话|热线|报警|急救|火警|匪警|消防|交警|客服|查号|致电|呼叫|举报|投诉|号码|"
                             r"服务|专线|求助|联系|短信|发送|官网|登录")
SERVICE_AFTER = re.compile(r"报警|急救|消防|热线|客服|电话|查询|投诉|举报|订票|购票|官网|网站|平台|求助|服务")
QUANTITY_AFTER = (
    "个|名|人|米|分|元|块|岁|次|天|年|月|号|件|位|家|多|余|万|亿|千|百|%|斤|公|千|克|吨|辆|台|条|只|张|页|"
    "章|届|期|平|升|度|倍|秒|小时|周|座|所|种|项|篇|本|部|间|层|楼|份|套|盒|瓶|km|kg|cm|mm|ml|g|m|w|W"
)
# Words around a dash that make N-M a result, read 比, rather than a range, read 到.
SCORE_WORDS = ("比分|比赛|战成|战胜|击败|不敌|负于|输给|赢了|获胜|完胜|险胜|大胜|惜败|逆转|取胜|告负|"
               "胜出|打平|主场|客场|主队|客队|对阵|决赛|半决赛|联赛|结果为|最终|以")
# After a two-digit number + 年, a word that makes it a span of years (20年后 二十年后) rather than a
# year written short (08年 零八年).
YEARS_SPAN = "后|前|来|内|间|多|余|半|左右|以上|以下|之久|之内|之后|之前|里|中|的时间|期间|过去|了"
# Before a two-digit number + 年, a word that makes it a count of years (已有28年历史, 长达15年).
YEARS_COUNTED = ("有", "近", "约", "长达", "超过", "历经", "历时", "共", "满", "整整", "用了", "花了", "足足", "将近", "达")
# Before a lowercase w after a number, words that make it watts; otherwise w is the shorthand of 万.
WATT_CONTEXT = re.compile(r"功率|瓦|电|灯|额定|输出|输入|充|功耗|电源|马达|电机|音箱|喇叭")
