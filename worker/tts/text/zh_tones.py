"""Words pypinyin tones as written where Mandarin speech does not: a neutral second syllable
(衣服 yi1 fu5, 力气 li4 qi5) and 儿 that is a full syllable rather than the erhua suffix (女儿).

Kept apart from the polyphone rules (polyphones.py): these are word lists, not choices made
from a word's neighbours.
"""

from __future__ import annotations

# Common words whose second syllable is neutral (轻声); pypinyin gives citation tones for them.
NEUTRAL_SECOND: frozenset[str] = frozenset({
    "衣服", "行李", "故事", "事情", "知道", "朋友", "明白", "清楚", "时候", "漂亮", "告诉", "喜欢",
    "休息", "麻烦", "关系", "消息", "眼睛", "耳朵", "舒服", "窗户", "豆腐", "葡萄", "玻璃", "商量",
    "客气", "聪明", "名字", "月亮", "太阳", "姑娘", "妈妈", "哥哥", "姐姐", "奶奶", "爷爷", "谢谢",
    "爸爸", "叔叔", "弟弟", "妹妹", "舅舅", "伯伯", "姥姥", "婆婆", "公公", "娃娃", "宝宝", "星星",
    "嘴巴", "尾巴", "下巴", "脑袋", "衣裳", "东西", "地方", "便宜", "意思", "先生", "丈夫",
    "媳妇", "女婿", "师傅", "打扮", "打听", "大方", "精神", "热闹", "认识", "事儿", "收拾",
    "算盘", "特务", "头发", "相声", "笑话", "学生", "钥匙", "冤枉", "早上", "晚上",
    "招呼", "折腾", "芝麻", "主意", "庄稼", "状元", "胳膊", "骆驼", "萝卜", "馒头", "枕头",
    "扁担", "石头", "骨头", "木头", "舌头", "指头", "念头", "苗头", "跟头", "来头",
    # more that the Xiandai Hanyu Cidian marks neutral and pypinyin reads with the citation tone
    "凉快", "打算", "本事", "生意", "厉害", "学问", "道理", "吩咐", "咳嗽", "机灵", "老实", "在乎",
    "蘑菇", "葫芦", "喇叭", "巴掌", "亲戚", "对付", "比方", "规矩", "见识", "合同", "凑合", "糊涂", "累赘",
    "溜达", "点心", "首饰", "护士", "妖精", "牲口", "粮食", "动静", "动弹", "嘱咐", "应付", "打量",
    "拾掇", "张罗", "欺负", "委屈", "吓唬", "嘀咕", "叨唠", "利索", "麻利", "和气", "阔气", "小气", "神气",
    "福气", "力气", "运气", "脾气", "志气", "秀气", "娇气", "俗气", "土气", "洋气", "服气", "叫唤", "苗条",
    "模糊", "别扭", "风筝", "玫瑰", "狐狸", "云彩", "买卖", "心思", "记性", "忘性", "妻子", "困难",
    "篱笆", "扫帚", "刨子", "恶心",
    # a verb said twice, "try it" (试试 shì·shi)
    "知识", "讲究",
    "试试", "看看", "想想", "听听", "说说", "尝尝", "问问", "聊聊", "找找", "摸摸", "闻闻",
})

# 儿 after these is a full syllable (a child, a son), not the erhua suffix.
NOT_ERHUA: frozenset[str] = frozenset({
    "女儿", "儿子", "婴儿", "孤儿", "幼儿", "患儿", "男儿", "少儿", "侄儿", "孙儿", "妻儿",
    "健儿", "宠儿", "胎儿", "混血儿", "婴幼儿", "新生儿", "弃儿", "乞儿",
    # poetic/diminutive nouns misaki (ZHFrontend.not_erhua) also keeps as a full syllable
    "花儿", "鸟儿", "马儿", "虫儿", "猫儿", "狗儿", "猪儿", "红孩儿",
})
