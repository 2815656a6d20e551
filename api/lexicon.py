"""The tenant's pronunciation lexicon: entries applied at once to every later render, each
change a new version (see shared/lexicon.py), CSV import and export.

Readings: tone-numbered pinyin for Chinese words, ARPAbet / ``~respelling`` /
``/phonemes/`` for English ones (shared/pronunciation/readings.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from api.auth import owned, require
from api.context import ctx
from api.idempotency import idempotent
from api.schema import Body, Field, Text, operation, paging_query
from api.schema import paging as query_paging
from shared import lexicon
from shared.errors import InvalidInput, NotFound
from shared.models import LexiconEntry, LexiconVersion, Voice
from shared.pronunciation.lexicon import Entry, LexiconCsvError, parse_csv, to_csv
from shared.pronunciation.readings import check_reading

bp = Blueprint("lexicon", __name__, url_prefix="/v1/lexicon")
READING = ("Chinese: tone-numbered pinyin, one syllable per character ('yin2 hang2'); English: ARPAbet "
           "('SH AW1 M IY0'), a respelling after '~' ('~show me') or Kokoro phonemes between slashes")
# Checked by checked_entry (the console's form and an imported CSV line go there too).
ENTRY_REQUEST = Body({
    "word": Field({"type": "string"}),
    "reading": Field({"type": "string"}, description=READING),
    "language": Field({"enum": ["zh", "en"]}, description="optional; follows from the word"),
    "voice_id": Field({"type": "string"}, description="only for this voice (default: every voice)"),
}, name="LexiconEntryRequest", required=("word", "reading"))
PAGE_MAX = 1000
IMPORT_MAX_BYTES = 2 * 1024 * 1024


def entry_json(row: LexiconEntry) -> dict[str, Any]:
    return {"id": row.id, "word": row.word, "reading": row.reading, "language": row.language,
            "voice_id": row.voice_id, "created_version": row.created_version,
            "deleted_version": row.deleted_version, "created_at": row.created_at.isoformat()}


def paging(default: int = 100) -> tuple[int, int]:
    """``cursor`` (an offset) and ``limit`` from the query string."""
    return query_paging(default, PAGE_MAX)


def checked_entry(session, body: dict[str, Any], where: str = "") -> Entry:  # type: ignore[no-untyped-def]
    """One entry from a JSON object, its reading checked for its word; 422 names the field."""
    word = Text(max_len=200, required=True).parse(body.get("word"), f"{where}word")
    reading = Text(max_len=200, required=True).parse(body.get("reading"), f"{where}reading")
    language = Text(max_len=8).parse(body.get("language"), f"{where}language")
    voice_id = Text(max_len=36).parse(body.get("voice_id"), f"{where}voice_id")
    assert word is not None and reading is not None
    word = " ".join(word.split())
    try:
        checked = check_reading(word, reading, language)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=f"{where}reading") from None
    if voice_id is not None:
        owned(session, Voice, voice_id, "voice")
    return Entry(word=word, reading=checked.text, language=checked.language, voice_id=voice_id)


def _version_param() -> int | None:
    raw = request.args.get("version")
    if raw in (None, ""):
        return None
    try:
        version = int(raw)
    except ValueError as exc:
        raise InvalidInput("'version' must be an integer", field="version") from exc
    if version < 0:
        raise InvalidInput("'version' must be ≥ 0", field="version")
    return version


def entries(session, version: int | None) -> tuple[int, list[LexiconEntry]]:  # type: ignore[no-untyped-def]
    """The caller's entries at ``version`` (None: now), with that version's number."""
    current = lexicon.current_version(session, g.tenant_id)
    if version is not None and version > current:
        raise NotFound(f"the lexicon has no version {version}; the newest is {current}")
    return (current if version is None else version), lexicon.entries_at(session, g.tenant_id, version)


@operation(
    "Lexicon entries of the current (or a past) version; q searches word and reading",
    {200: "entries"},
    errors=(401, 404, 422),
    query={
        "q": Field({"type": "string"}),
        "voice_id": Field({"type": "string"}),
        "version": Field(
            {"type": "integer", "minimum": 0}, description="a past version (default: the current one)"
        ),
        **paging_query(PAGE_MAX),
    },
)
@bp.get("")
@require("read")
def list_entries() -> ResponseReturnValue:
    """Current entries (or those of ``version``), filtered by ``q`` (word or reading) and ``voice_id``."""
    cursor, limit = paging()
    q = (request.args.get("q") or "").strip().lower()
    voice_id = request.args.get("voice_id")
    with ctx().sessions() as s:
        version, rows = entries(s, _version_param())
        if q:
            rows = [r for r in rows if q in r.word.lower() or q in r.reading.lower()]
        if voice_id:
            rows = [r for r in rows if r.voice_id == voice_id]
        page = rows[cursor:cursor + limit]
        body = {"version": version, "total": len(rows), "entries": [entry_json(r) for r in page],
                "next_cursor": cursor + limit if cursor + limit < len(rows) else None}
    return jsonify(body)


@operation("Add or replace the entry for a word: a new lexicon version, applied to later renders",
           {201: "a new version", 200: "the same entry existed: no change"},
           errors=(401, 403, 404, 415, 422),
           body=ENTRY_REQUEST)
@bp.post("")
@require("write")
@idempotent
def put_entry() -> ResponseReturnValue:
    """Add an entry, or replace the entry for the same word (and voice): a new version."""
    out = add_entry(ENTRY_REQUEST.read())
    return jsonify(out), 201 if out["changed"] else 200


def add_entry(body: dict[str, Any]) -> dict[str, Any]:
    """Check and apply one entry for the caller's tenant (API and console)."""
    with ctx().sessions.begin() as s:
        entry = checked_entry(s, body)
        change = lexicon.apply(s, g.tenant_id, f"key:{g.key_prefix}", [entry])
        if change.added:
            row = change.added[0]
        else:  # the same reading was already there: nothing changed
            row = next(r for r in lexicon.entries_at(s, g.tenant_id)
                       if r.voice_id == entry.voice_id and r.word == entry.word)
        return {"version": change.version, "changed": bool(change.added), "entry": entry_json(row)}


@operation("Delete an entry: a new lexicon version",
           {200: "deleted"},
           errors=(401, 403, 404))
@bp.delete("/<uuid:entry_id>")  # a UUID only, so export/import/versions never match it
@require("write")
def delete_entry(entry_id: uuid.UUID) -> ResponseReturnValue:
    return jsonify(remove_entry(str(entry_id)))


def remove_entry(entry_id: str) -> dict[str, Any]:
    """Delete one of the caller's entries: a new lexicon version (API and console)."""
    with ctx().sessions.begin() as s:
        row = owned(s, LexiconEntry, entry_id, "lexicon entry")
        if row.deleted_version is not None:
            raise NotFound(f"lexicon entry {entry_id!r} was already deleted in version {row.deleted_version}")
        change = lexicon.apply(s, g.tenant_id, f"key:{g.key_prefix}", removals=[row])
        return {"version": change.version, "entry": entry_json(row)}


@operation(
    "Lexicon versions, newest first, with who changed what",
    {200: "versions"},
    errors=(401, 422),
    query=paging_query(PAGE_MAX),
)
@bp.get("/versions")
@require("read")
def list_versions() -> ResponseReturnValue:
    cursor, limit = paging(50)
    with ctx().sessions() as s:
        total = s.scalar(select(func.count()).select_from(LexiconVersion)
                         .where(LexiconVersion.tenant_id == g.tenant_id)) or 0
        rows = s.scalars(select(LexiconVersion).where(LexiconVersion.tenant_id == g.tenant_id)
                         .order_by(LexiconVersion.version.desc()).offset(cursor).limit(limit)).all()
        versions = [{"version": v.version, "created_at": v.created_at.isoformat(), "actor": v.actor,
                     "summary": v.summary} for v in rows]
    return jsonify(versions=versions, total=total,
                   next_cursor=cursor + limit if cursor + limit < total else None)


@operation(
    "The lexicon as CSV: word,reading,language,voice_id",
    {200: ("CSV", {"text/csv": {}})},
    errors=(401, 404, 422),
    query={
        "version": Field(
            {"type": "integer", "minimum": 0}, description="a past version (default: the current one)"
        )
    },
)
@bp.get("/export")
@require("read")
def export_csv() -> ResponseReturnValue:
    """CSV ``word,reading,language,voice_id`` of the current lexicon (or of ``version``)."""
    with ctx().sessions() as s:
        version, text = export_text(s, _version_param())
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="lexicon-v{version}.csv"', "X-Lexicon-Version": str(version)})


def export_text(session, version: int | None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """The CSV of the caller's lexicon at ``version`` (API and console)."""
    number, rows = entries(session, version)
    return number, to_csv(lexicon.as_entry(r) for r in rows)


def _import_text() -> str:
    upload = request.files.get("file")
    if upload is not None:
        data = upload.read()
    elif request.mimetype in ("text/csv", "text/plain"):
        data = request.get_data()
    else:
        raise InvalidInput("send the CSV as a multipart 'file' or as a text/csv body")
    if len(data) > IMPORT_MAX_BYTES:
        raise InvalidInput(f"the CSV is larger than {IMPORT_MAX_BYTES} bytes; split it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the CSV must be UTF-8 text", field="file") from exc


@operation(
    "Import a CSV as one new version; any bad line rejects the file (422 lists lines)",
    {200: "imported (version, added, replaced, unchanged)"},
    errors=(401, 403, 415, 422),
    body={
        "required": True,
        "content": {
            "text/csv": {},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    },
)
@bp.post("/import")
@require("write")
@idempotent
def import_csv() -> ResponseReturnValue:
    """Every line is checked first; one bad line rejects the whole file (422 lists them all)."""
    return jsonify(import_text(_import_text())), 200


def import_text(text: str) -> dict[str, Any]:
    """Apply a whole CSV for the caller's tenant, or nothing if any line is bad (API and console)."""
    with ctx().sessions.begin() as s:
        voices = set(s.scalars(select(Voice.id).where(Voice.tenant_id == g.tenant_id)))
        try:
            entries = parse_csv(text, voice_known=voices.__contains__)
        except LexiconCsvError as exc:
            raise InvalidInput(f"the CSV has {len(exc.errors)} bad line(s), nothing was imported: {exc}",
                               errors=[{"line": n, "reason": r} for n, r in exc.errors]) from None
        if not entries:
            raise InvalidInput("the CSV has no entries")
        change = lexicon.apply(s, g.tenant_id, f"key:{g.key_prefix}", entries)
        replaced = len({(e.word.lower(), e.voice_id) for e in change.removed})
        return {"version": change.version, "changed": bool(change.added), "added": len(change.added) - replaced,
                "replaced": replaced, "unchanged": len(entries) - len(change.added)}
