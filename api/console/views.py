"""Console pages. Reads query rows of the signed-in tenant only (``owned()`` and tenant
filters); every change goes through the function the API's own view calls, and every page
asks for the scope the API asks for the same data: reference and consent recordings are
admin's (as ``GET /v1/consents/<id>/recording`` is), so a read or write key sees that a
recording exists but cannot play or download it."""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import soundfile as sf
from flask import Response, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api import batches as batches_api
from api import feedback as feedback_api
from api import finetune as finetune_api
from api import lexicon as lexicon_api
from api import voices as voices_api
from api.auth import owned
from api.console.blueprint import bp
from api.console.session import need
from api.context import ctx
from shared.audio_limits import AudioLimits
from shared.errors import InvalidInput, NarratorError
from shared.finetune import active_adapter
from shared.models import (
    Batch,
    Consent,
    ConsentStatus,
    Feedback,
    FinetuneRun,
    Item,
    ItemStatus,
    LexiconVersion,
    ReferenceAudio,
    Voice,
)
from shared.security import allows

HAN = re.compile(r"[\u3400-\u9fff]")
WORDLIKE = re.compile(r"\w", re.UNICODE)
# A voice's reference and a speaker's consent recording are biometric data: the API serves
# them to admin keys only, and so does the console.
RECORDINGS_SCOPE = "admin"
FILTERS = {"all": None, "failed": ItemStatus.failed.value, "flagged": ItemStatus.needs_review.value}


def _url(key: str | None) -> str | None:
    return ctx().download_url(key) if key else None


def _back(endpoint: str, **values: Any) -> ResponseReturnValue:
    return redirect(url_for(endpoint, **values))


def _attempt(action: Any, done: str) -> None:
    """Run a change; a domain error becomes a message on the next page, not an error page."""
    try:
        action()
    except NarratorError as exc:
        flash(exc.reason, "error")
    else:
        flash(done, "info")


@bp.get("/")
def home() -> ResponseReturnValue:
    return _back("console.batches")


# --- voices ---------------------------------------------------------------------------

@bp.get("/voices")
def voices() -> ResponseReturnValue:
    with ctx().sessions() as s:
        rows = s.scalars(select(Voice).where(Voice.tenant_id == g.tenant_id).order_by(Voice.created_at.desc())).all()
        refs = {r.voice_id: r for r in s.scalars(select(ReferenceAudio).where(
            ReferenceAudio.voice_id.in_([v.id for v in rows])))} if rows else {}
        consents = {c.id: c for c in s.scalars(select(Consent).where(
            Consent.id.in_([v.consent_id for v in rows if v.consent_id])))} if rows else {}
        listen = allows(g.scope, RECORDINGS_SCOPE)
        view = [{
            "voice": v, "consent": consents.get(v.consent_id or ""),
            "qa": (refs[v.id].qa_report or {}) if v.id in refs else None,
            "audio": _url(refs[v.id].cleaned_key or refs[v.id].original_key)
            if listen and v.id in refs and v.purged_at is None else None,
        } for v in rows]
    return render_template("console/voices.html", rows=view, listen=listen)


@bp.get("/voices/<voice_id>/waveform.svg")
def voice_waveform(voice_id: str) -> ResponseReturnValue:
    """The reference's waveform as a small SVG (min/max per column), drawn from the cleaned
    reference: a reviewer sees clipping, silence and level at a glance. Drawn from the
    recording, so it is admin's, as the recording is."""
    need(RECORDINGS_SCOPE)
    c = ctx()
    with c.sessions() as s:
        voice = owned(s, Voice, voice_id, "voice")
        ref = s.scalars(select(ReferenceAudio).where(ReferenceAudio.voice_id == voice.id)).first()
        key = (ref.cleaned_key or ref.original_key) if ref is not None and voice.purged_at is None else None
    if key is None:
        return Response(status=404)
    return Response(waveform_svg(c.storage.get(key), AudioLimits.reference(c.settings)), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=300"})


def waveform_svg(data: bytes, limits: AudioLimits, width: int = 600, height: int = 80) -> str:
    """Min and max per column of the first ``limits.max_frames`` of the audio, read block by
    block: the stored file may be an upload that failed enrollment, and its header alone says
    how much it decodes to, so neither its length nor its channels decide this process's memory."""
    hi = lo = np.zeros(width, np.float32)
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            total = max(0, min(f.frames, limits.max_frames(f.samplerate, f.channels)))
            per = max(1, -(-total // width))  # frames per column
            hi, lo = np.zeros(-(-total // per), np.float32), np.zeros(-(-total // per), np.float32)
            column = 0
            for block in f.blocks(blocksize=per * max(1, 65536 // per), frames=total, dtype="float32",
                                  always_2d=True):
                mono = block.mean(axis=1)
                n = -(-len(mono) // per)
                padded = np.pad(mono, (0, n * per - len(mono))).reshape(n, per)
                hi[column:column + n] = np.maximum(padded.max(axis=1), 0.0)
                lo[column:column + n] = np.minimum(padded.min(axis=1), 0.0)
                column += n
    except (RuntimeError, ValueError, sf.LibsndfileError):
        hi = lo = np.zeros(width, np.float32)
    columns = list(zip(hi.tolist(), lo.tolist(), strict=True))
    mid = height / 2
    top = " ".join(f"L{x} {mid - mid * high:.1f}" for x, (high, _) in enumerate(columns))
    bottom = " ".join(f"L{x} {mid - mid * low:.1f}" for x, (_, low) in reversed(list(enumerate(columns))))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" preserveAspectRatio="none">'
            f'<line x1="0" y1="{mid}" x2="{width}" y2="{mid}" stroke="#ccc"/>'
            f'<path d="M0 {mid} {top} {bottom} Z" fill="#2a6" stroke="none"/></svg>')


@bp.post("/voices/<voice_id>/revoke")
def revoke_voice(voice_id: str) -> ResponseReturnValue:
    need("write")
    _attempt(lambda: voices_api.withdraw(voice_id, keep_outputs=False), "Voice deleted; its data is being purged.")
    return _back("console.voices")


# --- consents -------------------------------------------------------------------------

@bp.get("/consents")
def consents() -> ResponseReturnValue:
    with ctx().sessions() as s:
        rows = s.scalars(select(Consent).where(Consent.tenant_id == g.tenant_id,
                                               Consent.status == ConsentStatus.needs_review.value)
                         .order_by(Consent.created_at)).all()
        listen = allows(g.scope, RECORDINGS_SCOPE)
        view = [{"consent": c, "audio": _url(c.recording_key) if listen else None} for c in rows]
    return render_template("console/consents.html", rows=view, listen=listen)


# --- batches --------------------------------------------------------------------------

@bp.get("/batches")
def batches() -> ResponseReturnValue:
    with ctx().sessions() as s:
        ids = list(s.scalars(select(Batch.id).where(Batch.tenant_id == g.tenant_id)
                             .order_by(Batch.created_at.desc()).limit(100)))
    return render_template("console/batches.html", rows=[batches_api.batch_summary(i) for i in ids])


@bp.get("/batches/<batch_id>/progress")
def batch_progress(batch_id: str) -> ResponseReturnValue:
    """The API's batch summary, for the page's 2-second poll."""
    return jsonify(batches_api.batch_summary(batch_id))


@bp.get("/batches/<batch_id>")
def batch(batch_id: str) -> ResponseReturnValue:
    show = request.args.get("show", "all")
    if show not in FILTERS:
        raise InvalidInput(f"'show' is one of {', '.join(FILTERS)}")
    summary = batches_api.batch_summary(batch_id)  # 404 for another tenant's batch
    with ctx().sessions() as s:
        query = select(Item).where(Item.batch_id == batch_id)
        if FILTERS[show]:
            query = query.where(Item.status == FILTERS[show])
        items = [{"item": it, "audio": _url(it.storage_key)}
                 for it in s.scalars(query.order_by(Item.seq).limit(500))]
    return render_template("console/batch.html", batch=summary, items=items, show=show, filters=list(FILTERS))


@bp.post("/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str) -> ResponseReturnValue:
    need("write")
    _attempt(lambda: batches_api.cancel(batch_id), "Batch cancelled.")
    return _back("console.batch", batch_id=batch_id)


# --- item review ----------------------------------------------------------------------

def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Words of the text with their offsets: jieba's words for Chinese, runs of letters otherwise."""
    tokenizer = current_app.extensions.get("console.jieba")
    if tokenizer is None:
        import jieba  # deferred: jieba costs ~0.5 s to import and only the item review page segments text

        tokenizer = current_app.extensions["console.jieba"] = jieba.Tokenizer()
    return [(w, a, b) for w, a, b in tokenizer.tokenize(text)]


def _used_readings(text: str, readings: dict[str, Any] | None) -> list[str | None]:
    """The pinyin the render used, per character of ``text``: the render's syllables in order
    over the Chinese characters, when their counts agree (text normalization can change them)."""
    out: list[str | None] = [None] * len(text)
    syllables = ((readings or {}).get("pinyin") or "").split()
    han = [i for i, ch in enumerate(text) if HAN.match(ch)]
    if syllables and len(syllables) == len(han):
        for i, syl in zip(han, syllables, strict=True):
            out[i] = syl
    return out


@bp.get("/items/<item_id>")
def item(item_id: str) -> ResponseReturnValue:
    with ctx().sessions() as s:
        it = owned(s, Item, item_id, "item")
        per_char = _used_readings(it.text, it.readings)
        words = []
        for word, start, end in _tokens(it.text):
            used = [r for r in per_char[start:end] if r]
            words.append({"text": word, "start": start, "end": end, "clickable": bool(WORDLIKE.search(word)),
                          "used": " ".join(used) if len(used) == end - start else ""})
        nxt = s.scalar(select(Item.id).where(Item.batch_id == it.batch_id, Item.seq > it.seq)
                       .order_by(Item.seq).limit(1))
        fbs = s.scalars(select(Feedback).where(Feedback.item_id == it.id, Feedback.tenant_id == g.tenant_id)
                        .order_by(Feedback.created_at)).all()
        view = {"item": it, "audio": _url(it.storage_key), "words": words, "next_id": nxt, "feedback": fbs}
        return render_template("console/item.html", **view)


@bp.post("/items/<item_id>/feedback")
def mark_word(item_id: str) -> ResponseReturnValue:
    need("write")
    try:
        span = [int(request.form.get("start", "")), int(request.form.get("end", ""))]
    except ValueError:
        raise InvalidInput("choose a word first") from None
    body = {"item_id": item_id, "span": span, "reading": request.form.get("reading") or None,
            "note": request.form.get("note") or None, "reviewer": f"console:{g.key_prefix}"}
    _attempt(lambda: feedback_api.create(body), "Feedback saved.")
    return _back("console.item", item_id=item_id)


# --- lexicon --------------------------------------------------------------------------

@bp.get("/lexicon")
def lexicon() -> ResponseReturnValue:
    q = (request.args.get("q") or "").strip().lower()
    with ctx().sessions() as s:
        version, rows = lexicon_api.entries(s, None)
        if q:
            rows = [r for r in rows if q in r.word.lower() or q in r.reading.lower()]
        history = s.scalars(select(LexiconVersion).where(LexiconVersion.tenant_id == g.tenant_id)
                            .order_by(LexiconVersion.version.desc()).limit(50)).all()
        return render_template("console/lexicon.html", version=version, rows=rows[:500], total=len(rows), q=q,
                               history=history)


@bp.post("/lexicon")
def add_entry() -> ResponseReturnValue:
    need("write")
    body = {k: (request.form.get(k) or "").strip() or None for k in ("word", "reading", "language")}
    _attempt(lambda: lexicon_api.add_entry(body), f"Saved {body['word'] or ''}.")
    return _back("console.lexicon")


@bp.post("/lexicon/<entry_id>/delete")
def delete_entry(entry_id: str) -> ResponseReturnValue:
    need("write")
    _attempt(lambda: lexicon_api.remove_entry(entry_id), "Entry deleted.")
    return _back("console.lexicon")


@bp.post("/lexicon/import")
def import_lexicon() -> ResponseReturnValue:
    need("write")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a CSV file to import.", "error")
        return _back("console.lexicon")
    try:
        text = upload.read(lexicon_api.IMPORT_MAX_BYTES + 1).decode("utf-8-sig")
    except UnicodeDecodeError:
        flash("The CSV must be UTF-8 text.", "error")
        return _back("console.lexicon")
    if len(text.encode()) > lexicon_api.IMPORT_MAX_BYTES:
        flash(f"The CSV is larger than {lexicon_api.IMPORT_MAX_BYTES} bytes; split it.", "error")
        return _back("console.lexicon")
    _attempt(lambda: lexicon_api.import_text(text), "CSV imported.")
    return _back("console.lexicon")


@bp.get("/lexicon/export.csv")
def export_lexicon() -> ResponseReturnValue:
    with ctx().sessions() as s:
        version, text = lexicon_api.export_text(s, None)
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="lexicon-v{version}.csv"'})


# --- fine-tune runs -------------------------------------------------------------------

@bp.get("/finetune")
def finetune() -> ResponseReturnValue:
    with ctx().sessions() as s:
        runs = s.scalars(select(FinetuneRun).where(FinetuneRun.tenant_id == g.tenant_id)
                         .order_by(FinetuneRun.version.desc()).limit(200)).all()
        active = active_adapter(s, g.tenant_id)
        view = [finetune_api.run_view(r, active.run_id if active else None) for r in runs]
        schedule = finetune_api.tenant_schedule(s)
    return render_template("console/finetune.html", runs=view, schedule=schedule)


@bp.post("/finetune/<run_id>/rollback")
def rollback_run(run_id: str) -> ResponseReturnValue:
    need("admin")
    _attempt(lambda: finetune_api.roll_back(run_id), "Rolled back; renders use the previous adapter.")
    return _back("console.finetune")
