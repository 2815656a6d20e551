"""Structured JSON logs: one object per line, with the ids of whatever the line concerns.

Ids travel in a context variable: the API binds the request id and tenant, a task binds
its batch, item or voice, and every log line written inside carries them. Messages never
contain secrets or audio; ``redact`` guards the few places where a URL could hold one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

CONTEXT_FIELDS = ("request_id", "tenant_id", "batch_id", "item_id", "voice_id", "task")
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "narrator_log_context", default={})  # noqa: B039 - never mutated: every writer sets a new dict

_SECRET_PATTERNS = (
    re.compile(r"(nr[to])_[0-9a-f]{8}_[A-Za-z0-9_\-]+"),  # API keys (tenants' nrt_, the operator's nro_)
    re.compile(r"(://[^:/@\s]+:)[^@\s]+@"),  # passwords inside URLs
    re.compile(r"(X-Amz-Signature=|signature=)[0-9a-fA-F]+"),  # presigned URL signatures
)


def redact(text: str) -> str:
    text = _SECRET_PATTERNS[0].sub(r"\1_[redacted]", text)
    text = _SECRET_PATTERNS[1].sub(r"\1[redacted]@", text)
    return _SECRET_PATTERNS[2].sub(r"\1[redacted]", text)


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Bind ids for every log line written inside the block (nested blocks add to it)."""
    token = _context.set({**_context.get(), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def start(**ids: str | None) -> None:
    """Replace the context: a new request on a reused thread must not inherit the last one's ids."""
    _context.set({k: v for k, v in ids.items() if v})


def bind(**ids: str | None) -> None:
    """Add ids to the current context (e.g. the tenant, once the API key is checked)."""
    _context.set({**_context.get(), **{k: v for k, v in ids.items() if v}})


def current_ids() -> dict[str, str]:
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_context.get(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", stream=None) -> None:  # type: ignore[no-untyped-def]
    """Route every logger through one JSON handler on stderr (replacing earlier handlers)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "urllib3", "s3transfer", "numba", "jieba", "faster_whisper"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
