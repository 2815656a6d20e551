"""Polyphones read by the word that follows them: whole two-character words (一行字 hang2, 朝阳区
chao2) and single characters (量一下 liang2, 钉一个 ding4). Tables only; ``polyphones`` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# 教 before whom is taught is the verb jiao1: 教我们画画 (教室, 教育 keep jiao4).
JIAO1_BEFORE = ("我", "你", "他", "她", "大家", "孩子", "学生", "小朋友", "同学")
# 应 before those it answers is ying4: 应顾客要求, 应邀 (应该 keeps ying1).
YING4_BEFORE = ("顾客", "客户", "用户", "广大", "观众", "读者", "市场", "需求", "患者", "群众", "家长", "邀", "要求")
# 量 / 调 said as verbs by a short word (请量一下体温, 请调到二十六度): liang2, tiao2.
LIANG2_BEFORE = ("一下", "一量", "体温", "血压", "身高", "体重", "尺寸", "腰围", "胸围", "三围")
# What a count of 行 (hang2, a line) comes before: 两行字, 一行代码, 两行之间.
HANG2_NEXT = ("字", "代码", "文字", "诗", "数据", "树", "泪", "小字", "之间", "中间", "空白")

# Two-character words whose reading depends on the next word.
WORD_CONTEXT: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType({
    # word: (next-word prefixes, reading)
    "一行": (HANG2_NEXT, ("yi1", "hang2")),
    "两行": (HANG2_NEXT, ("liang3", "hang2")),
    "几行": (HANG2_NEXT, ("ji3", "hang2")),
    "每行": (("字", "代码", "文字", "诗", "数据"), ("mei3", "hang2")),
    "教会": (("了", "我", "你", "他", "她", "孩子", "大家", "学生"), ("jiao1", "hui4")),  # 教会了他: taught
    "背着": (("书包", "包", "孩子", "行李", "背包", "双肩包", "箱子", "很", "走", "上", "出门", "舒服", "轻", "也", "都",
             "还", "不"), ("bei1", "zhe5")),
    "地方": (("政府", "官员", "贵族", "特色", "经济", "财政", "戏", "方言", "保护", "势力", "部队", "性", "病", "志"),
             ("di4", "fang1")),  # 地方政府: local (the place itself is di4 fang5)
    "朝阳": (("区", "门", "路", "公园", "医院", "街", "大街", "北路", "南路", "站", "县", "市", "大悦城"),
             ("chao2", "yang2")),
})

# Characters read one way when their word starts with one of these (what they act on, or how).
BY_NEXT: Mapping[str, tuple[tuple[str, ...], str]] = MappingProxyType({
    "量": (LIANG2_BEFORE, "liang2"),  # 请量一下体温
    "教": (JIAO1_BEFORE, "jiao1"),  # 教我们画画
    "应": (YING4_BEFORE, "ying4"),  # 应顾客要求
    "转": (("一圈", "几圈", "圈", "一周", "个不停", "来转去", "着"), "zhuan4"),  # 一年转一圈: to turn round
    "卡": (("在", "住"), "qia3"),  # 鱼刺卡在嗓子里: stuck
    "铺": (tuple("了好上在开满着一"), "pu1"),  # 铺了木地板: to lay (店铺, 床铺 are words)
    "供": (("着", "奉"), "gong4"),  # 供着一尊佛像: to offer
    "挨": (tuple("了打骂饿冻批揍"), "ai2"),  # 挨了一顿骂: to suffer
    "钉": (tuple("一上在个好住了进牢钉"), "ding4"),  # 在门后钉一个挂钩: to nail (钉子 is a word)
    "撒": (("一", "点", "些", "上", "在", "满", "入", "进", "匀", "盐", "糖", "葱", "芝麻", "胡椒", "粉", "种子", "落"),
           "sa3"),  # 撒一点葱花: to sprinkle (撒谎, 撒娇 are words)
})
