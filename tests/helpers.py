"""Plain helpers the test modules share (fixtures live in tests/conftest.py)."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Callable
from typing import Any

import numpy as np


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
