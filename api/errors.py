"""Every error leaves the API as RFC 9457 problem+json with a human-readable reason."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from shared.errors import NarratorError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": f"https://narrator.dev/problems/{code}", "title": title, "status": status,
            "detail": detail, "code": code, **{k: v for k, v in extra.items() if v is not None}}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(NarratorError)
    def _domain(exc: NarratorError) -> Response:
        response = problem(exc.status, exc.code, exc.code.replace("_", " ").capitalize(), exc.reason, **exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            detail = f"the request body is larger than the {limit} byte limit"
        response = problem(status, exc.name.lower().replace(" ", "_"), exc.name, detail)
        for name, value in exc.get_headers():  # e.g. Allow on a 405, Retry-After on a 503
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _server(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal_error", "Internal server error",
                       "the server failed to handle this request; it has been logged")
