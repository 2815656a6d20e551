"""Plain helpers the test modules share (fixtures live in tests/conftest.py)."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Callable
from typing import Any

import numpy as np
import requests


def wait_until(fn: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``fn`` until it returns something other than None, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = fn()
        if result is not None:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wav_bytes(seconds: float = 1.0) -> bytes:
    """A 24 kHz mono 16-bit tone: valid audio that is not speech."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes((np.sin(np.arange(int(24000 * seconds)) * 0.05) * 8000).astype("<i2").tobytes())
    return buf.getvalue()


def assert_problem(response, status: int, *words: str, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """A Flask test-client response that is an application/problem+json error with this status,
    a human reason containing every one of ``words`` and, when given, this ``code``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["detail"], body
    for word in words:
        assert word in body["detail"], body["detail"]
    assert code is None or body["code"] == code, body
    return body


def admin_key(sessions, tenant_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A new admin key of an existing tenant: (key id, secret)."""
    from shared.models import Tenant
    from shared.tenants import create_key

    with sessions.begin() as s:
        key, secret = create_key(s, s.get(Tenant, tenant_id), "admin")
        return key.id, secret


def render_batch(api_url: str, auth: dict[str, str], voice_id: str, texts: list[str],
                 timeout: float = 600) -> list[dict]:
    """Submit a batch of ``texts`` through the API and wait until it settles; returns its
    items as ``GET /v1/batches/{id}/items`` lists them."""
    r = requests.post(f"{api_url}/v1/batches", headers=auth, timeout=30,
                      json={"voice_id": voice_id, "items": [{"text": t} for t in texts]})
    assert r.status_code == 202, r.text
    batch_url = f"{api_url}/v1/batches/{r.json()['id']}"
    wait_until(lambda: requests.get(batch_url, headers=auth, timeout=10).json()["finished_at"], timeout,
               "the batch to finish")
    return requests.get(f"{batch_url}/items", headers=auth, timeout=10).json()["items"]


def assert_engines_sound_the_same(new: Any, old: Any, style: np.ndarray, texts: tuple[str, ...]) -> None:
    """Two engines (a rewritten graph and its source) render ``texts`` the same length to the
    sample, with log-mel spectra within 2 dB where there is sound: nudging a style by 10⁻⁵
    alone moves them 1.4 dB, which is how close int8 kernels let two graphs come."""
    import librosa

    from worker.tts.text.frontend import Frontend

    def log_mel(audio: np.ndarray) -> np.ndarray:
        mel = librosa.feature.melspectrogram(y=audio, sr=24_000, n_fft=1024, hop_length=240, n_mels=80)
        return 10 * np.log10(mel + 1e-8)

    frontend = Frontend()
    for text in texts:
        (sentence,) = frontend.analyze(text).sentences
        a, b = new.synthesize(sentence.phonemes, style), old.synthesize(sentence.phonemes, style)
        assert len(a) == len(b), text
        x, y = log_mel(a), log_mel(b)
        loud = y > y.max() - 60
        assert float(np.abs(x - y)[loud].mean()) < 2.0, text
