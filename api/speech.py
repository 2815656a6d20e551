"""Speech as it is made: ``POST /v1/audio/speech``, shaped like OpenAI's audio speech API so
its clients work unchanged, answering chunked audio while the text is still rendering.

The API does not render. It records a one-item batch (the stream is metered, watermarked
and audited like any item), sends the item to the ``interactive`` queue
(``send_stream``), and relays what the worker publishes on the stream's channel
(``shared.speech_channel``). Embedded, the same task runs on a thread of this process.

Everything that can be refused is refused before the first byte, as problem+json: the
body, the voice (a stock voice by name needs no consent; a cloned voice needs its consent
in force), the tenant's preview slots, and the worker's first message (an error, or
nothing within ``preview_timeout_seconds``). Once audio has gone out the status is sent,
so a failure mid-stream ends the stream early and is logged.

A stream holds one API thread until it ends, never a process (gunicorn ``gthread``
workers, see deploy/k8s/base/api.yaml), and counts against the same bounds as a
preview: ``preview_max_concurrent`` per tenant and ``preview_max_waiting`` per process,
fewer than its threads, so health checks always find one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from flask import Blueprint, Response, g, stream_with_context
from flask.typing import ResponseReturnValue

from api import preview_slots
from api.auth import require
from api.context import ApiContext, ctx
from api.schema import Body, Choice, Field, Number, Text, operation
from api.synthesize import RenderFailed, _waiting_thread
from api.voices import usable_voice
from shared import dispatch, stock_voices
from shared.audio_formats import CONTENT_TYPES, FORMATS, Encoder
from shared.consent import ConsentRequired, in_force
from shared.errors import NotFound, ServiceUnavailable, VoiceNotReady
from shared.models import Consent, Item, VoiceStatus, VoiceVersion
from shared.services import create_batch
from shared.speech_channel import ChannelTimeout, Message

log = logging.getLogger(__name__)
bp = Blueprint("speech", __name__, url_prefix="/v1")
# OpenAI's model names are accepted too, so a client written for them needs no change.
MODELS = ("narrator-1", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MAX_INPUT_CHARS = 4096  # OpenAI's limit for one request
PREVIEW_TEXTS = {"zh": "你好，欢迎使用这个声音。今天天气很好，我们一起去公园散步吧。",
                 "en": "Hello, and welcome to this voice. The weather is lovely today, so let's take a walk."}


SPEECH_REQUEST = Body({
    "model": Choice(values=MODELS, default="narrator-1", description="OpenAI's model names are accepted too"),
    "input": Field({"type": "string", "maxLength": MAX_INPUT_CHARS},
                   description="the text; at most the deployment's max_text_chars"),
    "voice": Text(max_len=36, required=True, description="a stock voice's name or one of the tenant's voice ids"),
    "response_format": Choice(values=FORMATS, default="mp3"),
    "stream_format": Choice(values=("audio",), default="audio"),
    "speed": Number(low=0.5, high=2.0, default=1.0),
}, name="SpeechRequest", required=("input", "voice"))
AUDIO = {content_type: {} for content_type in CONTENT_TYPES.values()}


@operation(
    "Speech as it is rendered, shaped like OpenAI's audio speech API: chunked audio in response_format",
    {200: ("the audio, streamed while it renders", AUDIO)},
    errors=(401, 403, 404, 409, 415, 422, 503),
    body=SPEECH_REQUEST,
)
@bp.post("/audio/speech")
@require("write")
def speech() -> ResponseReturnValue:
    c = ctx()
    body = SPEECH_REQUEST.read()
    text = Text(max_len=min(MAX_INPUT_CHARS, c.settings.max_text_chars), required=True).parse(body.get("input"),
                                                                                               "input")
    return stream_speech(c, text or "", body["voice"] or "", body["response_format"], body["speed"])


@operation("A stock voice reading a fixed sentence in its language, as a streamed WAV",
           {200: ("WAV audio, streamed", {"audio/wav": {}})}, errors=(401, 403, 404, 409, 503))
@bp.get("/voices/stock/<name>/preview")
@require("write")  # a render, metered like any
def stock_preview(name: str) -> ResponseReturnValue:
    """A stock voice reading a fixed sentence in its language, as a streamed WAV."""
    c = ctx()
    stock = stock_voices.find(c.settings.model_cache, name)
    if stock is None:
        raise NotFound(f"no stock voice {name!r}")
    return stream_speech(c, PREVIEW_TEXTS[stock.language], name, "wav", 1.0)


def stream_speech(c: ApiContext, text: str, voice_ref: str, fmt: str, speed: float) -> Response:
    """Open the stream, wait for its first message, and answer with a relay of the rest."""
    held = ExitStack()
    try:
        held.enter_context(preview_slots.held(c.previews, g.tenant_id))
        held.enter_context(_waiting_thread(c.waiting))
        item_id = _record(c, text, voice_ref, speed, fmt)
        send_stream(c, item_id)
        messages = c.channels.read(item_id, c.settings.preview_timeout_seconds)
        try:
            first = next(messages)
        except ChannelTimeout:
            raise ServiceUnavailable("no worker started the speech stream in time; try again later") from None
        if first.kind == "error":
            reason = first.data.decode()
            if reason.startswith("consent_revoked"):
                raise ConsentRequired(reason)
            raise RenderFailed(reason)
    except BaseException:
        held.close()
        raise
    encoder = Encoder(fmt)
    response = Response(stream_with_context(_relay(item_id, first, messages, encoder)),
                        mimetype=encoder.content_type, headers={"X-Item-Id": item_id})
    response.call_on_close(held.close)  # the thread's and the tenant's slots, when the stream ends
    return response


def _record(c: ApiContext, text: str, voice_ref: str, speed: float, fmt: str) -> str:
    """The stream's item, in a one-item batch; refuses a voice that may not be used now."""
    with c.sessions.begin() as s:
        voice = usable_voice(s, voice_ref)
        if voice.status != VoiceStatus.ready.value or voice.current_version_id is None:
            raise VoiceNotReady(f"voice {voice_ref!r} is {voice.status}, not ready", field="voice")
        version = s.get(VoiceVersion, voice.current_version_id)
        stock = version is not None and stock_voices.pack_of(version.state_key) is not None
        if not stock and not in_force(s.get(Consent, voice.consent_id) if voice.consent_id else None):
            raise ConsentRequired(f"voice {voice_ref!r} has no consent in force", field="voice")
        params: dict[str, Any] = {"speed": speed, "stream": True, "response_format": fmt}
        batch_id = create_batch(s, g.tenant_id, [{"text": text, "voice_id": voice.id}], "speech", params,
                                f"key:{g.key_prefix}")
        return s.query(Item.id).filter(Item.batch_id == batch_id).scalar()  # type: ignore[no-any-return]


def send_stream(c: ApiContext, item_id: str) -> None:
    """Hand the stream's render to a worker: the ``interactive`` queue, or, embedded, a
    thread of this process running the same task (the relay reads while it renders)."""
    c.queue.start(dispatch.STREAM_SPEECH, item_id, queue=dispatch.INTERACTIVE)


def _relay(item_id: str, first: Message, rest: Iterator[Message], encoder: Encoder) -> Iterator[bytes]:
    yield encoder.start()
    message: Message | None = first
    try:
        while message is not None:
            if message.kind == "audio":
                out = encoder.chunk(message.data)
                if out:
                    yield out
            elif message.kind == "end":
                tail = encoder.finish()
                if tail:
                    yield tail
                return
            else:
                log.error("speech stream %s failed mid-stream: %s", item_id, message.data.decode(),
                          extra={"item_id": item_id})
                return
            message = next(rest, None)
        log.error("speech stream %s ended without its end message", item_id, extra={"item_id": item_id})
    except ChannelTimeout as exc:
        log.error("speech stream %s stopped mid-stream: %s", item_id, exc, extra={"item_id": item_id})
