"""Request validation helpers: each names the field it rejects and why."""

from __future__ import annotations

import io
from typing import Any

import soundfile
from flask import Flask, Request, request
from werkzeug.exceptions import BadRequest

from shared.audio_limits import AudioLimits
from shared.consent import base_language, machine_checkable, valid_language_tag
from shared.errors import InvalidInput, UnsupportedMediaType

LANGUAGES = ("zh", "en")
# No request of this API nests deeper than a few levels; past this a body is refused before
# any view, hash or serializer walks it (Python's parser itself gives up near 1 000 levels,
# with a RecursionError that would otherwise be a server error).
MAX_JSON_DEPTH = 32
TOO_DEEP = f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep"
UNSTORABLE = ("the request holds a NUL character or a lone UTF-16 surrogate (text that is not Unicode "
              "characters); send UTF-8 text")


class CheckedRequest(Request):
    """The app's request class: a JSON body nested too deeply, or a JSON body or form field
    holding text no database column can store, is a 400 wherever it is first read (the
    idempotency hash reads JSON before the view does; forms are parsed only when a view,
    after authentication, asks for them)."""

    def _load_form_data(self) -> None:
        parsed = "form" in self.__dict__
        super()._load_form_data()
        if not parsed and not all(map(storable, [*self.form.keys(), *self.form.values()])):
            raise BadRequest(UNSTORABLE)

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any | None:
        try:
            body = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise BadRequest(TOO_DEEP) from None
        check_json(body)
        return body


def init_app(app: Flask) -> None:
    """Every request is read through :class:`CheckedRequest`, and its path and query are
    checked for text PostgreSQL cannot store before any view runs."""
    app.request_class = CheckedRequest

    @app.before_request
    def _storable_text() -> None:
        if not all(map(storable, [request.path, *request.args.keys(), *request.args.values()])):
            raise BadRequest(UNSTORABLE)


def storable(text: str | None) -> bool:
    """Whether a text column can hold ``text``: PostgreSQL refuses NUL, and a lone surrogate
    (JSON's ``"\\ud800"``) has no UTF-8 form; either reached the database as a server error.
    (A multipart part without a name has None for one.)"""
    if text is None:
        return True
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_json(value: Any) -> None:
    """Raise a 400 for a parsed JSON value nested past :data:`MAX_JSON_DEPTH` or holding
    unstorable text (in a value or a key); walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if not storable(node):
                raise BadRequest(UNSTORABLE)
            continue
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(TOO_DEEP)
        stack.extend((child, depth + 1) for child in children)


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


def consent_language(value: Any) -> str:
    """Any language tag (``ja``, ``yue``, ``fr-CA``): zh and en are verified by speech
    recognition, the others wait for an admin to listen."""
    lang = string(value, "language", max_len=8)
    if not valid_language_tag(lang):  # type: ignore[arg-type]
        raise InvalidInput("'language' must be a language tag such as zh, en, ja or fr-CA", field="language")
    return base_language(lang) if machine_checkable(lang) else lang  # type: ignore[arg-type,return-value]


def flag(value: str | None, field: str, *, default: bool) -> bool:
    """A query-string boolean: true/false (1/0 accepted)."""
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidInput(f"'{field}' must be true or false", field=field)


def boolean(value: Any, field: str, *, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"'{field}' must be true or false", field=field)
    return value


def number(value: Any, field: str, *, low: float, high: float, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"'{field}' must be a number", field=field)
    if not low <= float(value) <= high:
        raise InvalidInput(f"'{field}' must be between {low} and {high}", field=field)
    return float(value)


# Cursors are row offsets or sequence numbers; past this no row exists, and the database's
# integers would overflow (a server error) on the way to finding that out.
CURSOR_MAX = 2**31 - 1


def paging(default: int, maximum: int) -> tuple[int, int]:
    """``cursor`` and ``limit`` from the query string, both range-checked."""
    try:
        cursor = int(request.args.get("cursor", "0"))
        limit = int(request.args.get("limit", str(default)))
    except ValueError as exc:
        raise InvalidInput("'cursor' and 'limit' must be integers") from exc
    if not 0 <= cursor <= CURSOR_MAX or not 1 <= limit <= maximum:
        raise InvalidInput(f"'cursor' must be between 0 and {CURSOR_MAX} and 'limit' between 1 and {maximum}")
    return cursor, limit


def audio_upload(data: bytes, limits: AudioLimits, field: str = "reference") -> float:
    """Check the bytes are audio within ``limits`` from their header alone (nothing is decoded
    or stored yet); returns the duration. A refusal names the limit (``limit``, ``maximum``)."""
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
    broken = limits.violation(info.samplerate, info.channels, info.frames)
    if broken is not None:
        limit, reason = broken
        maximum = {"sample_rate": [limits.min_sample_rate, limits.max_sample_rate],
                   "channels": limits.max_channels, "duration": limits.max_seconds}[limit]
        raise InvalidInput(reason, field=field, limit=limit, allowed=maximum)
    return float(info.frames / info.samplerate)
