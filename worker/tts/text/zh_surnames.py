"""Polyphones that are also surnames (曾 zeng1, 单 shan4, 仇 qiu2 …): read as the surname before a
title (曾经理, 单老师) and at the start of a person's name jieba tags as one (曾国藩), unless the
title is more often a compound's second half (区经理 is a regional manager).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Polyphones that are also surnames, with the surname reading (曾 zeng1, 单 shan4, 仇 qiu2 …).
SURNAME_READINGS: Mapping[str, str] = MappingProxyType({
    "曾": "zeng1", "单": "shan4", "仇": "qiu2", "解": "xie4", "查": "zha1", "区": "ou1", "朴": "piao2",
    "盖": "ge3", "缪": "miao4", "覃": "qin2", "翟": "zhai2", "乐": "yue4", "种": "chong2", "召": "shao4",
    "华": "hua4", "任": "ren2", "纪": "ji3", "秘": "bi4", "繁": "po2", "员": "yun4", "尉": "wei4",
    "冼": "xian3", "隗": "wei3", "宓": "mi4",
})
# Titles and forms of address that follow a surname: 曾经理, 单老师, 仇先生.
TITLES: frozenset[str] = frozenset({
    "先生", "女士", "小姐", "太太", "夫人", "老师", "经理", "总经理", "副总", "总", "董", "董事长", "教授",
    "副教授", "医生", "大夫", "护士", "师傅", "同学", "阿姨", "叔叔", "大爷", "大妈", "大姐", "大哥",
    "主任", "院长", "校长", "局长", "处长", "科长", "部长", "厂长", "所长", "馆长", "站长", "队长",
    "班长", "组长", "书记", "律师", "会计", "工程师", "博士", "老板", "老总", "总监", "主管", "警官",
    "法官", "导演", "编辑", "记者", "教练", "同志", "姐", "哥", "伯", "老", "某",
})
# Titles that, after a given polyphone, are more often a compound than a surname: 区经理 is a
# regional manager, 查处长 an investigation.
_NOT_SURNAME_BEFORE: Mapping[str, frozenset[str]] = MappingProxyType({
    "区": frozenset({"经理", "总经理", "总", "副总", "主任", "书记", "总监", "主管", "队长", "老总"}),
    "查": frozenset({"处长"}),
    "任": frozenset({"总经理", "经理", "主任", "院长", "校长", "局长", "处长", "科长", "部长", "厂长",
                    "所长", "馆长", "站长", "队长", "班长", "组长", "书记", "总监", "主管", "董事长", "教授",
                    "副教授", "副总", "总", "老"}),
})
# A subject before these readings of 曾 (once) and 任 (serve as) makes them verbs, not surnames.
_SUBJECT_ENDINGS = tuple("我你他她它们谁")


def surname_before_title(char: str, prev: str, title: str) -> str | None:
    """The surname reading of ``char`` when it is directly followed by a title word or named by
    姓 (主管姓曾), else None."""
    if char in SURNAME_READINGS and prev.endswith("姓"):
        return SURNAME_READINGS[char]
    if char not in SURNAME_READINGS or title not in TITLES:
        return None
    if title in _NOT_SURNAME_BEFORE.get(char, frozenset()):
        return None
    if char in "曾任" and prev.endswith(_SUBJECT_ENDINGS):
        return None
    if title in ("姐", "哥", "伯", "老", "某") and char in "区查解单华种乐":
        return None  # 查哥, 单老 are too often other words; keep one-character titles to clear cases
    return SURNAME_READINGS[char]


def name_reading(word: str, current: list[str]) -> tuple[str, ...] | None:
    """A person's name (jieba tags it nr) starting with a surname polyphone: 曾国藩, 单田芳."""
    if not 2 <= len(word) <= 3 or word[0] not in SURNAME_READINGS or len(current) != len(word):
        return None
    if current[0] == SURNAME_READINGS[word[0]]:
        return None
    return (SURNAME_READINGS[word[0]], *current[1:])
