"""Idempotency-Key on POST: the same key with the same request replays the first response;
the same key with a different request is a 409. Clients can retry a timed-out POST safely."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, jsonify, make_response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from api.context import ctx
from shared.errors import Conflict, InvalidInput
from shared.models import IdempotencyRecord, Item

F = TypeVar("F", bound=Callable[..., Any])
HEADER = "Idempotency-Key"
KEPT_HEADERS = ("Location", "X-Item-Id", "X-Batch-Id", "X-Duration-Seconds")


def request_fingerprint() -> str:
    """What makes two requests "the same": path and content, not transport details such as
    a multipart boundary (which clients pick at random on every try)."""
    h = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if request.is_json:
        h.update(json.dumps(request.get_json(silent=True), sort_keys=True, ensure_ascii=False).encode())
    elif request.files or request.form:
        # a part whose name does not parse has the name None: order by text, never compare None
        h.update(json.dumps(sorted(request.form.items(multi=True), key=lambda kv: (str(kv[0]), kv[1]))).encode())
        for name, upload in sorted(request.files.items(multi=True), key=lambda kv: str(kv[0])):
            h.update(f"\n{name}:{upload.filename}:".encode() + hashlib.sha256(upload.read()).digest())
            upload.seek(0)
    else:
        h.update(request.get_data(cache=True))
    return h.hexdigest()


def _forget(key: str) -> None:
    with ctx().sessions.begin() as s:
        s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.tenant_id == g.tenant_id,
                                                  IdempotencyRecord.key == key))


def _remember(key: str, response: Response) -> None:
    if response.mimetype == "audio/wav":
        stored: dict[str, Any] = {"kind": "item_audio", "item_id": response.headers["X-Item-Id"]}
    else:
        stored = {"kind": "json", "body": response.get_json(silent=True)}
    stored["headers"] = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    with ctx().sessions.begin() as s:
        record = s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.tenant_id == g.tenant_id,
                                                          IdempotencyRecord.key == key))
        if record is not None:
            record.status_code, record.response = response.status_code, stored


def _replay(key: str, fingerprint: str) -> Response:
    c = ctx()
    with c.sessions() as s:
        record = s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.tenant_id == g.tenant_id,
                                                          IdempotencyRecord.key == key))
        if record is None:  # the first request failed and let go of the key meanwhile
            raise Conflict("a request with this Idempotency-Key just failed; retry it")
        if record.request_hash != fingerprint:
            raise Conflict("this Idempotency-Key was already used with a different request")
        if record.status_code is None or record.response is None:
            raise Conflict("a request with this Idempotency-Key is still being processed; retry later")
        stored, status = record.response, record.status_code
        if stored["kind"] == "item_audio":
            item = s.get(Item, stored["item_id"])
            if item is None or item.storage_key is None:
                raise Conflict("the response of the first request is no longer available")
            response = Response(c.storage.get(item.storage_key), mimetype="audio/wav")
        else:
            response = jsonify(stored["body"])
    response.status_code = status
    response.headers.update(stored["headers"])
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: F) -> F:
    """Wrap a POST view that already authenticated the caller (keys are per tenant)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not 0 < len(key) <= 200 or not key.isprintable():
            raise InvalidInput(f"'{HEADER}' must be 1–200 printable characters", field=HEADER)
        fingerprint = request_fingerprint()
        try:
            with ctx().sessions.begin() as s:
                s.add(IdempotencyRecord(tenant_id=g.tenant_id, key=key, request_hash=fingerprint))
        except IntegrityError:
            return _replay(key, fingerprint)
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            _forget(key)  # an error is not a result to replay: let the client retry
            raise
        if response.status_code >= 400:
            _forget(key)
        else:
            _remember(key, response)
        return response

    wrapped.idempotent = True  # type: ignore[attr-defined]  (the document offers Idempotency-Key)
    return wrapped  # type: ignore[return-value]
