"""The model CLI end to end: enroll a reference with its consent, then speak with the voice file.

Runs ``python -m worker.cli`` as a user would, with the real models, and judges the audio
with Whisper-base: the words must come back, in Chinese and (cross-lingual) in English.
Enrollment is cached under the model cache by the files' hash, so the embedded
end-to-end test and this one pay for it once between them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.tts.checks.asr import Transcriber
from worker.tts.checks.scoring import error_rate
from worker.tts.synthesis.audio import read_wav_bytes

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "reference.wav"
CONSENT = ["--consent", str(REFERENCE.with_name("consent.wav")), "--speaker", "林小雨", "--company", "星光电器"]
ZH_TEXT = "欢迎收听今天的课程，我们从第一章开始。"
EN_TEXT = "Thank you for listening, see you next week."

pytestmark = pytest.mark.slow


def narrator(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    env["NARRATOR_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-m", "worker.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def heard(transcriber: Transcriber, path: Path, language: str) -> str:
    audio, rate = read_wav_bytes(path.read_bytes())
    assert len(audio) / rate > 1.0, "hardly any audio"
    return transcriber.transcribe(audio, rate, language=language).text


def test_enroll_then_say_with_the_voice_file_round_trips_through_asr(tmp_path: Path,
                                                                    whisper: Transcriber) -> None:
    voice = tmp_path / "voice.npz"
    narrator(tmp_path, "enroll", str(REFERENCE), "-o", str(voice), *CONSENT)
    assert voice.stat().st_size > 0
    for text, language in ((ZH_TEXT, "zh"), (EN_TEXT, "en")):  # a Chinese voice speaks English too
        out = tmp_path / f"{language}.wav"
        proc = narrator(tmp_path, "say", text, "--voice", str(voice), "-o", str(out), "--check")
        hypothesis = heard(whisper, out, language)
        assert error_rate(text, hypothesis, language) <= 0.15, (text, hypothesis)
        gate = json.loads(proc.stderr.strip().splitlines()[-1])["quality"]  # --check runs the batch gate
        assert gate["transcript"] and "similarity" in gate["scores"], gate
        assert ("quality gate: passed" in proc.stdout) == gate["passed"], proc.stdout


def test_say_refuses_a_speed_the_engine_cannot_render(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "worker.cli", "say", ZH_TEXT, "--voice", "v.npz", "-o",
                           str(tmp_path / "x.wav"), "--speed", "3"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2 and "speed must be between 0.5 and 2.0" in proc.stderr


def test_say_with_a_reference_enrolls_in_memory(tmp_path: Path, whisper: Transcriber) -> None:
    out = tmp_path / "say.wav"
    narrator(tmp_path, "say", ZH_TEXT, "--reference", str(REFERENCE), "-o", str(out), *CONSENT)
    hypothesis = heard(whisper, out, "zh")
    assert error_rate(ZH_TEXT, hypothesis, "zh") <= 0.15, hypothesis


def test_say_without_consent_clones_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    proc = subprocess.run([sys.executable, "-m", "worker.cli", "say", ZH_TEXT, "--reference", str(REFERENCE),
                           "-o", str(tmp_path / "x.wav")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode != 0 and "consent" in proc.stderr.lower() and not (tmp_path / "x.wav").exists()


def test_say_speaks_in_a_stock_voice_to_stdout_as_it_renders(tmp_path: Path, whisper: Transcriber) -> None:
    """No reference, no consent, no gate unless asked: ``--voice zf_xiaoxiao -o -`` writes a
    streaming WAV to stdout, in the text's own language."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    env["NARRATOR_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-m", "worker.cli", "say", ZH_TEXT, "--voice", "zf_xiaoxiao", "-o", "-"],
                          cwd=ROOT, env=env, capture_output=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout[:4] == b"RIFF" and proc.stdout[40:44] == b"\xff\xff\xff\xff"
    assert b"quality gate: not run" in proc.stderr
    out = tmp_path / "stdout.wav"
    out.write_bytes(proc.stdout)
    assert error_rate(ZH_TEXT, heard(whisper, out, "zh"), "zh") <= 0.15


def test_say_in_an_english_stock_voice_loads_only_what_rendering_needs(tmp_path: Path) -> None:
    """A warm ``narrator say`` is mostly start-up: the database layer, Redis, S3, Whisper's scoring
    tables, the Chinese G2P, espeak (no unknown word here), scipy and torch are seconds of imports
    a stock voice reading English never uses; numba, the Snake operator's compiler, is half a second
    a text this short does not repay."""
    out = tmp_path / "en.wav"
    probe = ("import json, sys; from worker.cli import main; "
             f"main(['say', {EN_TEXT!r}, '--voice', 'af_heart', '-o', {str(out)!r}]); "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    env["NARRATOR_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=True)
    loaded = set(json.loads(proc.stdout.splitlines()[-1]))
    heavy = {"sqlalchemy", "redis", "boto3", "pypinyin", "jieba", "phonemizer", "scipy", "torch", "ctranslate2",
             "faster_whisper", "librosa", "numba"}
    assert not heavy & loaded, sorted(heavy & loaded)
    assert out.stat().st_size > 24_000 * 2  # and it did speak: over a second of audio


def test_say_refuses_an_unknown_voice_naming_the_stock_ones(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "worker.cli", "say", ZH_TEXT, "--voice", "nobody", "-o",
                           str(tmp_path / "x.wav")], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0 and "zf_xiaoxiao" in proc.stderr and not (tmp_path / "x.wav").exists()


def test_the_reference_language_is_heard_not_assumed(models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``say --reference`` without ``--language`` enrolls in the language Whisper hears: an
    English recording is no longer taken for Chinese (rendered here with stock voices)."""
    import io

    import soundfile as sf

    from worker.cli.say import spoken_language

    for text, pack, language in ((EN_TEXT, "af_heart", "en"), (ZH_TEXT, "zf_xiaoxiao", "zh")):
        rendered = models.synthesizer.render(text, models.stock_voice(pack, gated=False))
        buf = io.BytesIO()
        sf.write(buf, rendered.audio, rendered.sample_rate, format="WAV")
        path = tmp_path / f"{pack}.wav"
        path.write_bytes(buf.getvalue())
        assert spoken_language(models, path) == language
