"""No voice is cloned without the speaker's verified consent, end to end through the worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import requests

from worker.tts.synthesis import assets
from worker.tts.synthesis.audio import to_wav_bytes
from worker.tts.synthesis.voice import VoiceState

pytestmark = pytest.mark.slow
REFERENCE = Path(__file__).resolve().parents[1] / "examples" / "reference.wav"


def post_voice(api_url: str, headers: dict[str, str], consent_id: str | None, reference: bytes) -> requests.Response:
    data = {"name": "v", "language": "zh", **({"consent_id": consent_id} if consent_id else {})}
    return requests.post(f"{api_url}/v1/voices", headers=headers, data=data, timeout=30,
                         files={"reference": ("r.wav", reference, "audio/wav")})


def test_a_recording_of_other_words_is_rejected_and_cannot_clone(api_url, auth, give_consent,  # type: ignore[no-untyped-def]
                                                                  example_speaker) -> None:
    consent = give_consent(auth, example_speaker("今天天气很好，我们去公园散步吧。"))  # not the statement
    assert consent["status"] == "rejected"
    assert "does not say the consent statement" in consent["verification"]["reason"]
    r = post_voice(api_url, auth, consent["id"], REFERENCE.read_bytes())
    assert r.status_code == 409 and r.json()["code"] == "consent_required", r.text


def test_a_reference_in_another_voice_than_the_consent_fails_enrollment(  # type: ignore[no-untyped-def]
        api_url, auth, give_consent, await_voice, example_speaker, models) -> None:
    for _ in range(3):  # the example speaker reads the real statement (again, if a digit was misheard)
        consent = give_consent(auth, example_speaker)
        if consent["status"] == "verified":
            break
    assert consent["status"] == "verified", consent
    other = VoiceState(style=assets.load_voice_pack(models.cache_dir, "zm_yunjian"), embedding=np.zeros(256),
                       language="zh", method="stock", engine_version=models.engine.version)
    text = "大家好，欢迎来到我们的直播间。今天给大家带来几款新品，每一款都经过精心挑选。价格实惠，质量可靠，欢迎选购。"
    rendered = models.synthesizer.render(text, other)
    r = post_voice(api_url, auth, consent["id"], to_wav_bytes(rendered.audio, rendered.sample_rate))
    assert r.status_code == 202, r.text
    voice = await_voice(auth, r.json()["id"])
    assert voice["status"] == "failed" and voice["error"].startswith("consent_mismatch"), voice
