"""Downloads for the local-folder backend: the signed URLs it hands out point here.

With S3 the presigned URL goes to the object store directly and this route is unused.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from api.context import ctx
from api.schema import Field, operation
from shared.audio_formats import content_type_of
from shared.errors import Forbidden, NotFound
from shared.storage import LocalStorage, ObjectNotFound

bp = Blueprint("files", __name__, url_prefix="/v1/files")


@operation("A stored file through a signed link (local-folder storage only; S3 links go to the object store)",
           {200: ("the file", {t: {} for t in ("audio/wav", "audio/mpeg", "audio/flac",
                                                 "application/octet-stream")})}, errors=(403, 404, 429),
           query={"expires": Field({"type": "integer"}), "signature": Field({"type": "string"})}, public=True)
@bp.get("/<path:key>")
def download(key: str) -> ResponseReturnValue:
    storage = ctx().storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("direct downloads are only served for the local storage backend")
    try:
        expires = int(request.args.get("expires", ""))
    except ValueError as exc:
        raise Forbidden("the download link is malformed") from exc
    if not storage.verify(key, expires, request.args.get("signature", "")):
        raise Forbidden("the download link is invalid or has expired")
    try:
        data = storage.get(key)
    except (ObjectNotFound, ValueError) as exc:
        raise NotFound("no such file") from exc
    mimetype = content_type_of(key)
    # nosniff: a browser takes the type as given, never guesses "this looks like HTML".
    return Response(data, mimetype=mimetype, headers={"X-Content-Type-Options": "nosniff"})
