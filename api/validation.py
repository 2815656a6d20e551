"""What every request must be before any view reads it, and the audio-upload check.

Fields of a request are declared and checked in :mod:`api.schema`; here is what holds for
all requests alike: no JSON nested past :data:`MAX_JSON_DEPTH`, no text PostgreSQL cannot
store (NUL, lone surrogates) in a body, form, path or query."""

from __future__ import annotations

import io
from typing import Any

import soundfile
from flask import Flask, Request, request
from werkzeug.exceptions import BadRequest

from shared import compressed_audio
from shared.audio_limits import AudioLimits
from shared.audio_types import DECODABLE, container_format
from shared.errors import InvalidInput, UnsupportedMediaType

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


def audio_upload(data: bytes, limits: AudioLimits, field: str = "reference") -> float:
    """Check the bytes are audio within ``limits`` from their header alone (nothing is decoded
    or stored yet); returns the duration. A refusal names the limit (``limit``, ``maximum``)."""
    if not data:
        raise InvalidInput(f"the {field} file is empty", field=field)
    rate, channels, frames = _audio_header(data, limits, field)
    if frames <= 0 or rate <= 0:
        raise InvalidInput(f"the {field} file has no audio frames", field=field)
    broken = limits.violation(rate, channels, frames)
    if broken is not None:
        limit, reason = broken
        maximum = {"sample_rate": [limits.min_sample_rate, limits.max_sample_rate],
                   "channels": limits.max_channels, "duration": limits.max_seconds}[limit]
        raise InvalidInput(reason, field=field, limit=limit, allowed=maximum)
    return float(frames / rate)


def _audio_header(data: bytes, limits: AudioLimits, field: str) -> tuple[int, int, int]:
    """(sample rate, channels, frames) as the file's header states them: libsndfile's formats,
    else a phone's M4A or a browser's WebM (``shared.compressed_audio``)."""
    refused = f"the {field} file is not audio narrator can decode (use {DECODABLE})"
    if container_format(data) is None:
        try:
            info = soundfile.info(io.BytesIO(data))
        except Exception as exc:
            raise UnsupportedMediaType(refused, field=field) from exc
        return info.samplerate, info.channels, info.frames
    try:
        found = compressed_audio.probe(data, limits.max_seconds)
    except compressed_audio.ContainerError as exc:
        raise UnsupportedMediaType(refused, field=field) from exc
    return found.sample_rate, found.channels, round(found.seconds * found.sample_rate)
