"""Polyphone corrections on top of pypinyin's phrase dictionary.

pypinyin reads whole jieba words well; its weak spots are words missing from
its phrase table and polyphonic characters that jieba leaves on their own.
The phrase table (data/phrase_readings.tsv) fixes words found wrong while building
tests/data/frontend_hard.tsv; the rules resolve single characters from their
neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

from pypinyin.constants import PHRASES_DICT

from worker.tts.text.polyphone_tables import BY_NEXT, LIANG2_BEFORE, WORD_CONTEXT
from worker.tts.text.zh_surnames import surname_before_title


@cache
def phrase_readings() -> Mapping[str, tuple[str, ...]]:
    """Whole words read against pypinyin's table (data/phrase_readings.tsv), in file order."""
    text = (resources.files(__package__) / "data" / "phrase_readings.tsv").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return MappingProxyType({row[0]: tuple(row[1].split()) for row in rows})

# Adverbial 地 (de5) follows these endings: 慢慢地, 着急地, 认真地.
_DE_ADVERB_ENDINGS = tuple("急慢快真细心力断渐静默悄轻烈狠速意忙兴声然劲情勇稳切满乐苦喜怒奋紧松重淡默停")


# X得 where 得 keeps its full tone de2 (获得, 值得); elsewhere a verb/adjective + 得 is de5.
_DE2_FIRST = frozenset("获取赢难值心所博求习应不贪非自懂")
# Nouns that start with 地 (so 地 is di4 even after an adverb-like word).
_DI_WORDS = frozenset({"地方", "地球", "地下", "地区", "地址", "地图", "地铁", "地震", "地道", "地位",
                       "地点", "地面", "地上", "地板", "地产", "地理", "地域", "地毯", "地形", "地带"})


# Numerals (and 半, 几) before a measure word: 一打, 半打, 两打.
_NUMERAL_CHARS = "零一二两三四五六七八九十百千几半"
# Objects that make 打 the verb even after a numeral: 一打电话就来, 一打车就堵.
_DA_VERB_OBJECTS = ("电话", "手机", "车", "的", "球", "针", "工", "仗", "架", "招呼", "牌", "游戏", "麻将",
                    "鼓", "雷", "喷嚏", "哈欠", "折", "扫", "扮", "字", "印", "卡", "水", "饭", "伞",
                    "官司", "交道", "主意", "比方", "基础", "拳", "电脑", "分", "败", "死", "破", "碎", "算")
# What may follow the measure word 打 besides a noun: 一打起卖, 铅笔一打多少钱.
_DA_MEASURE_NEXT = ("起", "多少", "装", "共", "只", "才", "要")
# Results after the verb 调 "adjust" (tiao2): 调大, 调高一点; 调到/调回 (transfer) stay diao4.
_TIAO_RESULTS = frozenset("大小高低亮暗快慢松紧准匀淡浓细粗强弱轻热冷暖稀稠成至好")
_TO_A_NUMBER = re.compile(rf"到[{_NUMERAL_CHARS}]")  # 调到二十六度: adjusted to a setting
# 长 before a length: 长三米, 长一点五公里 (chang2), not 长一岁 (zhang3).
_LENGTH_FOLLOWS = re.compile(rf"^[{_NUMERAL_CHARS}点多]+(?:米|厘米|毫米|公里|千米|里|尺|寸|英尺|英寸|丈|码|公分|海里|光年)")
# A word jieba made with 长 first and pypinyin does not know is "long" (长时间, 长效, 长尾) unless
# these follow, which make it "to grow" or "elder" (长高, 长满, 长辈).
_ZHANG3_SECOND = frozenset("大成出高得了着过满辈官老子孙女兄姐者进势膘肉胖个相在草芽痘斑霉疮茧牙")
# 长 on its own before these is "long" too: 长按三秒, 续航长达十小时.
_CHANG2_NEXT = ("按", "达", "效", "时间", "久", "途", "焦", "尾", "图", "文", "期", "远", "篇", "句", "寿", "线",
                "假", "周期", "续航")
# 只 after these and before a noun is the measure word zhi1 (这只小狗); elsewhere "only".
_ZHI1_AFTER = tuple("这那哪每几某各") + tuple(_NUMERAL_CHARS)
_ZHI3_NEXT = tuple("是要有能会好不在为需可够想")
_FENG2_RESULTS = frozenset("好上补起完了紧几得")
# jieba glues a verb to an adverbial 地 or a modal before it (地教, 能种): that verb is read as on its own.
_GLUED_BEFORE = frozenset("地能要会可想该去来再先里在")
# 种 after these is a classifier (这种的, 各种); elsewhere before 的/了 it is the verb "plant".
_ZHONG3_BEFORE = tuple("这那各哪几某一每两多此该同本") + tuple(_NUMERAL_CHARS)
_ZHONG4_NEXT = ("的", "了", "着", "过", "满", "在", "出")
# 种 glued by jieba to a locative or a pronoun (上种的, 我种的) is still the verb.
_ZHONG4_GLUED = frozenset("上下里中外前后边旁我你他她它谁刚新亲自")
# 穿着 is the noun "attire" after 的/其 or before these; otherwise 着 is the aspect marker.
_ATTIRE_NEXT = ("打扮", "得体", "考究", "讲究", "风格", "品味", "品位", "上", "方面", "整齐", "整洁", "朴素",
                "时髦", "时尚", "随便", "随意", "简朴", "华丽", "入时", "光鲜", "寒酸")


def is_measure_da(prev: str, nxt: str, nxt_tag: str) -> bool:
    """打 as the measure word "dozen" (da2): after a numeral, before a noun or a price."""
    if not prev.endswith(tuple(_NUMERAL_CHARS)) or not HAN_CHAR(nxt) or nxt.startswith(_DA_VERB_OBJECTS):
        return False
    return nxt.startswith(_DA_MEASURE_NEXT) or nxt_tag[:1] in ("n", "m", "q")


def fix_word(word: str, prev: str, nxt: str, current: list[str], after: str = "",
             nxt_tag: str = "") -> tuple[str, ...] | None:
    """Reading of a multi-character word that depends on its neighbours, or None to keep ``current``.

    ``after`` is the text that follows the word, ``nxt_tag`` jieba's part of speech of the next word.
    """
    rule = WORD_CONTEXT.get(word)
    if rule and nxt.startswith(rule[0]):
        return rule[1]
    if word == "盛放" and (_CLAUSE_END.match(after) or nxt.startswith(("的", "着", "了"))):
        return ("sheng4", "fang4")  # 月季盛放，: in bloom (盛放食物 is to hold)
    if word == "地道" and nxt.startswith("的"):
        return ("di4", "dao5")  # authentic (地道的北京菜), not a tunnel
    if word == "长长" and nxt.startswith("了"):
        return ("zhang3", "chang2")  # 头发长长了: grew long (长长的头发 stays chang2 chang2)
    if word == "穿着":
        attire = prev.endswith(("的", "其")) or nxt.startswith(_ATTIRE_NEXT)
        return ("chuan1", "zhuo2") if attire else ("chuan1", "zhe5")
    if len(current) != len(word):
        return None
    fixed = list(current)
    if len(word) == 2 and word[1] == "打" and word[0] in _NUMERAL_CHARS and is_measure_da(word[0], nxt, nxt_tag):
        fixed[1] = "da2"  # 一打鸡蛋, 半打啤酒
    if len(word) >= 2 and word[-1] == "只" and all(c in _NUMERAL_CHARS for c in word[:-1]):
        fixed[-1] = "zhi1"  # 两只猫, 十几只: the measure word
    if word not in PHRASES_DICT and len(word) == 2 and word[0] in _GLUED_BEFORE and len(fixed) == 2:
        glued = fix_single_char(word[1], word[0], nxt, fixed[1], after, nxt_tag)
        fixed[1] = glued or ("zhong4" if word[1] == "种" and nxt_tag.startswith("n") else fixed[1])  # 地种玉米
    if word[-1] == "应" and word not in PHRASES_DICT and _CLAUSE_END.match(after):
        fixed[-1] = "ying4"  # jieba's 没人应
    if word[-1] == "数" and word not in PHRASES_DICT and nxt_tag.startswith("n"):
        fixed[-1] = "shu3"  # jieba's 树下数 桃子: to count
    if word[-1] == "冲" and nxt.startswith(_TOWARDS):
        fixed[-1] = "chong4"  # jieba's 别冲: towards someone
    if len(word) == 2 and word[1] == "得" and word[0] in "前后" and nxt.startswith(_DEI_BEFORE):
        fixed[1] = "dei3"  # jieba's 考试前得好好复习: must
    if word[0] == "切" and word not in PHRASES_DICT:
        fixed[0] = "qie1"  # jieba's 切成, 切碎: to cut (一切, 切记 are pypinyin's words)
    if word[0] == "缝" and word not in PHRASES_DICT and word[1] in _FENG2_RESULTS:
        fixed[0] = "feng2"  # jieba's 缝好: to sew
    if len(word) == 2 and word[0] == "调" and word[1] in _TIAO_RESULTS:
        fixed[0] = "tiao2"  # 调大, 调高
    if word[-1] == "量" and word[:-1] in _VERB_PREFIXES and nxt.startswith(LIANG2_BEFORE):
        fixed[-1] = "liang2"  # 请量一下
    if word[-1] == "调" and word[:-1] in _VERB_PREFIXES and _TO_A_NUMBER.match(after):
        fixed[-1] = "tiao2"  # 请调到二十六度
    if (word[0] == "长" and word not in PHRASES_DICT and word not in phrase_readings()
            and word[1] not in _ZHANG3_SECOND):
        fixed[0] = "chang2"  # jieba's 长时间, 长焦: pypinyin gave 长 its default, zhang3
    if word[0] == "长" and _LENGTH_FOLLOWS.match(word[1:] + after):
        fixed[0] = "chang2"  # 长三米
    if (word[-1] == "长" and fixed[-1] == "zhang3" and not any(word[k:] in PHRASES_DICT for k in range(len(word) - 1))
            and (word[:-1].endswith(_CHANG_AFTER) or _CLAUSE_END.match(after))):
        fixed[-1] = "chang2"  # jieba's 稍长, 寿命长: pypinyin knows no such word (银行行长 ends in one) and gave 长 its default
    if word not in PHRASES_DICT:  # jieba's 数一下, 我数: to count (次数过多 is pypinyin's word, left alone)
        fixed = [("shu3" if c == "数" and _SHU3_NEXT.match(word[i + 1:] + after) else p)
                 for i, (c, p) in enumerate(zip(word, fixed))]
    if word not in PHRASES_DICT:  # jieba's 晒干, 后沥干: dried (pypinyin's default for 干 is gan4, to do)
        fixed = [("gan1" if c == "干" and i and word[i - 1] in _GAN1_AFTER else _glued_verb(c, (word[i + 1:] + after)[:1]) or p)
                 for i, (c, p) in enumerate(zip(word, fixed))]  # jieba's 汤盛到, 剥好: the verbs cheng2, bao1
    if word[0] == "结" and word not in PHRASES_DICT and _FRUIT_LATER.match(word[1:] + after):
        fixed[0] = "jie1"  # 结满了果实: to bear fruit
    if (len(word) == 2 and word[1] == "种" and word[0] in _ZHONG4_GLUED and nxt.startswith(_ZHONG4_NEXT)):
        fixed[1] = "zhong4"  # 阳台上种的薄荷
    if len(word) == 3 and word[1] == "得" and word[0] != "不" and fixed[1] == "de2":
        fixed[1] = "de5"  # 说得好, 跑得快: complement marker
    if len(word) == 2 and word[1] == "得" and fixed[1] == "de2" and word[0] not in _DE2_FIRST:
        fixed[1] = "de5"
    if len(word) >= 3 and word[-1] == "地" and fixed[-1] == "di4":
        stem = word[:-1]
        if stem[-1] == stem[-2] or stem.endswith(_DE_ADVERB_ENDINGS) or (nxt_tag.startswith("v") and word not in PHRASES_DICT):
            fixed[-1] = "de5"  # 悄悄地, 默默地: jieba keeps the adverbial 地 inside the word
    if (word[0] == "地" and word[:2] not in _DI_WORDS and word not in PHRASES_DICT and prev
            and (prev[-1] == prev[-2:-1] or len(prev) == 4 or (len(prev) >= 2 and prev.endswith(_DE_ADVERB_ENDINGS)))):
        fixed[0] = "de5"  # 高兴地笑: jieba glued 地 to the verb
    return tuple(fixed) if fixed != current else None


# Characters whose reading follows from the word that comes before them.
_CHANG_AFTER = ("很", "太", "好", "真", "这么", "那么", "较", "更", "最", "非常", "特别", "比较",
                "挺", "多", "够", "又", "过", "超", "有点", "有些", "稍", "略", "偏", "不")
# What follows 数 "to count" (数一下, 数到三, 数不清), not the noun (这个数到底, 数过多).
_SHU3_NEXT = re.compile(r"了?一下|一数|一遍|到(?!底)|清|完|过(?![多少高低大])|不清|不过来|得(?=清|过|完|出)")
_CLAUSE_END = re.compile(r"\s*(?:[，。！？；、,.!?;]|$)")
# Verbs jieba glues into words pypinyin lacks, read as the verb (汤盛到碗里, 剥好皮) unless what follows
# makes the literary reading (盛开 sheng4, 剥削 bo1).
_GLUED_VERBS = {"盛": ("cheng2", "开大行况产夏世名情宴会"), "剥": ("bao1", "削夺落离蚀"), "削": ("xiao1", "减弱价"),
                "囤": ("tun2", "")}


def _glued_verb(char: str, following: str) -> str | None:
    """The verb's reading when what follows is its object or result (a Han character, not a clause's end)."""
    reading, literary = _GLUED_VERBS.get(char, ("", ""))
    return reading if reading and HAN_CHAR(following) and following not in literary else None


_FRUIT_LATER = re.compile(r"[^，。！？；]*?(?:果|瓜|籽|穗|种子)")
# 干 after a verb of drying or draining is gan1 (晒干, 擦干, 榨干), not gan4 "to do" (苦干, 能干).
_GAN1_AFTER = frozenset("晒吹擦沥控拧煮收蒸烤炒抹揩晾烘风阴烧熬榨掏吸喝烫冻")
# When 还 "to return" follows these, its object or the clause's end may come next (按时还。, 准时还到图书馆).
_HUAN_AFTER = ("要", "去", "得", "想", "会", "没", "不", "先", "快", "请", "借", "该", "能", "来",
               "按时", "及时", "准时", "按期", "如期", "尽快", "马上", "归", "记得")
_HUAN_BEFORE = ("钱", "书", "款", "债", "给", "清", "回", "贷", "账", "车", "你", "我", "他", "她", "它")
# 得 "must" after a time word (明天得早点起床, 用之前得先摇匀), before what must be done.
_DEI_AFTER_TIME = ("前", "后", "天", "现在", "时", "晚上", "早上", "之前", "以后", "以前", "今年", "明年", "周末",
                   "下次", "这次")
_DEI_VERBS = ("喝", "吃", "用", "带", "买", "交", "写", "学", "练", "准备", "检查", "记住", "问", "找", "带上")
_AT_AN_HOUR = re.compile(rf"[{_NUMERAL_CHARS}]+点")
# 落 la4 "to leave behind": what people forget, where they forget it.
_LEFT_BEHIND = ("手机", "钥匙", "钱包", "东西", "伞", "包", "作业", "帽子", "证件", "身份证", "充电器", "外套", "眼镜",
                "护照", "文件", "电脑", "耳机", "卡")
_FORGOTTEN_AT = "家|车|酒店|店|办公室|学校|教室|出租车|座位|宿舍|房间|公司|饭店|餐厅|那|这|哪"
# 冲 before whom or what it faces is chong4: 冲我发火, 冲他笑了笑.
_TOWARDS = ("我", "你", "他", "她", "您", "它", "这", "那", "大家", "着")
_DEI_BEFORE = ("去", "走", "赶紧", "小心", "注意", "好好", "先", "马上", "早点", "努力", "快",
               "抓紧", "加油", "想办法", "多", "花", "等", "有", "让", "把", "在", "做", "跟", "认真", "由",
               "提前", "重新", "仔细", "及时", "尽快", "按时", "亲自", "自己")
# 为 after a verb of naming, choosing or regarding is wei2: 选为, 誉为, 推为 (因为, 为了 stay wei4).
_WEI2_AFTER = tuple("选评列视定誉推任聘奉尊")
# 为 "for" comes before whom or what is served (为您提供, 为此) or a verb of serving later in its clause
# (为家庭节省开支); inside a clause otherwise it is the copula of product text: 本品为一次性使用, 颜色为黑色.
_WEI4_NEXT = ("了", "什么", "何", "此", "之", "人民", "大家", "你", "您", "我", "他", "她", "它", "咱", "客户", "用户",
              "顾客", "消费者", "家", "孩子", "宝宝", "父母", "社会", "国家", "企业", "广大", "自己", "其", "每",
              "各", "更多", "老人", "学生", "员工", "女性", "男性", "读者", "大众", "朋友", "爱", "孙", "儿子", "女儿",
              "妈妈", "爸爸", "奶奶", "爷爷", "老师")
_PERSON_ENDINGS = tuple("人者员师客户们友民")  # 为病人, 为会员: for whom
_WEI4_LATER = re.compile(r"[^，。！？；,.!?;]*?(?:提供|服务|打造|创造|带来|解决|准备|设计|定制|挑选|推出|奉献|着想|负责|"
                         r"争光|加油|骄傲|自豪|感到|而|节省|减轻|保护|守护|助力|量身|工作|努力|奋斗|付出|买单|点赞|"
                         r"高兴|担心|操心|感动|欢呼|鼓掌|喝彩|立传|叫好|祝福|祈祷|伤心|难过|着急|庆祝|做|办|送|留|开|找|买|选)")
# A capital is 都 du1 after these words: 美食之都, 首都, 古都.
_DU1_AFTER = frozenset({"之", "首", "古", "旧", "故", "国", "陪", "帝"})
_VERB_PREFIXES = frozenset({"", "请", "再", "先", "去", "帮", "要", "来", "给", "可"})
_PRONOUNS = ("我", "你", "您", "他", "她", "它", "我们", "你们", "他们", "她们", "咱们", "大家", "谁", "就", "还", "也", "都")


def HAN_CHAR(text: str) -> bool:  # upper case: it reads as a predicate in the rules
    return bool(text) and "\u4e00" <= text[0] <= "\u9fff"


def fix_single_char(char: str, prev: str, nxt: str, current: str, after: str = "",
                    nxt_tag: str = "") -> str | None:
    """Reading of a polyphonic character that jieba left as its own word, or None to keep ``current``.

    ``after`` is the text that follows the character, ``nxt_tag`` jieba's part of speech of the next word.
    """
    surname = surname_before_title(char, prev, nxt)
    if surname:
        return surname
    by_next = BY_NEXT.get(char)
    if by_next and nxt.startswith(by_next[0]):
        return by_next[1]
    if char == "长":
        if (prev.endswith(_CHANG_AFTER) or nxt.startswith(("长", "短", "宽", "高", "的", "了", "得", "于", "条", "一些", "一点", "些"))
                or nxt.startswith(_CHANG2_NEXT) or (prev.endswith("的") and nxt.startswith(("是", "为", "和", "约", "、")))
                or _LENGTH_FOLLOWS.match(after) or _CLAUSE_END.match(after)):  # 续航时间长，: long, said of it
            return "chang2"
    elif char == "打":
        if is_measure_da(prev, nxt, nxt_tag):
            return "da2"
    elif char == "调":
        if nxt[:1] in _TIAO_RESULTS or _TO_A_NUMBER.match(after) or (prev.endswith(("能", "可以", "可")) and _CLAUSE_END.match(after)):
            return "tiao2"
    elif char == "数":
        if _SHU3_NEXT.match(after):
            return "shu3"  # 请重新数一下: to count
    elif char == "都":
        if prev in _DU1_AFTER:
            return "du1"
    elif char == "种":
        if ((nxt.startswith(_ZHONG4_NEXT) or _CLAUSE_END.match(after) or nxt_tag.startswith("n"))
                and not prev.endswith(_ZHONG3_BEFORE)):
            return "zhong4"  # 春天就能种。: the verb
    elif char == "切":
        return "qie1"  # on its own it is the verb: 把肉切成片
    elif char == "背":
        if _CLAUSE_END.match(after) and prev.endswith(("孩子", "宝宝", "老人", "女生", "男生", "大人", "你", "我", "他", "她")):
            return "bei1"  # 适合孩子背。: to carry (这些单词要背。 is to learn by heart)
    elif char == "缝":
        if nxt[:1] in _FENG2_RESULTS:
            return "feng2"  # 请帮我缝 好: to sew
    elif char == "应":
        if _CLAUSE_END.match(after) and prev:
            return "ying4"  # 没人应: to answer
    elif char == "扎":
        if re.match(r"[^，。！？；]*?(?:辫|马尾|头发|蝴蝶结|丸子头)", after) or prev.endswith(("发", "辫子", "马尾")):
            return "za1"  # 扎了一个马尾辫: to tie
    elif char == "露":
        if re.match(r"了?一[面手]|脸|肚|腰|腿|马脚|馅", after):
            return "lou4"  # 露了一面, 露肚子
    elif char in _GLUED_VERBS:  # on its own before its object it is the verb: 能盛五百毫升水, 剥花生 (花开得正盛 is not)
        return _glued_verb(char, nxt[:1])
    elif char == "结":
        if _FRUIT_LATER.match(after):
            return "jie1"
    elif char == "折":
        if (re.match(r"了?[^，。！？；]{0,4}钱", after) or re.match(r"了\s*(?:[，。！？；,.!?;]|$)", after)
                or (prev.endswith(("就", "易", "会", "容易")) and _CLAUSE_END.match(after))):
            return "she2"  # 折了一大笔钱: to lose; 一掰就折了, 一碰就折: to snap
    elif char == "差":
        if prev.endswith("的") and nxt.startswith(("是", "为", "等于")):
            return "cha1"  # 两个数的差是三: the difference
    elif char == "觉":
        if prev.endswith(("睡不着", "睡", "午", "一", "个", "好")):
            return "jiao4"  # 睡不着觉: sleep
    elif char == "晃":
        if _CLAUSE_END.match(after):
            return "huang4"  # 放满书也不会晃: to sway (晃眼 is to dazzle)
    elif char == "囤":
        return "tun2"  # 再囤一些: to hoard (the bin is a noun inside words)
    elif char == "冲":
        if nxt.startswith(_TOWARDS) or (prev.endswith(("有点", "很", "太", "特别", "挺", "比较")) and _CLAUSE_END.match(after)):
            return "chong4"  # 冲我发火; 气味有点冲
    elif char == "只":
        if prev.endswith(_ZHI1_AFTER) and (nxt_tag.startswith("n") or (prev.endswith(("这", "那", "哪")) and HAN_CHAR(nxt)
                                                                      and not nxt.startswith(_ZHI3_NEXT))):
            return "zhi1"  # 这只小狗, 那只害羞的松鼠: the measure word (这只是, 那只能 are "only")
    elif char == "还":
        if prev.endswith(_HUAN_AFTER) and (nxt.startswith((*_HUAN_BEFORE, "到")) or _CLAUSE_END.match(after)):
            return "huan2"
        if _CLAUSE_END.match(after) and prev:  # 借的钱要及时还。: the adverb never ends a clause
            return "huan2"
        if nxt.startswith(("你", "您", "我", "他", "她")) and not nxt.startswith(("我们", "你们", "他们", "她们")):
            return "huan2"  # 我明天还你: the adverb does not come before a pronoun
        return "hai2"
    elif char == "干":
        if prev.endswith(tuple(_GAN1_AFTER)):
            return "gan1"
    elif char == "得":
        if prev.endswith(_PRONOUNS) and (nxt.startswith(_DEI_BEFORE) or _AT_AN_HOUR.match(after)) and not nxt.startswith("了"):
            return "dei3"  # 我们得五点起床: must
        if (prev.endswith(_DEI_AFTER_TIME) or not HAN_CHAR(prev[-1:])) and nxt.startswith((*_DEI_BEFORE, *_DEI_VERBS)):
            return "dei3"  # 明天得早点起床; 碎了，得尽快更换
        if nxt == "了" and re.match(r"了[吗呢]?\s*(?:[，。！？；、,.!?;]|$)", after):
            return "de5"  # 办得了吗: can it be done (了 liao3)
        if (prev and not nxt.startswith(("了", "到", "出", "知", "分", "奖", "罪", "病", "意")) and not nxt.endswith("病")
                and current == "de2"):
            # 跑得快: a complement marker after a verb
            return "de5"
    elif char == "行":
        if prev.endswith(("一", "两", "几", "每", "这", "那", "第", "多", "三", "四", "五", "六", "七", "八", "九", "十")) and nxt.startswith(("字", "代码", "文字", "诗", "数据", "树")):
            return "hang2"
    elif char == "重":
        if nxt.startswith(("新", "来", "做", "写", "复", "建", "启", "装", "试", "逢", "播", "开", "申")):
            return "chong2"
    elif char == "为":
        if prev.endswith(_WEI2_AFTER) or nxt == "人":
            return "wei2"  # 被选为学生代表; 他为人豁达 (为人民 is another word)
        if ((nxt.startswith(_WEI4_NEXT) and not nxt.startswith("人民币")) or _WEI4_LATER.match(after)
                or (HAN_CHAR(nxt) and nxt.endswith(_PERSON_ENDINGS))):
            return "wei4"
        return "wei2" if prev and HAN_CHAR(prev[-1]) else "wei4"  # at a clause's start: 为保证质量，
    elif char == "着":
        if prev.endswith(("睡", "找", "猜", "够", "摸", "点")) and not nxt.startswith(("的", "呢")):
            return "zhao2"
    elif char == "地":
        reduplicated = len(prev) >= 2 and prev[-1] == prev[-2]
        if nxt and HAN_CHAR(nxt) and (reduplicated or len(prev) == 4 or (len(prev) >= 2 and prev.endswith(_DE_ADVERB_ENDINGS))):
            return "de5"  # 悄悄地, 一针一线地 (an idiom before 地 says how)
        if len(prev) >= 2 and nxt_tag.startswith("v") and not prev.endswith(tuple("块片在到下上满落土草场田园本各当外内")):
            return "de5"  # 科学地安排: a manner before its verb (这块地, 在地上 stay di4)
    elif char == "假":
        if prev[:1] in _NUMERAL_CHARS and prev.endswith(("天", "周", "星期", "月", "年")):
            return "jia4"  # 请了三天假: leave
    elif char == "血":
        if prev.endswith(("点", "些", "口", "滴", "多")) and re.match(r"了?\s*(?:[，。！？；,.!?;]|$)", after):
            return "xie3"  # 流出一点血: the colloquial word on its own (流血, 血液 stay xue4)
    elif char == "宿":
        if prev.endswith(("一", "两", "几", "三")) and not nxt.startswith("舍"):
            return "xiu3"  # 住了一宿: a night
    elif char == "蔓":
        if prev.endswith(("的", "瓜", "豆")):
            return "wan4"  # 丝瓜的蔓: the vine (蔓延 stays man4)
    elif char == "拗":
        if prev.endswith(("脾气", "性子", "很", "太", "真", "有点")):
            return "niu4"  # 脾气拗: stubborn (拗口 stays ao4)
    elif char == "落":
        if prev.endswith(_LEFT_BEHIND) and re.match(rf"在了?(?:{_FORGOTTEN_AT})", after):
            return "la4"  # 别把手机落在酒店: left behind (树叶落在地上 stays luo4)
    elif char == "了" and (prev.endswith(("不", "得")) or prev == "明") and nxt in ("", "，", "。", "了", "吗", "呢", "？"):
        return "liao3"  # 受不了, 明了
    return None
