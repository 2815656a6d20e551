"""The lexicon and inline overrides in the text frontend, and lexicon version semantics."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from misaki.zh import ZHG2P

from shared import lexicon as store
from shared.pronunciation.arpabet import (
    ARPABET_CONSONANTS,
    ARPABET_UNSTRESSED,
    ARPABET_VOWELS,
    arpabet_to_phonemes,
)
from shared.pronunciation.lexicon import Entry, Lexicon, LexiconCsvError, parse_csv, to_csv
from shared.pronunciation.pinyin import TONE_MARKS, pinyin_table, syllable_to_ipa
from shared.pronunciation.readings import check_reading
from shared.pronunciation.symbols import kokoro_symbols
from shared.tenants import create_tenant
from worker.tts.synthesis.assets import kokoro_vocab
from worker.tts.text.analysis import Analysis
from worker.tts.text.frontend import Frontend


@pytest.fixture(scope="module")
def fe() -> Frontend:
    return Frontend()


def pinyin(a: Analysis) -> str:
    return " ".join(p for _, p in a.pinyin())


def test_a_lexicon_entry_changes_the_pinyin_of_its_word(fe: Frontend) -> None:
    text = "他在银行工作。"
    assert pinyin(fe.analyze(text)).split()[2:4] == ["yin2", "hang2"]
    lex = fe.compile(Lexicon(7, (Entry("银行", "yin2 xing2", "zh", id="e-1"),)))
    a = fe.analyze(text, lex)
    assert pinyin(a).split()[2:4] == ["yin2", "xing2"]
    assert a.normalized == "他在银行工作。" and a.lexicon_version == 7
    assert [(f.word, f.reading, f.entry_id) for f in a.lexicon_matches()] == [("银行", "yin2 xing2", "e-1")]
    assert pinyin(fe.analyze("他在学校工作。", lex)).split()[2:4] == ["xue2", "xiao4"]  # untouched
    assert fe.analyze("他在学校工作。", lex).lexicon_matches() == []


def test_the_longest_lexicon_word_wins_and_latin_words_match_whole_and_any_case(fe: Frontend) -> None:
    lex = fe.compile(Lexicon(1, (Entry("行长", "hang2 zhang3", "zh"), Entry("银行行长", "yin2 hang2 hang2 zhang3", "zh"),
                                 Entry("Nike", "N AY1 K IY0", "en"))))
    a = fe.analyze("银行行长穿NIKE，不穿Nikes。", lex)
    assert pinyin(a).split()[:4] == ["yin2", "hang2", "hang2", "zhang3"]
    assert [f.word for f in a.lexicon_matches()] == ["银行行长", "NIKE"]
    assert "nˈIki" in a.sentences[0].phonemes


def test_an_inline_override_wins_over_the_lexicon(fe: Frontend) -> None:
    lex = fe.compile(Lexicon(2, (Entry("银行", "yin2 xing2", "zh"), Entry("Xiaomi", "SH AW1 M IY0", "en"))))
    a = fe.analyze("{银行|yin2 hang2}和银行，{Xiaomi|~show me}", lex)
    assert pinyin(a).split()[:2] == ["yin2", "hang2"] and pinyin(a).split()[3:5] == ["yin2", "xing2"]
    assert a.normalized == "银行和银行，Xiaomi" and "{" not in a.normalized
    sources = [(f.word, f.source) for f in a.forced]
    assert ("银行", "inline") in sources and ("Xiaomi", "inline") in sources and ("银行", "lexicon") in sources
    assert "ʃˈO" in " ".join(s.phonemes for s in a.sentences)  # the respelling, not the lexicon's ʃˈW


def test_a_term_written_with_a_greek_letter_or_math_symbol_is_an_entry_read_as_spoken(fe: Frontend) -> None:
    """α粒子 matches as written and is read as 阿尔法粒子: one syllable per spoken character."""
    lex = fe.compile(Lexicon(3, (Entry("α粒子", "a1 er3 fa3 li4 zi3", "zh", id="e-a"),
                                 Entry("∑符号", "qiu2 he2 fu2 hao4", "zh"))))
    a = fe.analyze("α粒子穿过∑符号。", lex)
    assert a.normalized == "阿尔法粒子穿过求和符号。"
    assert pinyin(a).split() == ["a1", "er3", "fa3", "li4", "zi3", "chuan1", "guo4", "qiu2", "he2", "fu2", "hao4"]
    assert [f.word for f in a.lexicon_matches()] == ["α粒子", "∑符号"]
    inline = fe.analyze("定义{π函数|pai4 han2 shu3}。")
    assert inline.normalized == "定义派函数。" and pinyin(inline).split()[2:] == ["pai4", "han2", "shu3"]
    with pytest.raises(ValueError, match="3 syllables for 5 characters"):
        check_reading("α粒子", "a1 li4 zi3")  # counted on 阿尔法粒子


def test_an_arpabet_override_becomes_kokoro_phonemes(fe: Frontend) -> None:
    a = fe.analyze("I bought a {Xiaomi|SH AW1 M IY0} phone.")
    assert "ʃˈWmi" in a.sentences[0].phonemes
    assert arpabet_to_phonemes("N AY1 K IY0") == "nˈIki"
    assert arpabet_to_phonemes("T AH0 M EY1 T OW2") == "təmˈAtˌO"
    vocab = set(kokoro_vocab())
    for symbols in (ARPABET_VOWELS, ARPABET_CONSONANTS, ARPABET_UNSTRESSED):
        for arpa, kokoro in symbols.items():
            assert set(kokoro) <= vocab, (arpa, kokoro)


@pytest.mark.parametrize(("word", "reading", "error"), [
    ("银行", "yin2", "1 syllables for 2 characters"),
    ("银行", "yin hang", "not tone-numbered pinyin"),
    ("Xiaomi", "SH AW9 M IY0", "not an ARPAbet symbol: 'AW9'"),
    ("Xiaomi", "show me", "respelling after '~'"),
    ("Xiaomi", "/ʃ☃/", "symbols the engine does not know"),
    ("银行A", "yin2 hang2", "mixes Chinese"),
])
def test_bad_readings_are_refused_with_the_reason(word: str, reading: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace("'", "'")):
        check_reading(word, reading)


def test_csv_is_checked_line_by_line_and_round_trips() -> None:
    text = "word,reading,language,voice_id\n银行,yin2 xing2,zh,\nXiaomi,sh aw1 m iy0,,\n"
    entries = parse_csv(text)
    assert [(e.word, e.reading, e.language) for e in entries] == [("银行", "yin2 xing2", "zh"),
                                                                 ("Xiaomi", "SH AW1 M IY0", "en")]
    assert parse_csv(to_csv(entries)) == entries
    with pytest.raises(LexiconCsvError) as caught:
        parse_csv("word,reading\n银行,yin2\nok,~okay\nXiaomi,SHOW\n银行,yin2 hang2\n银行,yin2 xing2\n")
    assert [n for n, _ in caught.value.errors] == [2, 4, 6]


def test_voice_entries_override_tenant_entries_for_that_voice_only() -> None:
    entries = [Entry("银行", "yin2 hang2", "zh"), Entry("银行", "yin2 xing2", "zh", voice_id="v1")]
    assert Lexicon.merged(3, entries, "v1").entries[0].reading == "yin2 xing2"
    assert Lexicon.merged(3, entries, "v2").entries[0].reading == "yin2 hang2"


def test_each_change_is_a_version_and_old_versions_stay_readable(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        tenant_id = create_tenant(s, f"lex-{uuid.uuid4().hex[:8]}").id
    with sessions.begin() as s:
        assert store.current_version(s, tenant_id) == 0
        v1 = store.apply(s, tenant_id, "t", [Entry("银行", "yin2 hang2", "zh"), Entry("Nike", "N AY1 K IY0", "en")])
    with sessions.begin() as s:
        v2 = store.apply(s, tenant_id, "t", [Entry("银行", "yin2 xing2", "zh")])  # replace
        same = store.apply(s, tenant_id, "t", [Entry("银行", "yin2 xing2", "zh")])  # no change, no version
    with sessions.begin() as s:
        nike = next(r for r in store.entries_at(s, tenant_id) if r.word == "Nike")
        v3 = store.apply(s, tenant_id, "t", removals=[nike])
    assert (v1.version, v2.version, same.version, v3.version) == (1, 2, 2, 3)
    with sessions() as s:
        def at(version: int | None) -> list[tuple[str, str]]:
            return [(r.word, r.reading) for r in store.entries_at(s, tenant_id, version)]

        assert at(1) == [("Nike", "N AY1 K IY0"), ("银行", "yin2 hang2")]
        assert at(2) == [("Nike", "N AY1 K IY0"), ("银行", "yin2 xing2")]
        assert at(3) == at(None) == [("银行", "yin2 xing2")]
        assert at(0) == []
        assert store.current_version(s, tenant_id) == 3


def test_cli_text_json_honours_overrides_and_a_lexicon_file(fe: Frontend, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from worker.tts.text.cli import load_lexicon_csv, text_command

    path = tmp_path / "lexicon.csv"
    path.write_text("word,reading,language,voice_id\n银行,yin2 xing2,zh,\n", encoding="utf-8")
    assert text_command("银行和{银行|yin2 hang2}", as_json=True, frontend=fe, lexicon=load_lexicon_csv(path)) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p for _, p in data["pinyin"]] == ["yin2", "xing2", "he2", "yin2", "hang2"]
    assert data["normalized"] == "银行和银行"
    assert {o["source"] for o in data["overrides"]} == {"inline", "lexicon"}
    path.write_text("word,reading\n银行,yin2\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="line 2"):
        load_lexicon_csv(path)


def test_the_shipped_phoneme_symbols_are_the_engines_vocabulary() -> None:
    # The API checks /phonemes/ readings against a copy of the vocabulary; it must not drift.
    assert kokoro_symbols() == frozenset(kokoro_vocab()) | {" "}


def test_the_shipped_pinyin_table_says_what_misaki_says() -> None:
    # The API and the frontend convert pinyin from a table instead of misaki; the two must agree.
    table = pinyin_table()
    assert {"hang", "lü", "lv", "zhi", "er", "ng"} <= set(table)
    for syllable in table:
        for tone in TONE_MARKS:
            expected = ZHG2P.py2ipa(syllable + tone).replace(chr(815), "")
            assert syllable_to_ipa(syllable + tone) == expected, syllable + tone
    for nonsense in ("bxxa1", "qqqqa2", "xyzang1", "zhzha4"):
        with pytest.raises(ValueError):
            ZHG2P.py2ipa(nonsense)
        with pytest.raises(ValueError):
            syllable_to_ipa(nonsense)
