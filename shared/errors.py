"""Domain errors shared by the API and the worker.

Each carries a stable ``code`` (machine-readable, shown as the problem type and stored on
failed rows) and a human ``reason``. The API turns them into problem+json in one place;
tasks record them on the row and do not retry them — retrying bad input cannot help.
"""

from __future__ import annotations

from typing import Any


class NarratorError(Exception):
    code = "error"
    status = 400

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer must carry besides the problem body."""
        return {}


class InvalidInput(NarratorError):
    code = "invalid_input"
    status = 422


class PayloadTooLarge(NarratorError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(NarratorError):
    code = "unsupported_media_type"
    status = 415


class NotFound(NarratorError):
    code = "not_found"
    status = 404


class Unauthorized(NarratorError):
    code = "unauthorized"
    status = 401


class Forbidden(NarratorError):
    code = "forbidden"
    status = 403


class Conflict(NarratorError):
    code = "conflict"
    status = 409


class VoiceNotReady(Conflict):
    code = "voice_not_ready"


class ReferenceRejectedError(InvalidInput):
    code = "reference_rejected"


class RateLimited(NarratorError):
    code = "rate_limited"
    status = 429

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason, retry_after=retry_after)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(NarratorError):
    code = "service_unavailable"
    status = 503
