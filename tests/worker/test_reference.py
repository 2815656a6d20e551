"""Reference-audio QA: pins the decisions on clean and synthetically degraded Kokoro voices.

Clean clips are rendered once with Kokoro and cached under ~/.cache/narrator/test-audio
(NARRATOR_TEST_AUDIO_CACHE overrides), so only the first run pays for synthesis.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from shared.audio_limits import AudioLimits
from shared.audio_types import SAMPLE_RATE
from tests.support import degrade as d
from worker.tts.checks.decode import decode_audio
from worker.tts.checks.reference import CleanedReference, analyze_reference, clean_reference
from worker.tts.checks.reference_report import QAReport, ReferenceRejected

MATRIX_VOICES = d.KOKORO_VOICES


@pytest.fixture(scope="module")
def encoder() -> object:
    """resemblyzer's VoiceEncoder (bundled weights); the speaker tests need it."""
    resemblyzer = pytest.importorskip("resemblyzer")
    import torch

    # One intra-op thread: on a small shared CPU, torch's thread pool oversubscribes and a
    # 3 s embedding goes from ~0.06 s to several seconds.
    torch.set_num_threads(1)
    return resemblyzer.VoiceEncoder("cpu", verbose=False)


@pytest.fixture(scope="module")
def clean() -> dict[str, np.ndarray]:
    """One ~11 s clean paragraph per Kokoro voice, with lead-in/out and a faint room tone."""
    rng = np.random.default_rng(1234)
    return {v: d.with_room_tone(d.clean_voice(v, 1), rng) for v in MATRIX_VOICES}


def _analyze(audio: np.ndarray, **kw: object) -> QAReport:
    return analyze_reference(d.to_wav_bytes(audio), **kw).report


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("payload", [b"", b"definitely not audio " * 200, b"RIFF\x00\x00\x00\x00WAVEjunk"])
def test_non_audio_bytes_are_undecodable(payload: bytes) -> None:
    with pytest.raises(ReferenceRejected) as info:
        analyze_reference(payload)
    assert info.value.codes == ["undecodable"]
    assert str(info.value).startswith("The reference audio was rejected")


def test_decodes_flac_and_stereo(clean: dict[str, np.ndarray]) -> None:
    stereo = np.stack([clean["jf_alpha"], clean["jf_alpha"] * 0.5], axis=1)
    audio, sr = decode_audio(d.to_wav_bytes(stereo, 44100, fmt="FLAC"))
    assert sr == 44100 and audio.shape == stereo.shape and audio.dtype == np.float32


def test_decodes_mp3(clean: dict[str, np.ndarray]) -> None:
    import soundfile

    if "MP3" not in soundfile.available_formats():
        pytest.skip("libsndfile built without MP3")
    audio, sr = decode_audio(d.to_wav_bytes(clean["jf_alpha"], subtype="MPEG_LAYER_III", fmt="MP3"))
    assert sr == SAMPLE_RATE and audio.shape[1] == 1 and abs(audio.shape[0] - len(clean["jf_alpha"])) < sr


@pytest.mark.parametrize(("fmt", "codec", "rate", "channels"), [
    ("ipod", "aac", 48000, 1),  # a phone's voice memo
    ("ipod", "alac", 44100, 2),  # lossless, integer samples
    ("webm", "libopus", 48000, 1),  # a browser's MediaRecorder
])
def test_decodes_a_phone_m4a_and_a_browser_webm(clean: dict[str, np.ndarray], fmt: str, codec: str, rate: int,
                                               channels: int) -> None:
    import soxr

    voice = soxr.resample(clean["jf_alpha"], SAMPLE_RATE, rate)
    source = np.stack([voice] * channels, axis=1)
    audio, sr = decode_audio(d.to_container_bytes(source, rate, fmt=fmt, codec=codec))
    assert sr == rate and audio.shape[1] == channels and audio.dtype == np.float32
    assert abs(len(audio) - len(source)) < 0.05 * rate  # the codec's priming and padding at most
    probe, slack = source[2 * rate : 3 * rate, 0], 4096  # one second of speech; the codec's delay is under slack
    lag = int(np.argmax(np.correlate(audio[2 * rate : 3 * rate + slack, 0], probe, "valid")))
    heard = audio[lag : lag + len(source), 0]
    assert np.corrcoef(heard, source[: len(heard), 0])[0, 1] > 0.95


def test_a_container_past_the_limit_is_decoded_only_to_it(clean: dict[str, np.ndarray]) -> None:
    data = d.to_container_bytes(clean["jf_alpha"], fmt="ipod", codec="aac")
    audio, sr = decode_audio(data, AudioLimits("reference", 2.0))
    assert sr == SAMPLE_RATE and len(audio) == 2 * SAMPLE_RATE


def test_a_playlist_is_never_handed_to_ffmpeg() -> None:
    """An HLS playlist would make FFmpeg open the files it names; an upload only ever reaches the
    demuxer its magic bytes name, and a playlist has none."""
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    with pytest.raises(ReferenceRejected) as info:
        decode_audio(playlist)
    assert info.value.codes == ["undecodable"]


def test_rejection_survives_pickling() -> None:
    import pickle

    with pytest.raises(ReferenceRejected) as info:
        analyze_reference(b"not audio at all")
    again = pickle.loads(pickle.dumps(info.value))
    assert again.codes == ["undecodable"] and str(again) == str(info.value)


# --------------------------------------------------------------------------- single behaviours


def test_clean_twenty_seconds_is_accepted(encoder: object) -> None:
    rng = np.random.default_rng(0)
    audio = d.with_room_tone(d.clean_voice("jf_alpha", 2), rng)
    assert len(audio) / SAMPLE_RATE > 20
    result = clean_reference(d.to_wav_bytes(audio, 48000), speaker_encoder=encoder)
    assert isinstance(result, CleanedReference)
    assert result.report.decision == "accept", result.report.to_dict()
    assert result.audio.dtype == np.float32 and result.audio.ndim == 1
    assert len(result.audio) < len(audio)  # lead-in/out silence trimmed
    import pyloudnorm

    lufs = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(result.audio.astype(np.float64))
    assert abs(lufs - -23.0) < 1.0
    assert json.loads(json.dumps(result.report.to_dict()))["decision"] == "accept"


def test_three_seconds_is_too_short(clean: dict[str, np.ndarray]) -> None:
    report = _analyze(d.truncate(clean["jf_nezumi"], 3.0))
    assert report.decision == "reject" and "too_short" in report.codes
    with pytest.raises(ReferenceRejected) as info:
        clean_reference(d.to_wav_bytes(d.truncate(clean["jf_nezumi"], 3.0)))
    assert "too_short" in info.value.codes and "speech" in str(info.value)
    import pickle

    again = pickle.loads(pickle.dumps(info.value))  # the enrollment job stores the report with its scores
    assert again.report == info.value.report and again.report.scores["speech_seconds"] < 5.0


def test_silence_is_rejected_as_silent() -> None:
    report = _analyze(np.zeros(10 * SAMPLE_RATE, np.float32))
    assert report.decision == "reject" and report.codes == ["silent"]


def test_too_long_is_rejected(clean: dict[str, np.ndarray]) -> None:
    report = _analyze(clean["jf_alpha"], limits=AudioLimits("reference", 5.0))
    assert report.decision == "reject" and "too_long" in report.codes


def test_white_noise_at_0db_is_low_snr_reject(clean: dict[str, np.ndarray]) -> None:
    report = _analyze(d.add_noise(clean["jf_alpha"], 0.0, np.random.default_rng(0)))
    assert report.decision == "reject" and "low_snr" in report.codes


def test_strong_reverb_is_reverberant(clean: dict[str, np.ndarray]) -> None:
    report = _analyze(d.add_reverb(clean["jm_kumo"], 1.2, np.random.default_rng(0)))
    assert report.decision != "accept" and "reverberant" in report.codes
    assert "music" not in report.codes  # reverb tails must not read as held notes


def test_music_bed_is_detected(clean: dict[str, np.ndarray]) -> None:
    report = _analyze(d.add_music(clean["jf_gongitsune"], -15.0, np.random.default_rng(0)))
    assert report.decision == "reject" and "music" in report.codes


def test_heavy_clipping_is_rejected(clean: dict[str, np.ndarray]) -> None:
    report = _analyze(d.hard_clip(clean["jf_tebukuro"], 12.0))
    assert report.decision == "reject" and "clipping" in report.codes


def test_two_speakers_are_detected(clean: dict[str, np.ndarray], encoder: object) -> None:
    audio = d.append_speaker(clean["jf_alpha"], clean["jm_kumo"], fraction=0.6)
    report = _analyze(audio, speaker_encoder=encoder)
    assert report.decision != "accept" and "multiple_speakers" in report.codes, report.to_dict()


def test_speech_in_another_language_than_declared_is_rejected(clean: dict[str, np.ndarray],
                                                               whisper: object) -> None:
    """The Kokoro voices here speak Japanese: declared Chinese, the upload is refused and says what was heard."""
    report = _analyze(clean["jf_alpha"], language="zh", language_id=whisper)
    assert report.decision == "reject" and report.codes == ["wrong_language"], report.to_dict()
    assert "'ja'" in report.findings[0].message and report.scores["language_probability"] < 0.1


def test_speech_in_the_declared_language_passes_the_language_check(clean: dict[str, np.ndarray],
                                                                  whisper: object) -> None:
    report = _analyze(clean["jm_kumo"], language="ja-JP", language_id=whisper)
    assert "wrong_language" not in report.codes and report.scores["language_probability"] > 0.9


def test_language_is_not_judged_without_an_identifier(clean: dict[str, np.ndarray]) -> None:
    report = _analyze(clean["jf_alpha"], language="zh")
    assert "wrong_language" not in report.codes and "language_probability" not in report.scores


# --------------------------------------------------------------------------- matrix

Degrader = Callable[[np.ndarray, str, np.random.Generator, dict[str, np.ndarray]], np.ndarray]

# (name, expected finding code, degradation); strengths are clearly harmful ones.
BAD_CASES: list[tuple[str, str, Degrader]] = [
    ("white_0db", "low_snr", lambda a, v, r, c: d.add_noise(a, 0.0, r)),
    ("pink_10db", "low_snr", lambda a, v, r, c: d.add_noise(a, 10.0, r, kind="pink")),
    ("babble_10db", "low_snr", lambda a, v, r, c: d.add_noise(a, 10.0, r, kind="babble")),
    ("reverb_0.9s", "reverberant", lambda a, v, r, c: d.add_reverb(a, 0.9, r)),
    ("room_1.2s", "reverberant", lambda a, v, r, c: d.add_reverb(a, 1.2, r, kind="room")),
    ("music_-20db", "music", lambda a, v, r, c: d.add_music(a, -20.0, r)),
    ("clip_+8db", "clipping", lambda a, v, r, c: d.hard_clip(a, 8.0)),
    ("short_3s", "too_short", lambda a, v, r, c: d.truncate(a, 3.5)),
    ("second_speaker", "multiple_speakers",
     lambda a, v, r, c: d.append_speaker(a, c[_other_voice(v)], fraction=0.5)),
    ("declared_chinese", "wrong_language", lambda a, v, r, c: a),  # the voices speak Japanese
]


def _other_voice(voice: str) -> str:
    voices = list(MATRIX_VOICES)
    return voices[(voices.index(voice) + 2) % len(voices)]


def test_matrix_flags_bad_and_keeps_clean(clean: dict[str, np.ndarray], encoder: object,
                                          whisper: object) -> None:
    rng = np.random.default_rng(7)
    flagged, bad_total, misses = 0, 0, []
    checks: dict[str, dict[str, object]] = {"multiple_speakers": {"speaker_encoder": encoder},
                                            "wrong_language": {"language": "zh", "language_id": whisper}}
    for voice, audio in clean.items():
        for name, code, degrade in BAD_CASES:
            report = _analyze(degrade(audio, voice, rng, clean), **checks.get(code, {}))
            bad_total += 1
            if report.decision != "accept" and code in report.codes:
                flagged += 1
            else:
                misses.append((voice, name, report.decision, report.codes))
    clean_reports = [_analyze(a, speaker_encoder=encoder, language="ja", language_id=whisper)
                     for a in clean.values()]
    clean_reports += [_analyze(d.add_noise(a, 35.0, rng, kind="pink")) for a in clean.values()]
    clean_reports += [_analyze(d.add_reverb(a, 0.25, rng)) for a in clean.values()]
    false_rejects = [r.to_dict() for r in clean_reports if r.decision == "reject"]
    assert flagged / bad_total >= 0.95, misses
    assert len(false_rejects) / len(clean_reports) <= 0.05, false_rejects
