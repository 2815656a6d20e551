"""The characters a reading is written in and the symbols the engine can speak.

Greek letters and math symbols are spelled out in Chinese the same way by the text
normalizer (which reads them in running text) and by the readings check (which counts one
syllable per character of a word as it is spoken), so both read the tables here. The Kokoro
v1.0 phoneme vocabulary ships as a data file beside this module: the API checks ``/phonemes/``
readings against it without loading the model package (tests/worker/test_lexicon.py keeps
the file equal to the model's own vocabulary).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

# Every block of Han ideographs: the URO and Extension A, Extensions B–I (the supplementary
# ideographic planes) and the compatibility ideographs. A character outside the readings the
# frontend has (pypinyin's table, from Unihan's kMandarin) is skipped with a warning, not an error.
HAN_CLASS = ("\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
             "\U00030000-\U000323af")
HAN = re.compile(f"[{HAN_CLASS}]")

GREEK: Mapping[str, str] = MappingProxyType({
    "α": "阿尔法", "β": "贝塔", "γ": "伽马", "δ": "德尔塔", "ε": "艾普西龙", "ζ": "泽塔",
    "η": "伊塔", "θ": "西塔", "ι": "约塔", "κ": "卡帕", "λ": "兰姆达", "μ": "缪", "ν": "纽",
    "ξ": "克西", "ο": "奥米克戎", "π": "派", "ρ": "肉", "σ": "西格玛", "τ": "套", "υ": "宇普西龙",
    "φ": "斐", "χ": "卡", "ψ": "普西", "ω": "欧米伽", "Δ": "德尔塔", "Σ": "西格玛", "Ω": "欧米伽",
    "Φ": "斐", "Γ": "伽马", "Λ": "兰姆达", "Π": "派", "Θ": "西塔", "Ψ": "普西",
})

MATH: Mapping[str, str] = MappingProxyType({
    "≥": "大于等于", "≤": "小于等于", "≠": "不等于", "≈": "约等于", "±": "正负", "×": "乘",
    "÷": "除以", "√": "根号", "∞": "无穷大", "∑": "求和", "∫": "积分", "∈": "属于",
    "∵": "因为", "∴": "所以", "°": "度", "‰": "千分之", "&": "和", "＆": "和", "№": "第",
})


@cache
def kokoro_symbols() -> frozenset[str]:
    """Every symbol of Kokoro's phoneme vocabulary, and the space between words."""
    text = (resources.files(__package__) / "data" / "kokoro_symbols.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)) | {" "}
