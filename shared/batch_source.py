"""Reading a batch's uploaded source (CSV or JSONL) one line at a time.

A 100 000-line upload is never held whole: the API spools the bytes to storage as they
arrive, and the planner reads them back through these iterators, so memory stays at one
line plus one chunk of rows. A malformed line becomes one failed item with the reason
and its line number; it never sinks the batch. The one exception is an inline override
the frontend cannot read: the API refuses the upload for it (:func:`refuse_bad_overrides`),
as it refuses a JSON batch, rather than let it fail at render time.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from shared.items import check_item, override_problem

FORMATS = ("csv", "jsonl")
CSV_TYPES = frozenset({"text/csv", "application/csv"})
JSONL_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines",
                         "application/jsonlines"})
# Enough of the start of an upload to hold its CSV header line.
HEADER_PEEK_BYTES = 64 * 1024


class SourceRejected(ValueError):
    """The upload cannot be read as a batch at all (no header, empty): refused before storing."""


def format_for(mimetype: str, filename: str | None = None) -> str | None:
    """``csv``/``jsonl`` from a content type, else from a file name's extension."""
    if mimetype in CSV_TYPES:
        return "csv"
    if mimetype in JSONL_TYPES:
        return "jsonl"
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".csv") or name:
        return "csv"
    return None


@dataclass
class Row:
    """One data line: its 1-based line number in the source, its fields, or why it is unreadable."""

    line: int
    fields: dict[str, Any]
    error: str | None = None


class CountingReader:
    """Passes a stream through unchanged, after a peeked prefix, counting newlines as it goes.

    The API uses it to spool an upload to storage and learn, in the same pass, roughly how
    many lines it has (which picks the queue) without buffering the body.
    """

    def __init__(self, stream: BinaryIO, prefix: bytes = b"") -> None:
        self.stream = stream
        self.prefix = prefix
        self.newlines = 0
        self.size = 0
        self.last = b""

    def read(self, n: int = -1) -> bytes:
        if self.prefix:
            chunk = self.prefix if n is None or n < 0 or n >= len(self.prefix) else self.prefix[:n]
            self.prefix = self.prefix[len(chunk):]
        else:
            chunk = self.stream.read(n if n is not None else -1) or b""
        self.newlines += chunk.count(b"\n")
        self.size += len(chunk)
        if chunk:
            self.last = chunk[-1:]
        return chunk

    @property
    def lines(self) -> int:
        """Lines seen, counting a last line without a trailing newline."""
        return self.newlines + (1 if self.last and self.last != b"\n" else 0)


def peek_header(stream: BinaryIO, fmt: str) -> bytes:
    """Read the start of an upload and refuse it early when it cannot be a batch.

    Returns the bytes read, which the caller sends on ahead of the rest of the stream.
    """
    head = stream.read(HEADER_PEEK_BYTES) or b""
    if not head.strip():
        raise SourceRejected("the batch has no items")
    problem = encoding_problem(head, whole=len(head) < HEADER_PEEK_BYTES)
    if problem is not None:
        raise SourceRejected(problem)
    if fmt == "csv":
        first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
        header = next(csv.reader([first]), [])
        if "text" not in [h.strip() for h in header]:
            raise SourceRejected("the CSV needs a header row with a 'text' column (optional: voice_id, id)")
    return head


def encoding_problem(data: bytes, whole: bool = True) -> str | None:
    """Why ``data`` (a source's start, or all of it when ``whole``) is not UTF-8, else None. A
    spreadsheet's "CSV" export is often in the machine's local encoding (GBK on a Chinese Windows,
    Windows-1252 on a Western one); every row of it would fail, so the file is refused whole with
    what to do. Guessing the encoding instead would misread some files without a word: GB18030
    decodes almost any bytes."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=whole)
    except UnicodeDecodeError as exc:
        return (f"the file is not UTF-8 text (byte {exc.start} cannot be read): probably a spreadsheet's CSV in a "
                "local encoding (GBK/GB18030, Windows-1252); save it as 'CSV UTF-8' and upload it again")
    return None


class _Raw(io.RawIOBase):
    """Any object with ``read(n)`` (a file, an S3 body) as a raw stream TextIOWrapper accepts."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        close: Callable[[], None] | None = getattr(self.source, "close", None)
        if close is not None:
            close()
        super().close()


def text_lines(stream: Any) -> io.TextIOWrapper:
    """UTF-8 text (a BOM dropped); undecodable bytes become U+FFFD and the row is rejected."""
    return io.TextIOWrapper(io.BufferedReader(_Raw(stream), 1024 * 1024), encoding="utf-8-sig",
                            errors="replace", newline="")


def iter_rows(stream: Any, fmt: str) -> Iterator[Row]:
    """Every non-blank data line of the source, in order."""
    text = text_lines(stream)
    try:
        yield from (_csv_rows(text) if fmt == "csv" else _jsonl_rows(text))
    finally:
        text.close()


def _csv_rows(text: io.TextIOWrapper) -> Iterator[Row]:
    reader = csv.reader(text, strict=False)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Row(reader.line_num, {}, f"the CSV line cannot be parsed ({exc})")
            continue
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            yield Row(reader.line_num, dict(zip(header, values)),
                      f"the line has {len(values)} fields; the header names {len(header)}")
            continue
        yield Row(reader.line_num, dict(zip(header, values)))


def _jsonl_rows(text: io.TextIOWrapper) -> Iterator[Row]:
    for n, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(n, {}, f"the line is not JSON ({exc.msg})")
            continue
        if not isinstance(value, dict):
            yield Row(n, {}, "the line must be a JSON object {text, voice_id, id}")
            continue
        yield Row(n, value)


def check_row(row: Row, default_voice: str | None, max_chars: int,
              voice_error: Callable[[str], str | None]) -> tuple[dict[str, Any], str | None]:
    """The item a row becomes and why it is invalid (None when it is fine).

    The rules are :func:`shared.items.check_item`'s, as for a JSON batch; besides, the line
    must have been readable and its text valid UTF-8, and the voice (the row's, else the
    batch default) one of the tenant's ready voices: ``voice_error`` says what is wrong with
    a voice id, cached by the caller.
    """
    item, problem = check_item(row.fields, max_chars, default_voice)
    text = row.fields.get("text")
    reason = (row.error
              or ("the text is not valid UTF-8" if isinstance(text, str) and "\ufffd" in text else None)
              or (problem.reason if problem is not None else None)
              or voice_error(item["voice_id"]))
    if reason:
        item["voice_id"] = None
    return item, reason


def refuse_bad_overrides(stream: BinaryIO, fmt: str) -> None:
    """Raise the JSON batch's 422 (``items[n].text: override ...``) for the first row whose
    inline override cannot be read, so a streamed source is refused at upload as a JSON
    batch is. Other faults of a row stay that row's failed item. ``stream`` is read to its
    end and left open."""
    for n, row in enumerate(iter_rows(_Borrowed(stream), fmt)):
        text = row.fields.get("text")
        problem = override_problem(text.strip(), f"items[{n}].text") if isinstance(text, str) else None
        if problem is not None:
            raise problem.error()


class _Borrowed:
    """A stream read by one who does not own it: reading to the end never closes it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.read = stream.read


def encode_jsonl(items: list[dict[str, Any]]) -> Iterator[bytes]:
    """Validated items as JSONL lines: how a big JSON batch joins the streamed path."""
    for it in items:
        yield (json.dumps({"text": it["text"], "voice_id": it["voice_id"], "id": it.get("external_id")},
                          ensure_ascii=False) + "\n").encode()
