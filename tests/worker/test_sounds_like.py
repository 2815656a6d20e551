"""Consent phrases are matched by sound: homophones and one misheard syllable pass, other names do not."""

from __future__ import annotations

import pytest

from worker.tts.text.sounds_like import mentions, substring_distance

HEARD = "我是林小鱼,我同意星光电汽使用我的声音录音来制作合成语音,我的验证马是七七三路。"


@pytest.mark.parametrize("phrase", ["林小雨", "星光电器", "7735", "七七三五"])
def test_what_was_said_is_found_despite_homophones_and_one_slip(phrase: str) -> None:
    assert mentions(HEARD, phrase, "zh")


@pytest.mark.parametrize("phrase", ["王五", "张小雨", "华为", "2468"])
def test_another_name_or_code_is_not(phrase: str) -> None:
    assert not mentions(HEARD, phrase, "zh")


def test_english_numbers_and_words() -> None:
    heard = "My name is Ana Li. I agree that Acme may use my voice. My code is three five 7 8."
    assert mentions(heard, "Ana Li", "en") and mentions(heard, "3578", "en") and mentions(heard, "Acme", "en")
    assert not mentions(heard, "Bob Stone", "en") and not mentions(heard, "2462", "en")


def test_substring_distance() -> None:
    assert substring_distance("abc", "xxabcxx") == 0
    assert substring_distance("abc", "xxabxx") == 1
    assert substring_distance("abc", "") == 3
