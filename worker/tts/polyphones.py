"""Polyphone corrections on top of pypinyin's phrase dictionary.

pypinyin reads whole jieba words well; its weak spots are words missing from
its phrase table and polyphonic characters that jieba leaves on their own.
The table below fixes words found wrong while building
tests/data/frontend_hard.tsv; the rules resolve single characters from their
neighbours.
"""

from __future__ import annotations

PHRASE_READINGS: dict[str, tuple[str, ...]] = {
    "行长": ("hang2", "zhang3"),
    "银行行长": ("yin2", "hang2", "hang2", "zhang3"),
    "很长": ("hen3", "chang2"),
    "太长": ("tai4", "chang2"),
    "多长": ("duo1", "chang2"),
    "一行人": ("yi1", "xing2", "ren2"),
    "还钱": ("huan2", "qian2"),
    "还书": ("huan2", "shu1"),
    "还款": ("huan2", "kuan3"),
    "还债": ("huan2", "zhai4"),
    "归还": ("gui1", "huan2"),
    "偿还": ("chang2", "huan2"),
    "还给": ("huan2", "gei3"),
    "得去": ("dei3", "qu4"),
    "得走": ("dei3", "zou3"),
    "长得": ("zhang3", "de5"),
    "成长": ("cheng2", "zhang3"),
    "生长": ("sheng1", "zhang3"),
    "重新": ("chong2", "xin1"),
    "一重": ("yi1", "chong2"),
    "音乐": ("yin1", "yue4"),
    "乐队": ("yue4", "dui4"),
    "快乐": ("kuai4", "le4"),
    "朝阳区": ("chao2", "yang2", "qu1"),
    "调音": ("tiao2", "yin1"),
    "调皮": ("tiao2", "pi2"),
    "单于": ("chan2", "yu2"),
    "曾经": ("ceng2", "jing1"),
    "好奇": ("hao4", "qi2"),
    "爱好": ("ai4", "hao4"),
    "好学": ("hao4", "xue2"),
    "处理": ("chu3", "li3"),
    "处长": ("chu4", "zhang3"),
    "校长": ("xiao4", "zhang3"),
    "校对": ("jiao4", "dui4"),
    "假期": ("jia4", "qi1"),
    "放假": ("fang4", "jia4"),
    "请假": ("qing3", "jia4"),
    "数据": ("shu4", "ju4"),
    "数一数": ("shu3", "yi1", "shu3"),
    "差不多": ("cha4", "bu5", "duo1"),
    "出差": ("chu1", "chai1"),
    "差点": ("cha4", "dian3"),
    "参差": ("cen1", "ci1"),
    "睡觉": ("shui4", "jiao4"),
    "觉得": ("jue2", "de5"),
    "发现": ("fa1", "xian4"),
    "头发": ("tou2", "fa5"),
    "理发": ("li3", "fa4"),
    "转动": ("zhuan4", "dong4"),
    "旋转": ("xuan2", "zhuan3"),
    "地方": ("di4", "fang5"),
    "东西": ("dong1", "xi5"),
    "便宜": ("pian2", "yi5"),
    "方便": ("fang1", "bian4"),
    "薄荷": ("bo4", "he5"),
    "薄饼": ("bao2", "bing3"),
    "银行卡": ("yin2", "hang2", "ka3"),
    "行业": ("hang2", "ye4"),
    "行情": ("hang2", "qing2"),
    "行走": ("xing2", "zou3"),
    "不行": ("bu4", "xing2"),
    "还行": ("hai2", "xing2"),
    "都市": ("du1", "shi4"),
    "首都": ("shou3", "du1"),
    "为了": ("wei4", "le5"),
    "作为": ("zuo4", "wei2"),
    "认为": ("ren4", "wei2"),
    "成为": ("cheng2", "wei2"),
    "因为": ("yin1", "wei4"),
    "着急": ("zhao2", "ji2"),
    "着凉": ("zhao2", "liang2"),
    "睡着": ("shui4", "zhao2"),
    "着陆": ("zhuo2", "lu4"),
    "着手": ("zhuo2", "shou3"),
    "穿着": ("chuan1", "zhuo2"),
    "了解": ("liao3", "jie3"),
    "了不起": ("liao3", "bu5", "qi3"),
    "会计": ("kuai4", "ji4"),
    "乘客": ("cheng2", "ke4"),
    "模样": ("mu2", "yang4"),
    "模型": ("mo2", "xing2"),
    "人参": ("ren2", "shen1"),
    "参加": ("can1", "jia1"),
    "降落": ("jiang4", "luo4"),
    "投降": ("tou2", "xiang2"),
    "落下": ("luo4", "xia4"),
    "丢三落四": ("diu1", "san1", "la4", "si4"),
    "角色": ("jue2", "se4"),
    "主角": ("zhu3", "jue2"),
    "传记": ("zhuan4", "ji4"),
    "称职": ("chen4", "zhi2"),
    "相称": ("xiang1", "chen4"),
    "供应": ("gong1", "ying4"),
    "提供": ("ti2", "gong1"),
    "供认": ("gong4", "ren4"),
    "倔强": ("jue4", "jiang4"),
    "勉强": ("mian3", "qiang3"),
    "强大": ("qiang2", "da4"),
    "几乎": ("ji1", "hu1"),
    "茶几": ("cha2", "ji1"),
    "应该": ("ying1", "gai1"),
    "答应": ("da1", "ying4"),
    "回答": ("hui2", "da2"),
    "答案": ("da2", "an4"),
    "宁可": ("ning4", "ke3"),
    "安宁": ("an1", "ning2"),
    "曲折": ("qu1", "zhe2"),
    "歌曲": ("ge1", "qu3"),
    "折腾": ("zhe1", "teng5"),
    "打折": ("da3", "zhe2"),
    "折本": ("she2", "ben3"),
    "血液": ("xue4", "ye4"),
    "流血": ("liu2", "xue4"),
    "几个": ("ji3", "ge4"),
    "尽管": ("jin3", "guan3"),
    "尽力": ("jin4", "li4"),
    "弹琴": ("tan2", "qin2"),
    "子弹": ("zi3", "dan4"),
    "空调": ("kong1", "tiao2"),
    "空闲": ("kong4", "xian2"),
    "有空": ("you3", "kong4"),
    "没空": ("mei2", "kong4"),
    "结实": ("jie1", "shi5"),
    "结果": ("jie2", "guo3"),
    "大夫": ("dai4", "fu5"),
    "大王": ("da4", "wang2"),
    "省长": ("sheng3", "zhang3"),
    "节省": ("jie2", "sheng3"),
    "反省": ("fan3", "xing3"),
    "重量": ("zhong4", "liang4"),
    "重复": ("chong2", "fu4"),
    "重要": ("zhong4", "yao4"),
    "长大": ("zhang3", "da4"),
    "长度": ("chang2", "du4"),
    "藏族": ("zang4", "zu2"),
    "西藏": ("xi1", "zang4"),
    "宝藏": ("bao3", "zang4"),
    "躲藏": ("duo3", "cang2"),
    "露脸": ("lou4", "lian3"),
    "暴露": ("bao4", "lu4"),
    "露出": ("lu4", "chu1"),
    "和面": ("huo2", "mian4"),
    "暖和": ("nuan3", "huo5"),
    "附和": ("fu4", "he4"),
    "和牌": ("hu2", "pai2"),
    "教书": ("jiao1", "shu1"),
    "教室": ("jiao4", "shi4"),
    "分量": ("fen4", "liang4"),
    "分子": ("fen1", "zi3"),
    "处分": ("chu3", "fen4"),
    "背包": ("bei1", "bao1"),
    "背诵": ("bei4", "song4"),
    "扇子": ("shan4", "zi5"),
    "扇风": ("shan1", "feng1"),
    "似的": ("shi4", "de5"),
    "相似": ("xiang1", "si4"),
    "的确": ("di2", "que4"),
    "目的": ("mu4", "di4"),
    "的士": ("di1", "shi4"),
    "载重": ("zai4", "zhong4"),
    "记载": ("ji4", "zai3"),
    "下载": ("xia4", "zai3"),
    "上载": ("shang4", "zai3"),
    "劲敌": ("jing4", "di2"),
    "干劲": ("gan4", "jin4"),
    "中奖": ("zhong4", "jiang3"),
    "看中": ("kan4", "zhong4"),
    "率领": ("shuai4", "ling3"),
    "效率": ("xiao4", "lv4"),
    "概率": ("gai4", "lv4"),
    "屏幕": ("ping2", "mu4"),
    "屏住": ("bing3", "zhu4"),
    "兴奋": ("xing1", "fen4"),
    "高兴": ("gao1", "xing4"),
    "兴趣": ("xing4", "qu4"),
    "调查": ("diao4", "cha2"),
    "音调": ("yin1", "diao4"),
    "强调": ("qiang2", "diao4"),
    "单调": ("dan1", "diao4"),
    "调整": ("tiao2", "zheng3"),
    "省份": ("sheng3", "fen4"),
    "朝代": ("chao2", "dai4"),
    "朝气": ("zhao1", "qi4"),
    "喝彩": ("he4", "cai3"),
    "吆喝": ("yao1", "he5"),
    "卡车": ("ka3", "che1"),
    "关卡": ("guan1", "qia3"),
    "发卡": ("fa4", "ka3"),
    "鲜花": ("xian1", "hua1"),
    "新鲜": ("xin1", "xian1"),
    "鲜为人知": ("xian3", "wei2", "ren2", "zhi1"),
    "冲动": ("chong1", "dong4"),
    "冲着": ("chong4", "zhe5"),
    "弄堂": ("long4", "tang2"),
    "创伤": ("chuang1", "shang1"),
    "创造": ("chuang4", "zao4"),
    "塞车": ("sai1", "che1"),
    "边塞": ("bian1", "sai4"),
    "堵塞": ("du3", "se4"),
    "剥皮": ("bao1", "pi2"),
    "剥削": ("bo1", "xue1"),
    "削苹果": ("xiao1", "ping2", "guo3"),
    "称呼": ("cheng1", "hu5"),
    "号称": ("hao4", "cheng1"),
    "数量": ("shu4", "liang4"),
    "数学": ("shu4", "xue2"),
    "数落": ("shu3", "luo5"),
    "要求": ("yao1", "qiu2"),
    "重要性": ("zhong4", "yao4", "xing4"),
    "给予": ("ji3", "yu3"),
    "供给": ("gong1", "ji3"),
    "自给自足": ("zi4", "ji3", "zi4", "zu2"),
    "投奔": ("tou2", "ben4"),
    "奔跑": ("ben1", "pao3"),
    "挣扎": ("zheng1", "zha2"),
    "挣钱": ("zheng4", "qian2"),
    "蔓延": ("man4", "yan2"),
    "瓜蔓": ("gua1", "wan4"),
    "埋怨": ("man2", "yuan4"),
    "埋葬": ("mai2", "zang4"),
    "呆板": ("dai1", "ban3"),
    "夹克": ("jia1", "ke4"),
    "夹杂": ("jia2", "za2"),
    "咖喱": ("ga1", "li2"),
    "咖啡": ("ka1", "fei1"),
    "便利店": ("bian4", "li4", "dian4"),
    "大便": ("da4", "bian4"),
    "在行": ("zai4", "hang2"),
    "好好": ("hao3", "hao3"),
    "量一量": ("liang2", "yi1", "liang2"),
    "一觉": ("yi1", "jiao4"),
    "重试": ("chong2", "shi4"),
    "重启": ("chong2", "qi3"),
    "重置": ("chong2", "zhi4"),
    "重装": ("chong2", "zhuang1"),
    "重做": ("chong2", "zuo4"),
    "重写": ("chong2", "xie3"),
    "重播": ("chong2", "bo1"),
    "重组": ("chong2", "zu3"),
    "重叠": ("chong2", "die2"),
    "重逢": ("chong2", "feng2"),
    "重申": ("chong2", "shen1"),
    "重建": ("chong2", "jian4"),
}

# Common words whose second syllable is neutral (轻声); pypinyin gives citation tones for them.
NEUTRAL_SECOND: frozenset[str] = frozenset({
    "衣服", "行李", "故事", "事情", "知道", "朋友", "明白", "清楚", "时候", "漂亮", "告诉", "喜欢",
    "休息", "麻烦", "关系", "消息", "眼睛", "耳朵", "舒服", "窗户", "豆腐", "葡萄", "玻璃", "商量",
    "客气", "聪明", "名字", "月亮", "太阳", "姑娘", "妈妈", "哥哥", "姐姐", "奶奶", "爷爷", "谢谢",
    "爸爸", "叔叔", "弟弟", "妹妹", "舅舅", "伯伯", "姥姥", "婆婆", "公公", "娃娃", "宝宝", "星星",
    "嘴巴", "尾巴", "下巴", "脑袋", "衣裳", "东西", "地方", "便宜", "意思", "先生", "丈夫",
    "媳妇", "女婿", "师傅", "打扮", "打听", "大方", "精神", "热闹", "认识", "事儿", "收拾",
    "算盘", "特务", "头发", "相声", "笑话", "谢谢", "学生", "钥匙", "冤枉", "早上", "晚上",
    "招呼", "折腾", "芝麻", "主意", "庄稼", "状元", "胳膊", "骆驼", "萝卜", "馒头", "枕头",
    "扁担", "石头", "骨头", "木头", "舌头", "指头", "念头", "苗头", "跟头", "来头",
})

# 儿 after these is a full syllable (a child, a son), not the erhua suffix.
NOT_ERHUA: frozenset[str] = frozenset({
    "女儿", "儿子", "婴儿", "孤儿", "幼儿", "患儿", "男儿", "少儿", "侄儿", "孙儿", "妻儿",
    "健儿", "宠儿", "胎儿", "混血儿", "婴幼儿", "新生儿", "弃儿", "乞儿",
    # poetic/diminutive nouns misaki (ZHFrontend.not_erhua) also keeps as a full syllable
    "花儿", "鸟儿", "马儿", "虫儿", "猫儿", "狗儿", "猪儿", "红孩儿",
})

# Two-character words whose reading depends on the next word.
_WORD_CONTEXT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # word: (next-word prefixes, reading)
    "一行": (("字", "代码", "文字", "诗", "数据", "树", "泪", "小字"), ("yi1", "hang2")),
    "两行": (("字", "代码", "文字", "诗", "数据", "树", "泪", "小字"), ("liang3", "hang2")),
    "几行": (("字", "代码", "文字", "诗", "数据", "树", "泪", "小字"), ("ji3", "hang2")),
    "每行": (("字", "代码", "文字", "诗", "数据"), ("mei3", "hang2")),
    "背着": (("书包", "包", "孩子", "行李", "背包", "双肩包", "箱子"), ("bei1", "zhe5")),
}

# Adverbial 地 (de5) follows these endings: 慢慢地, 着急地, 认真地.
_DE_ADVERB_ENDINGS = tuple("急慢快真细心力断渐静默悄轻烈狠速意忙兴声然劲情勇稳切满乐苦喜怒奋紧松重淡默")


# X得 where 得 keeps its full tone de2 (获得, 值得); elsewhere a verb/adjective + 得 is de5.
_DE2_FIRST = frozenset("获取赢难值心所博求习应不贪非自懂")
# Nouns that start with 地 (so 地 is di4 even after an adverb-like word).
_DI_WORDS = frozenset({"地方", "地球", "地下", "地区", "地址", "地图", "地铁", "地震", "地道", "地位",
                       "地点", "地面", "地上", "地板", "地产", "地理", "地域", "地毯", "地形", "地带"})


def fix_word(word: str, prev: str, nxt: str, current: list[str]) -> tuple[str, ...] | None:
    """Reading of a multi-character word that depends on its neighbours, or None to keep ``current``."""
    rule = _WORD_CONTEXT.get(word)
    if rule and nxt.startswith(rule[0]):
        return rule[1]
    if word == "地道" and nxt.startswith("的"):
        return ("di4", "dao5")  # authentic (地道的北京菜), not a tunnel
    if len(current) != len(word):
        return None
    fixed = list(current)
    if len(word) == 3 and word[1] == "得" and word[0] != "不" and fixed[1] == "de2":
        fixed[1] = "de5"  # 说得好, 跑得快: complement marker
    if len(word) == 2 and word[1] == "得" and fixed[1] == "de2" and word[0] not in _DE2_FIRST:
        fixed[1] = "de5"
    if len(word) >= 3 and word[-1] == "地" and fixed[-1] == "di4":
        stem = word[:-1]
        if stem[-1] == stem[-2] or stem.endswith(_DE_ADVERB_ENDINGS):
            fixed[-1] = "de5"  # 悄悄地, 默默地: jieba keeps the adverbial 地 inside the word
    if (len(word) == 2 and word[0] == "地" and word not in _DI_WORDS and prev
            and (prev[-1] == prev[-2:-1] or (len(prev) >= 2 and prev.endswith(_DE_ADVERB_ENDINGS)))):
        fixed[0] = "de5"  # 高兴地笑: jieba glued 地 to the verb
    return tuple(fixed) if fixed != current else None


# Characters whose reading follows from the word that comes before them.
_CHANG_AFTER = ("很", "太", "好", "真", "这么", "那么", "较", "更", "最", "非常", "特别", "比较",
                "挺", "多", "够", "又", "过", "超")
_HUAN_BEFORE = ("钱", "书", "款", "债", "给", "清", "回", "贷", "账", "你", "我", "他", "她", "它")
_DEI_BEFORE = ("去", "走", "赶紧", "小心", "注意", "好好", "先", "马上", "早点", "努力", "快",
               "抓紧", "加油", "想办法", "多", "花", "等", "有", "让", "把", "在", "做", "跟")
_PRONOUNS = ("我", "你", "他", "她", "它", "我们", "你们", "他们", "她们", "咱们", "大家", "谁", "就", "还", "也", "都")


def HAN_CHAR(text: str) -> bool:  # noqa: N802 - reads as a predicate in the rules
    return bool(text) and "\u4e00" <= text[0] <= "\u9fff"


def fix_single_char(char: str, prev: str, nxt: str, current: str) -> str | None:
    """Reading of a polyphonic character that jieba left as its own word, or None to keep ``current``."""
    if char == "长":
        if prev.endswith(_CHANG_AFTER) or nxt.startswith(("长", "短", "宽", "高", "的", "了", "得", "于", "条")):
            return "chang2"
    elif char == "还":
        if nxt.startswith(_HUAN_BEFORE) and prev.endswith(("要", "去", "得", "想", "会", "没", "不", "先", "快", "请", "借", "该", "能", "来")):
            return "huan2"
        return "hai2"
    elif char == "得":
        if prev.endswith(_PRONOUNS) and nxt.startswith(_DEI_BEFORE) and not nxt.startswith("了"):
            return "dei3"
        if prev and not nxt.startswith(("了", "到", "出", "知", "分", "奖", "罪", "病", "意")) and current == "de2":
            # 跑得快: a complement marker after a verb
            return "de5"
    elif char == "行":
        if prev.endswith(("一", "两", "几", "每", "这", "那", "第", "多", "三", "四", "五", "六", "七", "八", "九", "十")) and nxt.startswith(("字", "代码", "文字", "诗", "数据", "树")):
            return "hang2"
    elif char == "重":
        if nxt.startswith(("新", "来", "做", "写", "复", "建", "启", "装", "试", "逢", "播", "开", "申")):
            return "chong2"
    elif char == "为":
        if nxt.startswith(("了", "什么", "何", "此", "人民", "大家", "你", "我", "他", "她")):
            return "wei4"
    elif char == "着":
        if prev.endswith(("睡", "找", "猜", "够", "摸", "点")) and not nxt.startswith(("的", "呢")):
            return "zhao2"
    elif char == "地":
        reduplicated = len(prev) >= 2 and prev[-1] == prev[-2]
        if nxt and HAN_CHAR(nxt) and (reduplicated or (len(prev) >= 2 and prev.endswith(_DE_ADVERB_ENDINGS))):
            return "de5"
    elif char == "了":
        if prev.endswith(("不", "得")) and nxt in ("", "，", "。"):
            return "liao3"
    return None
