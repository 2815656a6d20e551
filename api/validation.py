"""Request validation helpers: each names the field it rejects and why."""

from __future__ import annotations

import io
from typing import Any

from flask import request

from shared.errors import InvalidInput, UnsupportedMediaType

LANGUAGES = ("zh", "en")


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body with 'Content-Type: application/json'")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def string(value: Any, field: str, *, max_len: int, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"'{field}' is required", field=field)
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a string", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"'{field}' must not be blank", field=field)
    if len(value) > max_len:
        raise InvalidInput(f"'{field}' is longer than {max_len} characters", field=field)
    return value


def language(value: Any) -> str:
    lang = string(value, "language", max_len=8)
    if lang not in LANGUAGES:
        raise InvalidInput(f"'language' must be one of {', '.join(LANGUAGES)}", field="language")
    return lang


def number(value: Any, field: str, *, low: float, high: float, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"'{field}' must be a number", field=field)
    if not low <= float(value) <= high:
        raise InvalidInput(f"'{field}' must be between {low} and {high}", field=field)
    return float(value)


def audio_upload(data: bytes, field: str = "reference") -> float:
    """Check the bytes decode as audio (before anything is stored); returns the duration."""
    import soundfile

    if not data:
        raise InvalidInput(f"the {field} file is empty", field=field)
    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception as exc:
        raise UnsupportedMediaType(
            f"the {field} file is not audio narrator can decode (use WAV, FLAC, OGG or MP3)", field=field
        ) from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise InvalidInput(f"the {field} file has no audio frames", field=field)
    return info.frames / info.samplerate
