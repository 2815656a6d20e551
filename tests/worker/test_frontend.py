"""Behaviours of the text frontend (worker/tts/text/frontend.py) that other parts rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.tts.evaluation.frontend_eval import evaluate, evaluate_en, load_cases, load_en_cases
from worker.tts.synthesis.assets import kokoro_vocab
from worker.tts.text.analysis import Analysis
from worker.tts.text.frontend import MAX_PHONEMES, Frontend

DATA = Path(__file__).resolve().parents[1] / "data"
TSV = DATA / "frontend_hard.tsv"

# Measured 0.998 (430/431) on the shipped set when this gate was written; the
# set was also used to tune the rules, so the gate pins regressions, not a
# held-out score (held-out batches measured 0.919 and 0.855 before tuning).
MIN_ACCURACY = 0.98


@pytest.fixture(scope="module")
def fe() -> Frontend:
    return Frontend(lexicon={"行长": "hang2 zhang3", "重阳": "chong2 yang2", "Kokoro": "K OW1 K ER0 OW0",
                             "Narrator": "/nˈæɹAtəɹ/"})


@pytest.fixture(scope="module")
def plain_fe() -> Frontend:
    """No lexicon: what the accuracy gate and the CLI see by default."""
    return Frontend()


def pinyin(a: Analysis) -> str:
    return " ".join(p for _, p in a.pinyin())


@pytest.mark.parametrize(("text", "normalized"), [
    ("买了2个苹果", "买了两个苹果"),
    ("全校共有1,234名学生", "全校共有一千二百三十四名学生"),
    ("圆周率约为3.14", "圆周率约为三点一四"),
    ("2024年3月5日", "二零二四年三月五日"),
    ("2024-03-05", "二零二四年三月五日"),
    ("会议14:30开始", "会议十四点三十分开始"),
    ("售价¥3999", "售价三千九百九十九元"),
    ("只要$25.50", "只要二十五点五美元"),
    ("增长了50%", "增长了百分之五十"),
    ("3-5天送达", "三到五天送达"),
    ("3/4的人", "四分之三的人"),
    ("重5kg", "重五千克"),
    ("5000mAh电池", "五千毫安时电池"),
    ("时速120km/h", "时速一百二十公里每小时"),
    ("CADR值为400m³/h", "CADR值为四百立方米每小时"),  # a unit per unit, as said
    ("流量3-5L/min", "流量三到五升每分钟"),
    ("浓度10mg/ml", "浓度十毫克每毫升"),
    ("体温36.5℃", "体温三十六点五摄氏度"),
    ("型号X200", "型号X二零零"),
    ("搭载i7-13700H处理器", "搭载i七 一三七零零H处理器"),  # the dash is not a minus
    ("在3号楼1203室", "在三号楼幺二零三室"),  # a room number digit by digit, with 幺 as announcers say it
    ("商品SKU 80123-45", "商品SKU 八零幺二三杠四五"),
    ("电话13812345678", "电话幺三八幺二三四五六七八"),
    ("α粒子和β射线", "阿尔法粒子和贝塔射线"),
    ("π约等于3.14", "派约等于三点一四"),
    ("√2", "根号二"),
    ("x²", "x的平方"),
    ("a≥b", "a大于等于b"),
    ("3×4=12", "三乘四等于十二"),
    ("误差±5", "误差正负五"),
])
def test_normalization(fe: Frontend, text: str, normalized: str) -> None:
    assert fe.analyze(text).normalized == normalized


@pytest.mark.parametrize(("text", "expected"), [
    ("银行行长", "yin2 hang2 hang2 zhang3"),
    ("这件事很重要", "zhe4 jian4 shi4 hen3 zhong4 yao4"),
    ("不要重复", "bu2 yao4 chong2 fu4"),
    ("孩子长大了", "hai2 zi5 zhang3 da4 le5"),
    ("头发很长", "tou2 fa5 hen3 chang2"),
    ("我要还书", "wo3 yao4 huan2 shu1"),
    ("快乐的音乐", "kuai4 le4 de5 yin1 yue4"),
])
def test_polyphones(fe: Frontend, text: str, expected: str) -> None:
    got = pinyin(fe.analyze(text)).split()
    want = expected.split()
    # 一/不 sandhi is left to pypinyin's phrase table; compare the other syllables exactly
    assert [g for c, g in zip(text, got) if c not in "一不"] == [w for c, w in zip(text, want) if c not in "一不"]


def test_english_inside_chinese_gets_english_phonemes(fe: Frontend) -> None:
    a = fe.analyze("银行行长说Apple很好")
    langs = [(s.text, s.lang) for s in a.sentences[0].segments]
    assert ("Apple", "en") in langs
    en = next(s for s in a.sentences[0].segments if s.lang == "en")
    assert en.phonemes == "ˈæpᵊl"
    assert "Apple" not in a.sentences[0].phonemes
    assert [c for c, _ in a.pinyin()] == list("银行行长说很好")


def test_brand_names_and_model_letters(fe: Frontend) -> None:
    a = fe.analyze("我用iPhone和Xiaomi，型号X200")
    ph = a.sentences[0].phonemes
    assert "iPhone" not in ph and "Xiaomi" not in ph
    assert "ˈɛks" in ph  # the letter X read in English


def test_english_only_text(fe: Frontend) -> None:
    a = fe.analyze("The new X200 costs $25.50.")
    assert a.pinyin() == []
    assert all(s.lang == "en" for sent in a.sentences for s in sent.segments)
    ph = a.sentences[0].phonemes
    assert "dˈɑləɹz" in ph and "sˈɛnts" in ph


def test_english_keeps_its_commas_and_colons(fe: Frontend) -> None:
    """Kokoro pauses at a comma only if the phonemes carry it (Whisper heard "over the grounds,
    wait" as "over the ground's weight" when they did not)."""
    analysis = fe.analyze("Pour the water slowly over the grounds, wait thirty seconds; then note: done.")
    ph = " ".join(s.phonemes for s in analysis.sentences)
    assert [c for c in ph if c in ",;:."] == [",", ";", ":", "."]


def test_inline_override_wins(fe: Frontend) -> None:
    a = fe.analyze("{银行|yin2 xing2}在哪里")
    assert a.normalized == "银行在哪里"
    assert a.pinyin()[:2] == [("银", "yin2"), ("行", "xing2")]
    assert "{" not in a.sentences[0].phonemes and "|" not in a.sentences[0].text


def test_inline_override_english(fe: Frontend) -> None:
    a = fe.analyze("他读了{tomato|T AH0 M AA1 T OW2}两次")
    assert a.normalized == "他读了tomato两次"
    assert "təmˈɑtˌO" in a.sentences[0].phonemes


def test_bad_override_is_a_clear_error(fe: Frontend) -> None:
    with pytest.raises(ValueError, match="syllables"):
        fe.analyze("{银行|yin2}")
    with pytest.raises(ValueError, match="pinyin"):
        fe.analyze("{银行|hello world}")


def test_lexicon_hook_applies(fe: Frontend) -> None:
    assert pinyin(fe.analyze("重阳节快乐")).startswith("chong2 yang2")
    a = fe.analyze("欢迎使用Kokoro和Narrator")
    ph = a.sentences[0].phonemes
    assert "kˈOkəɹO" in ph and "nˈæɹAtəɹ" in ph


def test_every_phoneme_is_in_kokoro_vocab(fe: Frontend) -> None:
    vocab = set(kokoro_vocab()) | {" "}
    text = ("2024年3月5日，银行行长在发布会上说：iPhone 15的售价是$799，"
            "比去年便宜了10%！你觉得呢？The ThinkPad X1 weighs 1.1kg. 哪儿都行…")
    for sentence in fe.analyze(text).sentences:
        assert set(sentence.phonemes) <= vocab, set(sentence.phonemes) - vocab


def test_long_text_splits_under_kokoro_window(fe: Frontend) -> None:
    text = "，".join(["银行行长说这件事情非常重要我们必须认真对待"] * 40) + "。"
    a = fe.analyze(text)
    assert len(a.sentences) > 1
    assert all(0 < len(s.phonemes) <= MAX_PHONEMES for s in a.sentences)
    unbroken = "这是一个没有任何标点的很长很长的句子" * 40
    assert all(len(s.phonemes) <= MAX_PHONEMES for s in fe.analyze(unbroken).sentences)


def test_to_json_shape(fe: Frontend) -> None:
    data = fe.analyze("我用iPhone拍照").to_json()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert set(data) == {"normalized", "pinyin", "segments", "overrides", "warnings"}
    assert data["pinyin"][0] == ["我", "wo3"]
    assert {"text", "lang", "language", "phonemes"} == set(data["segments"][0])


def test_cli_json_lines(plain_fe: Frontend, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from worker.tts.text.cli import text_command

    monkeypatch.setattr("sys.stdin", io.StringIO("你好\n\nHello world\n"))
    assert text_command(None, as_json=True, frontend=plain_fe) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["normalized"] for x in lines] == ["你好", "Hello world"]


def test_accuracy_on_shipped_hard_set(plain_fe: Frontend) -> None:
    report = evaluate(plain_fe, load_cases(TSV))
    assert report["n"] >= 400
    assert report["accuracy"] >= MIN_ACCURACY, report["failures"]


# The tuning sets (tests/data/tuning/) are the ones the issue-19 rules were written from: 100 % when
# the rules were done, so these gates pin regressions. The sealed sets beside them are scored by
# bench/frontend_accuracy.py only, never gated here, so that nobody tunes on them.
@pytest.mark.parametrize("name", ["zh_normalization.tsv", "zh_normalization_tuning_4.tsv", "zh_normalization_tuning_5.tsv"])
def test_accuracy_on_normalization_tuning_sets(plain_fe: Frontend, name: str) -> None:
    report = evaluate(plain_fe, load_cases(DATA / "tuning" / name))
    assert report["accuracy"] >= 0.98, report["failures"]


@pytest.mark.parametrize("name", ["zh_polyphone_tuning_4.tsv", "zh_polyphone_tuning_5.tsv", "zh_polyphone_tuning_6.tsv",
                                  "zh_polyphone_tuning_7.tsv", "zh_polyphone_tuning_8.tsv", "zh_polyphone_tuning_9.tsv",
                                  "zh_polyphone_tuning_10.tsv", "zh_polyphone_tuning_11.tsv", "zh_polyphone_tuning_12.tsv"])
def test_accuracy_on_the_polyphone_tuning_sets_of_product_and_lesson_text(plain_fe: Frontend, name: str) -> None:
    report = evaluate(plain_fe, load_cases(DATA / "tuning" / name))
    assert report["accuracy"] >= 0.93, report["failures"]


@pytest.mark.parametrize(("name", "least"), [("en_reading.tsv", 0.98), ("en_reading_tuning_4.tsv", 0.95),
                                              ("en_homographs_tuning_3.tsv", 0.97), ("en_homographs_tuning_4.tsv", 0.95),
                                              ("en_reading_tuning_5.tsv", 0.97), ("en_reading_tuning_6.tsv", 0.95),
                                              ("en_homographs_tuning_5.tsv", 0.9), ("en_reading_tuning_7.tsv", 0.95)])
def test_accuracy_on_english_tuning_sets(plain_fe: Frontend, name: str, least: float) -> None:
    report = evaluate_en(plain_fe, load_en_cases(DATA / "tuning" / name))
    assert report["accuracy"] >= least, report["failures"]


@pytest.mark.parametrize(("text", "normalized"), [
    # decisions documented in worker/tts/text/normalize_zh.py
    ("粉丝500w", "粉丝五百万"),  # lowercase w after a number is 万 ...
    ("额定功率1500w", "额定功率一千五百瓦"),  # ... unless the text speaks of power
    ("20W充电器", "二十瓦充电器"),  # uppercase W is watts
    ("报警请打110", "报警请打幺幺零"),  # a service number, digit by digit with 幺
    ("跑了110米", "跑了一百一十米"),  # the same digits before a measure word are a quantity
    ("时速120", "时速一百二十"),  # ... or with no word of calling near
    ("10000000001", "一百亿零一"),  # every run of zeros inside a number is one 零
    ("80后", "八零后"),
    ("50年后", "五十年后"),  # a span of years, not the year 2050
    ("08年", "零八年"),
    ("活动时间：12月1日-12月12日", "活动时间：十二月一日到十二月十二日"),  # a range of dates, each with its month
    ("2026年12月1日—2027年1月5日", "二零二六年十二月一日到二零二七年一月五日"),
    ("巴西2-0完胜", "巴西二比零完胜"),  # N ≥ M cannot be a range
    ("以95-90险胜", "以九十五比九十险胜"),
    ("长度5-8米", "长度五到八米"),  # before a measure word: a range
    ("晚班9:45pm结束", "晚班晚上九点四十五分结束"),
    ("早上7:30 a.m.集合", "早上七点三十分集合"),  # the part of the day is not said twice
    ("约800HKD", "约八百港元"),
    ("报价AU$200", "报价二百澳元"),
    ("跌幅-12%", "跌幅负百分之十二"),
    ("x<=10", "x小于等于十"),
    ("a!=0", "a不等于零"),
    ("有效期至2026/12", "有效期至二零二六年十二月"),
    ("活动于2022·10·1开始", "活动于二零二二年十月一日开始"),
])
def test_issue19_normalization(plain_fe: Frontend, text: str, normalized: str) -> None:
    assert plain_fe.analyze(text).normalized == normalized


@pytest.mark.parametrize(("text", "normalized"), [
    ("月租¥30/月", "月租三十元每月"),  # a slash after a price or before what it counts is 每 ...
    ("是/否", "是/否"),  # ... and nothing else
    ("单人100元/双人180元", "单人一百元/双人一百八十元"),  # between two prices it is not 每
    ("双11和618大促", "双十一和六一八大促"),  # festivals named by their date
    ("5·20特惠", "五二零特惠"),
    ("90年代的歌", "九十年代的歌"),  # a decade, not a year written short (90后 stays 九零后)
    ("营业时间10am-7pm", "营业时间上午十点到晚上七点"),
    ("下班时间6pm", "下班时间下午六点"),
    ("全程用时2:05:09", "全程用时两小时五分九秒"),  # a duration, not a clock
    ("答案是1/2+1/4", "答案是二分之一加四分之一"),  # fractions beside a sum
    ("3/4英寸", "四分之三英寸"),
    ("固件v1.10.2", "固件v一点十点二"),  # a version's parts
    ("2025-2026赛季", "二零二五到二零二六赛季"),
    ("每天消耗500kcal", "每天消耗五百千卡"),
    ("好评5万+", "好评五万加"),
    ("请在2~8℃冷藏，气温-5~5℃。", "请在二到八摄氏度冷藏，气温零下五到五摄氏度。"),  # a range of temperatures
    ("于2至8℃冷藏", "于二至八摄氏度冷藏"),  # ... said with 至 where written, as other ranges are
    ("他的身高是1米75。", "他的身高是一米七五。"),  # a height said short
    ("他跑出了9秒58。", "他跑出了九秒五八。"),
    ("跳远成绩是5米20厘米", "跳远成绩是五米二十厘米"),  # ... not when the unit is said again
    ("香奈儿No.5香水", "香奈儿五号香水"),
    ("货号No.2026015", "货号二零二六零幺五"),  # a serial number, not 点
    ("本书ISBN 978-7-111-12345-6", "本书ISBN 九七八 七 幺幺幺 幺二三四五 六"),  # not ranges
    ("本周三（3/5）停水，全长3'20\"，支持1080P，PM2.5为35", "本周三（三月五日）停水，全长三分二十秒，支持一零八零P，PM二点五为三十五"),
    ("车牌京A·12345，G1234次，订单20260305001，1203房间", "车牌京A·幺二三四五，G幺二三四次，订单二零二六零三零五零零幺，幺二零三房间"),
    ("解方程x²-4=0，适合2-4人", "解方程x的平方减四等于零，适合两到四人"),  # minus after a power; 两 before a measure word
    ("定于12.15上午召开，12/16（周三）发货。", "定于十二月十五日上午召开，十二月十六日（周三）发货。"),
    ("共2款，答对2道题得第2名，时长1h30min。", "共两款，答对两道题得第二名，时长一小时三十分钟。"),
    ("3.8妇女节，第2.3节，7至10个工作日，已有28年，GB/T 15835。",
     "三八妇女节，第二点三节，七至十个工作日，已有二十八年，GB/T 一五八三五。"),
])
def test_chinese_per_slashes_festivals_decades_durations_fractions_and_versions(
        plain_fe: Frontend, text: str, normalized: str) -> None:
    assert plain_fe.analyze(text).normalized == normalized


@pytest.mark.parametrize(("text", "word", "reading"), [
    ("她被誉为最美的声音。", "为", "wei2"),  # after a verb of naming (因为 stays wei4)
    ("因为下雨，活动取消。", "为", "wei4"),
    ("西安是一座千年古都。", "都", "du1"),  # a capital
    ("我们都喜欢这款包。", "都", "dou1"),
    ("王老师教大家做手工。", "教", "jiao1"),  # the verb before whom is taught
    ("这间教室很明亮。", "教", "jiao4"),
    ("本店应用户要求增加了新功能。", "应", "ying4"),
    ("你应该先看说明书。", "应", "ying1"),
    ("出门前请量一下体温。", "量", "liang2"),
    ("冰箱请调到四度。", "调", "tiao2"),
    ("这条线路是全城最长的。", "长", "chang2"),
    ("这款护发素适合干枯发质。", "发", "fa4"),
    ("他一不小心就猜中了答案。", "中", "zhong4"),
    ("孩子们舍不得离开。", "得", "de5"),
    ("明天你得提前出门。", "得", "dei3"),
    ("她不停地敲门。", "地", "de5"),
    ("这条裤子有点长。", "长", "chang2"),  # long, said of it at a clause's end
    ("续航时间长，充电快。", "长", "chang2"),
    ("这件外套稍长一些。", "长", "chang2"),  # jieba's 稍长, a word pypinyin does not know
    ("他长大了。", "长", "zhang3"),
    ("请重新数一下。", "数", "shu3"),  # to count
    ("这个数到底对不对？", "数", "shu4"),
    ("借的钱要按时还。", "还", "huan2"),  # to return: the adverb never ends a clause
    ("我明天还你。", "还", "huan2"),  # ... nor comes before a pronoun
    ("这款鞋的质量还行。", "还", "hai2"),
    ("衣服晒干了再收起来。", "干", "gan1"),  # dried
    ("他干了一天活。", "干", "gan4"),
    ("请把手机调成静音。", "调", "tiao2"),
    ("本品为一次性使用。", "为", "wei2"),  # the copula of product text
    ("我们为您提供上门服务。", "为", "wei4"),  # for whom
    ("为保证质量，请冷藏保存。", "为", "wei4"),
    ("长时间使用也不发烫。", "长", "chang2"),  # a jieba word pypinyin does not know
    ("长按电源键三秒开机。", "长", "chang2"),
    ("小草长在路边。", "长", "zhang3"),
    ("看到这个新款包，我又长草了。", "长", "zhang3"),  # to grow (a craving)
    ("这只小狗很可爱，那两只猫也是。", "只", "zhi1"),  # the measure word
    ("我只想买一件。", "只", "zhi3"),
    ("请将空调调至二十六度。", "调", "tiao2"),
    ("我们要科学地安排时间。", "地", "de5"),  # a manner before its verb
    ("这块地很大。", "地", "di4"),
    ("我们请了三天假。", "假", "jia4"),  # leave
    ("用之前得先摇匀。", "得", "dei3"),  # must, after a time word
    ("你别冲我发火。", "冲", "chong4"),  # towards someone
    ("请用冷水冲一下。", "冲", "chong1"),
    ("长方形的长是五厘米。", "长", "chang2"),  # the length
    ("地球一年转一圈。", "转", "zhuan4"),  # to turn round
    ("这孩子的力气真大。", "气", "qi5"),  # the dictionary's neutral second syllable
    ("他做事很踏实。", "踏", "ta1"),
    ("把五花肉切成薄片。", "切", "qie1"),  # to cut (一切 keeps qie4)
    ("这袋种子春天就能种。", "种", "zhong4"),
    ("这款书包适合孩子背。", "背", "bei1"),  # to carry ...
    ("这些单词要背。", "背", "bei4"),  # ... to learn by heart
    ("请帮我缝好。", "缝", "feng2"),
    ("请先把汤盛到碗里。", "盛", "cheng2"),  # to ladle (盛开, 花开得正盛 keep sheng4)
    ("公园里的牡丹花开得正盛。", "盛", "sheng4"),
    ("卧室铺了木地板。", "铺", "pu1"),  # to lay
    ("气味有点冲，请开窗。", "冲", "chong4"),  # strong
    ("他折了一大笔钱。", "折", "she2"),  # to lose
    ("小狗偷吃零食挨了一顿骂。", "挨", "ai2"),  # to suffer
    ("这张沙发的靠背角度也能调。", "调", "tiao2"),  # adjustable
    ("这把尺子一掰就折了。", "折", "she2"),  # to snap
])
def test_polyphones_read_from_their_neighbours(plain_fe: Frontend, text: str, word: str, reading: str) -> None:
    pinyin = dict(plain_fe.analyze(text).pinyin())
    assert pinyin[word] == reading, plain_fe.analyze(text).pinyin()


@pytest.mark.parametrize(("text", "reading"), [
    ("They read the letter last night.", "ɹˈɛd"),
    ("Children should read every day.", "ɹˈid"),
    ("A lead pipe burst.", "lˈɛd"),
    ("They live near the sea.", "lˈɪv"),
    ("The match is live on TV.", "lˈIv"),
    ("I will record it.", "ɹəkˈɔɹd"),
    ("Break the record.", "ɹˈɛkəɹd"),
    ("The changes were minute.", "mInˈut"),
    ("Give me a minute.", "mˈɪnət"),
    ("Insert the card into the slot.", "ɪnsˈɜɹt"),  # a capitalised first word before its object is a verb
    ("Take a bow at the end.", "bˈW"),
    ("Tear along the dotted line.", "tˈɛɹ"),  # an order at the start
    ("Volunteers tried to console families.", "kənsˈOl"),  # a verb after "to"
    ("Muscles contract and relax.", "kəntɹˈækt"),  # ... after a bare plural subject
    ("Add a teaspoon of vanilla extract to the batter.", "ˈɛkstɹˌækt"),  # a noun after a noun
    ("Fibre helps your body digest food more efficiently.", "dIʤˈɛst"),
    ("Click here to export your contacts.", "ɛkspˈɔɹt"),  # a verb the lexicon reads as its noun
    ("The export of grain rose.", "ˈɛkspˌɔɹt"),
    ("As the lessons progress, you will speak more.", "pɹəɡɹˈɛs"),  # a plural subject's verb at a clause's end
    ("We saw a big sales increase.", "ˈɪnkɹˌis"),  # ... not a noun the plural modifies
    ("Attach your resume to the e-mail.", "ɹˈɛzəmˌA"),
    ("Read Section 4 before Friday.", "ɹˈid"),  # an order at the start ...
    ("Read by millions, it is a classic.", "ɹˈɛd"),  # ... not a participle
    ("Several neighbors object to the plan.", "əbʤˈɛkt"),  # a plural subject's verb
    ("Most volunteers live within walking distance.", "lˈɪv"),  # ... as here,
    ("The band plays live on Friday.", "lˈIv"),  # ... but not after a verb
    ("He spent years as an invalid, cared for at home.", "ˈɪnvəlɪd"),  # an article, the word, a stop: the noun
    ("Old pipes may contain lead, the utility warned.", "lˈɛd"),  # a comma ends the clause
    ("Service will resume at noon.", "ɹəzˈum"),
    ("Old pipes can contain lead, so test your water.", "lˈɛd"),
    ("Tie the ribbon in a bow.", "bˈO"),
    ("Wind the strap around the handle.", "wˈInd"),
    ("The wind is strong today.", "wˈɪnd"),
    ("Never tear the seal.", "tˈɛɹ"),
    ("Please close the app first.", "klˈOz"),
    ("The store is close to the station.", "klˈOs"),
    ("We will present our plan.", "pɹizˈɛnt"),
    ("They object to the fee.", "əbʤˈɛkt"),
    ("Never desert a friend.", "dəzˈɜɹt"),
    ("The bass line is deep.", "bˈAs"),
])
def test_english_homographs(plain_fe: Frontend, text: str, reading: str) -> None:
    assert reading in " ".join(s.phonemes for s in plain_fe.analyze(text).sentences)


@pytest.mark.parametrize(("text", "reading"), [
    # decided by the part-of-speech tagger, not by a rule of the project
    ("Its content is great.", "kˈɑntɛnt"),
    ("I am content with it.", "kəntˈɛnt"),
    ("Refuse collection is on Monday.", "ɹˈɛfjˌus"),
    ("We refuse to pay.", "ɹəfjˈuz"),
    ("Use a separate cable to separate the signals.", "sˈɛpəɹət kˈAbᵊl tə sˈɛpəɹˌAt"),
    ("The wind is strong, so wind the cable tightly.", "wˈɪnd ɪz stɹˈɔŋ, sˌO wˈInd"),
    # the article is "uh", the letter "ay"
    ("Use a Type-A cable.", "jˈuz ɐ tˈIpˌA"),
    ("From A to Z.", "fɹˌʌm ˈA tə"),
    ("Rated A by experts.", "ɹˈATᵻd ˈA"),
    ("A Guide To A Better Life.", "tə ɐ bˈɛTəɹ"),
    # a brand of the lexicon is read inside its sentence: "thee" before its vowel
    ("Use the iPhone to record a video.", "ði ˈIfˌOn tə ɹəkˈɔɹd"),
])
def test_english_readings_follow_the_part_of_speech(plain_fe: Frontend, text: str, reading: str) -> None:
    assert reading in " ".join(s.phonemes for s in plain_fe.analyze(text).sentences)


@pytest.mark.parametrize(("text", "spoken"), [
    ("Shipped on 12/06/2026.", "Shipped on December sixth, twenty twenty-six."),
    ("Valid until 31/01/2027.", "Valid until January thirty-first, twenty twenty-seven."),  # 31 cannot be a month
    ("Since 2025-11-03.", "Since November third, twenty twenty-five."),
    ("Ships Dec. 5th, 2026.", "Ships December fifth, 2026."),
    ("Born 3 March 1990.", "Born the third of March 1990."),
    ("Call 1-800-555-0199 now.", "Call one, eight hundred, five five five, zero one nine nine now."),  # toll-free
    ("Call +44 20 7946 0958, ext. 204.", "Call plus four four, two zero, seven nine four six, zero nine five eight, extension two zero four."),
    ("Call 911. Text 55555 to join. Call 100 customers.",
     "Call nine one one. Text five five five five five to join. Call 100 customers."),  # short numbers after calling only
    ("Phone (415) 555-0142.", "Phone four one five, five five five, zero one four two."),
    ("Call us at 555-0123.", "Call us at five five five, zero one two three."),
    ("It gives 100-2000 lumens.", "It gives 100 to 2000 lumens."),  # no calling word: a range
    ("Tickets $20-$35.", "Tickets 20 to thirty-five dollars."),
    ("Open 9am-6pm.", "Open nine AM to six PM."),  # the period that ends "p.m." and the line is kept
    ("It is 40 x 30 x 10 cm.", "It is 40 by 30 by 10 centimeters."),
    ("Visit www.example.com/help today.", "Visit W W W dot example dot com slash help today."),
    ("Mail help@shop.example.org.", "Mail help at shop dot example dot org."),
    ("Version 2.0 is out.", "Version two point zero is out."),
    ("Our #1 seller.", "Our number 1 seller."),
    ("IP 192.168.1.1 stays.", "IP 192.168.1.1 stays."),
    ("COVID-19 and a 3-year warranty.", "COVID-19 and a 3-year warranty."),
    ("See example.com/notes/a.html?id=42 now.", "See example dot com slash notes slash a dot H T M L question mark id=42 now."),
    ("Open Mon-Fri and Sat & Sun.", "Open Monday to Friday and Saturday and Sunday."),
    ("Delivered Tue, Feb 3.", "Delivered Tuesday, February third."),
    ("Frost on Mon, 3 Feb.", "Frost on Monday, the third of February."),
    ("The Sun is up; Wed is a word.", "The Sun is up; Wed is a word."),  # no date or day beside them: words
    ("Offer valid 12/1-12/24.", "Offer valid December first to December twenty-fourth."),  # a month and day, US order
    ("The sale ends 11/30.", "The sale ends November thirtieth."),  # ... after a word of dates
    ("Add 1/2 cup and score 3/4 of it.", "Add one half cup and score three quarters of it."),  # ... not elsewhere
    ("Our office is at Baker St., Apt. 4.", "Our office is at Baker Street, Apartment 4."),
    ("Viewed 3.5M times by 10K fans; a 10K run and 4K video.",
     "Viewed three point five million times by 10 thousand fans; a 10K run and 4K video."),  # a scale after a number, not a race
    ("Bananas 99¢ in 1080p on an M2 with 16GB RAM.",
     "Bananas ninety-nine cents in ten eighty P on an M 2 with 16 gigabytes of RAM."),
    ("Report at 0800 hrs; a time of 1:30:05.",
     "Report at oh eight hundred hours; a time of one hour, thirty minutes, and five seconds."),
    ("Choose a size: a) small, b) medium, or c) large.", "Choose a size: A, small, B, medium, or C, large."),
    ("Tea in Tokyo is ¥500; a flat $4.95 fee.", "Tea in Tokyo is five hundred yen; a flat four dollar and ninety-five cent fee."),
    ("The 1st-3rd of March, billing dept.", "The first to the third of March, billing department."),
    ("Sizes S, M and XL; 32W x 30L; 2T-5T; solid 14K gold; 100 ct. pills; qty 3; ~$40.",
     ("Sizes small, medium and extra large; 32 waist by 30 length; 2 T to 5 T; solid 14 karat gold; 100 count pills; "
      "quantity 3; about forty dollars.")),
    ("It outputs 12V at 1.5A; a 2.4 m cable; each is 1/4\" thick; $0.99/oz; Xbox Series X|S.",
     ("It outputs 12 volts at one point five amps; a two point four meter cable; each is one quarter inch thick; "
      "ninety-nine cents per ounce; Xbox Series X and S.")),
    ("In sizes S-XL; a 1.5 ct diamond; a 2.4 m cable, a 5m fine; the 400m hurdles, the 2m followers.",
     ("In sizes small to extra large; a one point five carat diamond; a two point four meter cable, a 5m fine; "
      "the 400 meter hurdles, the 2m followers.")),  # carats for gems; "5m" and "2m" before a plural stay (millions)
    ("Mail it to 4500 W. Oak Blvd., Apt. 12B, Austin, TX 78701.",  # W. is West here, not watts
     "Mail it to forty-five hundred West Oak Boulevard, Apartment 12 B, Austin, Texas seven eight seven oh one."),
    ("Meet at the NE corner, Rm. 1204, then Hwy 101 to Flight UA 837.",
     "Meet at the northeast corner, Room twelve oh four, then Highway one oh one to Flight U A eight thirty-seven."),
    ("Take 1 tablet b.i.d.; BP was 120/80; it closed +3.4%, an A+ and a B-.",
     "Take 1 tablet twice daily; BP was 120 over 80; it closed plus three point four percent, an A plus and a B minus."),
    ("They won 3-1 after a 2-0 lead; 2/$5; SKU 88213; 8GB/256GB; 2FA.",
     ("They won 3 to 1 after a 2 to nothing lead; 2 for five dollars; S K U eight eight two one three; "
      "8 gigabytes slash 256 gigabytes; two F A.")),
    ("It begins with https:// like every .org site; user_name, file.pdf.",
     "It begins with H T T P S colon slash slash like every dot org site; user underscore name, file dot P D F."),
])
def test_english_dates_phone_numbers_ranges_and_addresses_are_read_as_said(text: str, spoken: str) -> None:
    from worker.tts.text.normalize_en import normalize_en

    assert normalize_en(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    ("Add 3/4 cup of milk.", "Add three quarters cup of milk."),
    ("Due on 3/4.", "Due on March fourth."),  # after a word of dates: a month and day, US order
    ("It lasts 20 min and stands 1 ft tall.", "It lasts 20 minutes and stands 1 foot tall."),
    ("Sales hit $3.2 million.", "Sales hit three point two million dollars."),
    ("It costs $1,299.99.", "It costs one thousand two hundred ninety-nine dollars and ninety-nine cents."),  # no pause
    ("It is 3.5x faster.", "It is three point five times faster."),
    ("Up 14.7% YoY.", "Up fourteen point seven percent year over year."),
    ("It is $20/user/month or $199/yr.",
     "It is twenty dollars per user per month or one hundred ninety-nine dollars per year."),
    ("Open 24/7, and/or online.", "Open 24/7, and/or online."),
    ("A 65\" screen; it measures 12\". It is 12″ wide.", "A 65 inch screen; it measures 12 inches. It is 12 inches wide."),
    ('He said "I am 5" and left.', 'He said "I am 5" and left.'),  # a closing quote, not inches
    ("The kit: 1 x charger, 2 x cables.", "The kit: 1 charger, 2 cables."),
    ("Runs 180 mins, for ages 3 yrs and up.", "Runs 180 minutes, for ages 3 years and up."),
    ("Rated IPX8.", "Rated IPX 8."),  # the capitals are spelled, the number said
    ("Rated 4.8/5; rating 4/5; add 3/4 cup.", "Rated four point eight out of 5; rating 4 out of 5; add three quarters cup."),
    ("Call 1-800-FLOWERS.", "Call one, eight hundred, FLOWERS."),  # not a range
    ("Add 1½ cups; it is 10 in. wide.", "Add 1 and ½ cups; it is 10 inches wide."),
    ("A 15-min lesson, pp. 245 to 310, costs USD 1,500 or 1,380 EUR.",
     ("A 15-[minute](/mˈɪnət/) lesson, pages 245 to 310, costs one thousand five hundred dollars or one thousand three "
      "hundred eighty euros.")),
])
def test_english_fractions_units_and_amounts_with_a_scale_word(text: str, spoken: str) -> None:
    from worker.tts.text.normalize_en import normalize_en

    assert normalize_en(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), [
    # a measure before a noun is singular, a quantity plural
    ("The 3.5 mm jack; a 2 TB drive 3 mm thick.", "The three point five millimeter jack; a 2 terabyte drive 3 millimeters thick."),
    ("A 10,000 mAh battery charges in 2 hrs.", "A 10,000 milliamp hour battery charges in 2 hours."),
    ("A 30 km/h limit; a 120 Hz panel; 5 kg of flour.",
     "A 30 kilometer per hour limit; a 120 hertz panel; 5 kilograms of flour."),
    ("Use a 1/4\" bit; add 2 tbsp and 1 tsp.", "Use a one quarter inch bit; add 2 tablespoons and 1 teaspoon."),
    # Roman numerals: a number after a numbering word, an ordinal after a ruler, letters elsewhere
    ("Part II covers World War II and Henry VIII.", "Part two covers World War two and Henry the eighth."),
    ("Vol. III, pt. 2, Ch. 5 and Elizabeth II's reign.", "Volume three, part 2, Chapter 5 and Elizabeth the second's reign."),
    ("Sizes L and XL; Size XL; Mac OS X; an IV drip.", "Sizes large and extra large; Size extra large; Mac OS X; an IV drip."),
    ("Works w/ iOS, w/o cables.", "Works with iOS, without cables."),
    ("Approx. 12 pcs. and a case; ~2 hours at 240V; a 256GB SSD; 12h; 60fps.",
     "Approximately 12 pieces and a case; about 2 hours at 240 volts; a 256 gigabyte SSD; 12 hours; 60 frames per second."),
    ("Classes start in Aug. Book by Sept. and pay later.", "Classes start in August. Book by September and pay later."),
    ("A 60°C wash; a 30° angle; 72 degrees F.", "A 60 degrees Celsius wash; a 30 degree angle; 72 degrees Fahrenheit."),
    # dimensions say their unit once; feet and inches; a range of days in a month
    ("A 12\" x 18\" print; a 10cm x 20cm frame; 12ft x 14ft.", "A 12 by 18 inch print; a 10 by 20 centimeter frame; 12 by 14 feet."),
    ("A 6'2\" player; sale runs Dec 1-15.", "A 6 foot 2 player; sale runs December first to the fifteenth."),
    # money said as an American narrator says it
    ("Items cost $5-$10; the app is $0.99; a $3 billion budget; $120.",
     "Items cost 5 to ten dollars; the app is ninety-nine cents; a three billion dollar budget; one hundred twenty dollars."),
    # arithmetic: × is times where no unit follows, an equation's signs are words
    ("2 × 3 = 6, so 2x - 4 = 10; 5² and √9; a 10 × 20 cm tray, a 20 m² room.",
     ("2 times 3 equals 6, so 2 x minus 4 equals 10; 5 squared and the square root of 9; a 10 by 20 centimeter tray, "
     "a 20 square meter room.")),
    # social and web, shorthand, versions
    ("Tag @CityLibrary, use #ReadMore, mail billing-team@example.edu; order #A12.",
     "Tag at CityLibrary, use hashtag ReadMore, mail billing dash team at example dot E D U; order number A12."),
    ("Max. 4 per order, min. qty. 2; bake 30 min. in v2.1.3; 1h 30m; a 48MP camera.",
     ("Maximum 4 per order, minimum quantity 2; bake 30 minutes in version 2 point 1 point 3; 1 hour 30 minutes; "
     "a 48 megapixel camera.")),
    # phone numbers: a plus before a country code, an extension, 911 and a text code
    ("Dial +1 415 555 0100, ask for ext. 204, or dial 911 now; text STOP to 55123.",
     ("Dial plus one, four one five, five five five, zero one zero zero, ask for extension two zero four, or dial nine one "
     "one now; text STOP to five five one two three.")),
    # mixed numbers, powers and ratios (a clock time stays a time)
    ("Use 2 1/2 cups; add 1 1/4 tsp; mix 1/4 tsp.",
     "Use 2 and a half cups; add 1 and a quarter teaspoons; mix one quarter teaspoon."),
    ("x^2 and y^3, 2^10; a 16:9 screen; meet at 3:15, the score 3:1.",
     "x squared and y cubed, 2 to the power of 10; a 16 to 9 screen; meet at three fifteen, the score 3 to 1."),
])
def test_english_measures_before_a_noun_roman_numerals_and_shorthand(text: str, spoken: str) -> None:
    from worker.tts.text.normalize_en import normalize_en

    assert normalize_en(text) == spoken


@pytest.mark.parametrize("text", ["Our new model ships on Dec. 5th, 2026, in three colors.",
                                  "Pack light items, i.e. towels, e.g. socks, in the side pocket.",
                                  "She has a Ph.D. from the U.K. and works a.k.a. remotely.",
                                  "The shelf is 10 in. wide and 4 in. deep.",
                                  "Chapter 11 covers pp. 245 to 310 of the book.",
                                  "Read Vol. 2, pt. 3 and Ch. 4 before class.",
                                  "The set has 12 pcs. and a case, Approx. 2 kg in all."])
def test_abbreviations_inside_a_sentence_do_not_end_it(plain_fe: Frontend, text: str) -> None:
    assert len(plain_fe.analyze(text).sentences) == 1


@pytest.mark.parametrize(("text", "cleaned"), [
    ("Soft &amp; durable<br>Washable&nbsp;cotton.", "Soft & durable\nWashable cotton."),
    ("<p>Our <b>best</b> mug.</p><script>track()</script>", "\nOur best mug.\n"),
    ("**Bold** claim: the _best_ one 😀⭐⭐", "Bold claim: the best one  "),
    ("## Features\n- Fast", "Features\n- Fast"),
    ("See [our guide](https://example.com/guide).", "See our guide."),  # a link is read as its text ...
    ("Say [hello](/ʃˈɪt/) now; [[a](b)](/x/).", "Say hello now; a."),  # ... also in the G2P's phoneme form
    ("a<b and c>d, AT&T, R&D, Home_5G, 5 * 3 = 15, #1", "a<b and c>d, AT&T, R&D, Home_5G, 5 * 3 = 15, #1"),
    ("{行|hang2}长<br/>好", "{行|hang2}长\n好"),  # an inline reading passes unchanged
    ('<speak>Hi<break time="500ms"/>there, <prosody rate="slow">slowly</prosody>.</speak>', "Hi\nthere, slowly."),
])
def test_markup_a_reader_would_not_say_is_removed_and_nothing_else(text: str, cleaned: str) -> None:
    from worker.tts.text.markup import clean_markup

    assert clean_markup(text) == cleaned


def test_html_and_emoji_in_a_catalogue_text_are_not_read_aloud(plain_fe: Frontend) -> None:
    analysis = plain_fe.analyze("<p>Soft &amp; durable<br>Machine washable.</p> 😀")
    assert [s.text for s in analysis.sentences] == ["Soft & durable", "Machine washable."]
    assert all("ˈæmp" not in s.phonemes and "slˈæʃ" not in s.phonemes for s in analysis.sentences)


def test_a_web_address_query_does_not_end_a_sentence_but_a_question_mark_does(plain_fe: Frontend) -> None:
    assert len(plain_fe.analyze("See https://example.com/notes?id=42 for the notes.").sentences) == 1
    assert len(plain_fe.analyze("Really?Yes, really.").sentences) == 2


def test_english_lexicon_kept_in_the_model_cache_reads_the_same_and_survives_a_damaged_file(tmp_path: Path) -> None:
    """``narrator say`` reads misaki's built lexicon from the model cache instead of rebuilding
    it; the phonemes must not change, and a truncated file is rebuilt rather than trusted."""
    from worker.tts.text.en_g2p import EnG2P, us_lexicon

    text = "Our Zorblax headphones read the room, then record what they read."
    expected = EnG2P().phonemize(text)
    assert EnG2P(cache_dir=tmp_path).phonemize(text) == expected  # builds and writes the file
    (kept,) = tmp_path.glob("misaki-*-us-lexicon.marshal")
    assert EnG2P(cache_dir=tmp_path).phonemize(text) == expected  # reads it
    assert vars(us_lexicon(tmp_path)) == vars(us_lexicon(None))
    kept.write_bytes(kept.read_bytes()[:1000])
    assert EnG2P(cache_dir=tmp_path).phonemize(text) == expected
    assert kept.stat().st_size > 1_000_000, "the damaged file was not rewritten"


def test_english_g2p_reads_on_when_the_model_cache_cannot_be_written(tmp_path: Path) -> None:
    """A read-only or foreign model cache costs the next process the lexicon's build, never
    this one its English reading."""
    from worker.tts.text.en_g2p import EnG2P

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    text = "Our headphones read the room."
    assert EnG2P(cache_dir=blocker / "cache").phonemize(text) == EnG2P().phonemize(text)
    assert blocker.read_text() == ""
