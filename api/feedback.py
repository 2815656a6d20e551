"""Reviewers' feedback on rendered items: "this word was read wrong, it is read so".

States: ``open`` → ``accepted`` | ``rejected``; accepting with a reading adds it to the
lexicon at once, so the feedback goes straight on to ``applied``; ``verified`` follows
when a later render uses that lexicon entry (the worker sets it) or a reviewer confirms
it. Every transition is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api.auth import owned, require
from api.context import ctx
from api.idempotency import idempotent
from api.lexicon import PAGE_MAX, READING, paging
from api.schema import Body, Boolean, Choice, Field, Text, operation, paging_query
from shared import lexicon
from shared.audit import record
from shared.errors import Conflict, InvalidInput, NotFound
from shared.models import Feedback, FeedbackState, Item, ItemStatus, utcnow
from shared.pronunciation.lexicon import Entry, word_key
from shared.pronunciation.readings import check_reading, word_language

bp = Blueprint("feedback", __name__, url_prefix="/v1/feedback")
FEEDBACK_STATE = Choice(values=tuple(s.value for s in FeedbackState))
# Checked by create() and accept(), which the console's forms call too.
FEEDBACK_REQUEST = Body({
    "item_id": Field({"type": "string"}),
    "span": Field({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                  description="[start, end) character offsets into the item's text"),
    "reading": Field({"type": "string"}, description=READING),
    "reviewer": Field({"type": "string"}),
    "note": Field({"type": "string"}),
}, name="FeedbackRequest", required=("item_id", "span"))
ACCEPT_REQUEST = Body({
    "reading": Field({"type": "string"}, description="a corrected reading"),
    "voice_only": Field({"type": "boolean"}),
    "reviewer": Field({"type": "string"}),
}, optional=True)
REJECT_REQUEST = Body({"note": Text(max_len=5000)}, optional=True)
RENDERED = (ItemStatus.succeeded.value, ItemStatus.needs_review.value)
_MARKUP = set("{}|")


def feedback_json(fb: Feedback, item: Item | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": fb.id, "item_id": fb.item_id, "span": [fb.span_start, fb.span_end], "word": fb.word,
        "language": fb.language, "reading": fb.reading, "reviewer": fb.reviewer, "note": fb.note,
        "state": fb.state, "lexicon_entry_id": fb.lexicon_entry_id, "created_at": fb.created_at.isoformat(),
        "updated_at": fb.updated_at.isoformat() if fb.updated_at else None,
    }
    if item is not None:
        out.update(batch_id=item.batch_id, voice_id=item.voice_id)
    return out


def _span(value: Any, text: str) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise InvalidInput("'span' must be [start, end]: character offsets into the item's text", field="span")
    start, end = value
    if not 0 <= start < end <= len(text):
        raise InvalidInput(f"'span' [{start}, {end}] must be non-empty and within the item's text "
                           f"(0 to {len(text)} characters)", field="span")
    word = text[start:end]
    if word != word.strip():
        raise InvalidInput(f"'span' selects {word!r}, which starts or ends with white space", field="span")
    if _MARKUP & set(word):
        raise InvalidInput(f"'span' selects {word!r}, which includes override markup", field="span")
    return start, end


def _reading(word: str, value: Any, field: str = "reading") -> str | None:
    reading = Text(max_len=200).parse(value, field)
    if reading is None:
        return None
    try:
        return check_reading(word, reading).text
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None


@operation("Report how a span of a rendered item should be read",
           {201: ("open", "Feedback")},
           errors=(401, 403, 404, 409, 415, 422),
           body=FEEDBACK_REQUEST)
@bp.post("")
@require("write")
@idempotent
def create_feedback() -> ResponseReturnValue:
    out = create(FEEDBACK_REQUEST.read())
    return jsonify(out), 201, {"Location": url_for("feedback.get_feedback", feedback_id=out["id"])}


def create(body: dict[str, Any]) -> dict[str, Any]:
    """Open feedback on a rendered item of the caller's tenant (the API and the console both
    come here); ``body`` holds ``item_id``, ``span`` and optional ``reading``/``reviewer``/``note``."""
    item_id = Text(max_len=36, required=True).parse(body.get("item_id"), "item_id")
    reviewer = Text(max_len=200).parse(body.get("reviewer"), "reviewer")
    note = Text(max_len=5000).parse(body.get("note"), "note")
    with ctx().sessions.begin() as s:
        item = owned(s, Item, item_id, "item")
        if item.status not in RENDERED:
            raise Conflict(f"item {item_id!r} is {item.status}; feedback is on rendered items", field="item_id")
        start, end = _span(body.get("span"), item.text)
        word = item.text[start:end]
        try:
            language = word_language(word)
        except ValueError as exc:
            raise InvalidInput(f"'span': {exc}", field="span") from None
        reading = _reading(word, body.get("reading"))
        fb = Feedback(tenant_id=g.tenant_id, item_id=item.id, span_start=start, span_end=end, word=word,
                      language=language, reading=reading, reviewer=reviewer, note=note,
                      state=FeedbackState.open.value)
        s.add(fb)
        s.flush()
        record(s, g.tenant_id, f"key:{g.key_prefix}", "feedback.created", "feedback", fb.id, item_id=item.id,
               word=word, reading=reading, reviewer=reviewer)
        return feedback_json(fb, item)


@operation(
    "Feedback, filtered and paginated",
    {200: "page"},
    errors=(401, 422),
    query={
        "voice_id": Field({"type": "string"}),
        "batch_id": Field({"type": "string"}),
        "word": Field({"type": "string"}),
        "state": FEEDBACK_STATE,
        **paging_query(PAGE_MAX),
    },
)
@bp.get("")
@require("read")
def list_feedback() -> ResponseReturnValue:
    """Filters: ``voice_id``, ``batch_id``, ``word``, ``state``; paged by ``cursor``/``limit``."""
    cursor, limit = paging(50)
    state = FEEDBACK_STATE.read(request.args, "state")
    query = (select(Feedback, Item).join(Item, Item.id == Feedback.item_id)
             .where(Feedback.tenant_id == g.tenant_id))
    if state:
        query = query.where(Feedback.state == state)
    if request.args.get("voice_id"):
        query = query.where(Item.voice_id == request.args["voice_id"])
    if request.args.get("batch_id"):
        query = query.where(Item.batch_id == request.args["batch_id"])
    if request.args.get("word"):
        query = query.where(Feedback.word == request.args["word"].strip())
    with ctx().sessions() as s:
        rows = s.execute(query.order_by(Feedback.created_at, Feedback.id).offset(cursor).limit(limit + 1)).all()
        page = [feedback_json(fb, item) for fb, item in rows[:limit]]
    return jsonify(feedback=page, next_cursor=cursor + limit if len(rows) > limit else None)


def _owned_feedback(session, feedback_id: str) -> tuple[Feedback, Item]:  # type: ignore[no-untyped-def]
    fb = session.get(Feedback, feedback_id, with_for_update=True)
    if fb is None or fb.tenant_id != g.tenant_id:
        raise NotFound(f"no feedback {feedback_id!r}")
    item = session.get(Item, fb.item_id)
    assert item is not None  # the foreign key cascades
    return fb, item


@operation("One feedback",
           {200: ("feedback", "Feedback")},
           errors=(401, 404))
@bp.get("/<feedback_id>")
@require("read")
def get_feedback(feedback_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        fb = owned(s, Feedback, feedback_id, "feedback")
        return jsonify(feedback_json(fb, s.get(Item, fb.item_id)))


def _expect(fb: Feedback, *states: FeedbackState) -> None:
    if fb.state not in {s.value for s in states}:
        raise Conflict(f"feedback {fb.id!r} is {fb.state}; this needs it {' or '.join(s.value for s in states)}")


@operation("Accept (open only); with a reading, a lexicon entry is added at once and the state is applied",
           {200: ("accepted or applied", "Feedback")},
           errors=(401, 403, 404, 409, 415, 422),
           body=ACCEPT_REQUEST)
@bp.post("/<feedback_id>/accept")
@require("write")
@idempotent
def accept(feedback_id: str) -> ResponseReturnValue:
    """Accept, optionally with a corrected ``reading``; a reading becomes a lexicon entry
    (``voice_only``: for the item's voice alone) and the feedback is ``applied``."""
    body = ACCEPT_REQUEST.read()
    voice_only = Boolean(default=False).parse(body.get("voice_only"), "voice_only")
    reviewer = Text(max_len=200).parse(body.get("reviewer"), "reviewer")
    actor = f"key:{g.key_prefix}"
    with ctx().sessions.begin() as s:
        fb, item = _owned_feedback(s, feedback_id)
        _expect(fb, FeedbackState.open)
        corrected = _reading(fb.word, body.get("reading"))
        reading = corrected or fb.reading
        fb.updated_at = utcnow()
        if reviewer:
            fb.reviewer = reviewer
        record(s, g.tenant_id, actor, "feedback.accepted", "feedback", fb.id, reading=reading,
               corrected_from=fb.reading if corrected and corrected != fb.reading else None)
        if reading is None:
            fb.state = FeedbackState.accepted.value
        else:
            fb.reading = reading
            entry = Entry(word=fb.word, reading=reading, language=fb.language,
                          voice_id=item.voice_id if voice_only else None)
            change = lexicon.apply(s, g.tenant_id, actor, [entry])
            row = change.added[0] if change.added else next(
                r for r in lexicon.entries_at(s, g.tenant_id)
                if r.voice_id == entry.voice_id and word_key(r.word) == word_key(entry.word))
            fb.lexicon_entry_id = row.id
            fb.state = FeedbackState.applied.value
            record(s, g.tenant_id, actor, "feedback.applied", "feedback", fb.id, lexicon_entry_id=row.id,
                   lexicon_version=change.version)
        out = feedback_json(fb, item)
    return jsonify(out)


@operation("Reject (open only)",
           {200: ("rejected", "Feedback")},
           errors=(401, 403, 404, 409, 415, 422), body=REJECT_REQUEST)
@bp.post("/<feedback_id>/reject")
@require("write")
@idempotent
def reject(feedback_id: str) -> ResponseReturnValue:
    note = REJECT_REQUEST.read()["note"]
    with ctx().sessions.begin() as s:
        fb, item = _owned_feedback(s, feedback_id)
        _expect(fb, FeedbackState.open)
        fb.state = FeedbackState.rejected.value
        fb.updated_at = utcnow()
        record(s, g.tenant_id, f"key:{g.key_prefix}", "feedback.rejected", "feedback", fb.id, note=note)
        out = feedback_json(fb, item)
    return jsonify(out)


@operation("A reviewer confirms the fix (renders using the entry verify it on their own)",
           {200: ("verified", "Feedback")},
           errors=(401, 403, 404, 409))
@bp.post("/<feedback_id>/verify")
@require("write")
@idempotent
def verify(feedback_id: str) -> ResponseReturnValue:
    """A reviewer heard the fix in a later render."""
    with ctx().sessions.begin() as s:
        fb, item = _owned_feedback(s, feedback_id)
        _expect(fb, FeedbackState.applied, FeedbackState.accepted)
        fb.state = FeedbackState.verified.value
        fb.updated_at = utcnow()
        record(s, g.tenant_id, f"key:{g.key_prefix}", "feedback.verified", "feedback", fb.id, by="reviewer")
        out = feedback_json(fb, item)
    return jsonify(out)
