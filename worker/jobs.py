"""Every job's lifecycle, readable in one module: enroll a voice, plan a batch, render an item.

State lives in the database rows: a task claims its row, does the work, and records the
outcome on the row. Writes are idempotent (deterministic storage keys, checksums), so a
redelivered task never leaves a duplicate. Bad input fails the row and is not retried;
transient storage/database errors propagate so the task layer retries them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select, update

from shared import keys, lexicon, logs, stock_voices, webhooks
from shared.audio_limits import AudioLimits
from shared.audit import record
from shared.consent import in_force, key_phrases, same_language
from shared.errors import NarratorError
from shared.finetune import ActiveAdapter, adapter_of
from shared.jobs import DELIVER_WEBHOOK, synth_queue
from shared.models import (
    Batch,
    BatchStatus,
    Consent,
    ConsentStatus,
    Feedback,
    FeedbackState,
    Item,
    ItemStatus,
    ReferenceAudio,
    Voice,
    VoiceStatus,
    VoiceVersion,
    utcnow,
)
from shared.services import finish_batch_if_done
from shared.storage import ObjectNotFound
from worker import batching, item_sql
from worker.batching import Dispatch
from worker.context import Defer, WorkerContext, run_now
from worker.delivery import ItemUpload
from shared.pronunciation.lexicon import Lexicon

if TYPE_CHECKING:
    from worker.tts.text.analysis import Analysis
    from worker.tts.synthesis.voice import VoiceState

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]


# --- enrollment -------------------------------------------------------------------------


def enroll_voice(ctx: WorkerContext, voice_id: str) -> None:
    from worker.tts.checks.reference import clean_reference
    from worker.tts.checks.reference_report import ReferenceRejected

    with ctx.sessions() as s:
        voice = s.get(Voice, voice_id)
        if voice is None:
            log.warning("enroll: voice %s no longer exists", voice_id)
            return
        if voice.status in (VoiceStatus.ready.value, VoiceStatus.deleted.value):
            return  # redelivered after success, or deleted (and purged) before enrollment began
        ref = s.scalars(
            select(ReferenceAudio).where(ReferenceAudio.voice_id == voice_id).order_by(ReferenceAudio.created_at.desc())
        ).first()
        consent = s.get(Consent, voice.consent_id) if voice.consent_id else None
        tenant_id, language = voice.tenant_id, voice.language
    if ref is None:
        fail_voice(ctx, voice_id, "the voice has no reference audio")
        return
    if not in_force(consent):
        fail_voice(ctx, voice_id, "consent_required: the voice has no verified, unrevoked consent")
        return
    if not same_language(consent.language, language):
        fail_voice(ctx, voice_id, f"consent_language_mismatch: the consent was given in {consent.language!r}, "
                                  f"the voice is {language!r}")
        return
    ref_id, original_key, consent_key = ref.id, ref.original_key, consent.recording_key

    data = ctx.storage.get(original_key)
    models = ctx.models
    try:
        cleaned = clean_reference(data, speaker_encoder=models.encoder, language=language,
                                  language_id=models.transcriber, limits=AudioLimits.reference(ctx.settings))
    except ReferenceRejected as exc:
        report = exc.report.to_dict() if exc.report is not None else None
        with ctx.sessions.begin() as s:
            ref_row = s.get(ReferenceAudio, ref_id)
            if ref_row is not None:
                ref_row.qa_report = report
        fail_voice(ctx, voice_id, f"reference audio rejected: {exc}")
        return

    from worker.tts.synthesis.audio import sha256, to_wav_bytes
    from worker.tts.checks.decode import decode_audio

    try:
        consent_audio = decode_audio(ctx.storage.get(consent_key), AudioLimits.consent(ctx.settings))
    except ReferenceRejected as exc:
        fail_voice(ctx, voice_id, f"consent recording unusable: {exc}")
        return
    similarity, mismatch = same_speaker(models, consent_audio, (cleaned.audio, 24000),
                                        ctx.settings.consent_speaker_threshold)
    if mismatch:
        fail_voice(ctx, voice_id, mismatch)
        return

    cleaned_key = keys.reference_key(tenant_id, voice_id, ref_id, "cleaned.wav")
    ctx.storage.put(cleaned_key, to_wav_bytes(cleaned.audio, 24000), "audio/wav")
    state = models.enroll(cleaned.audio, 24000, language)

    with ctx.sessions.begin() as s:
        voice = s.get(Voice, voice_id, with_for_update=True)  # serialises with a revocation
        if voice is None or voice.status == VoiceStatus.deleted.value:
            ctx.storage.delete(cleaned_key)  # deleted mid-enrollment: the purge may already have run
            return
        version = (s.scalar(select(func.max(VoiceVersion.version)).where(VoiceVersion.voice_id == voice_id)) or 0) + 1
        blob = state.to_bytes()
        state_key = keys.voice_state_key(tenant_id, voice_id, version)
        ctx.storage.put(state_key, blob)
        vv = VoiceVersion(
            voice_id=voice_id,
            version=version,
            state_key=state_key,
            state_sha256=sha256(blob),
            engine=models.engine.name,
            engine_version=state.engine_version,
            method=state.method,
            metrics={**state.metrics, "reference_qa": cleaned.report.to_dict(),
                     "consent_similarity": round(similarity, 4)},
        )
        s.add(vv)
        s.flush()
        ref_row = s.get(ReferenceAudio, ref_id)
        if ref_row is not None:
            ref_row.cleaned_key = cleaned_key
            ref_row.qa_report = cleaned.report.to_dict()
            ref_row.duration_s = round(len(cleaned.audio) / 24000, 3)
        voice.current_version_id = vv.id
        voice.status = VoiceStatus.ready.value
        voice.error = None
        record(s, tenant_id, "worker", "voice.ready", "voice", voice_id, version=version, method=state.method)
        deliveries = webhooks.emit_voice_settled(s, voice)
    send_webhooks(ctx, deliveries)
    log.info("voice %s ready (version %d)", voice_id, version)


def fail_voice(ctx: WorkerContext, voice_id: str, reason: str) -> None:
    with ctx.sessions.begin() as s:
        voice = s.get(Voice, voice_id)
        if voice is None or voice.status == VoiceStatus.deleted.value:
            return
        voice.status = VoiceStatus.failed.value
        voice.error = reason
        record(s, voice.tenant_id, "worker", "voice.failed", "voice", voice_id, reason=reason)
        deliveries = webhooks.emit_voice_settled(s, voice)
    send_webhooks(ctx, deliveries)
    log.info("voice %s failed: %s", voice_id, reason)


def send_webhooks(ctx: WorkerContext, delivery_ids: list[str]) -> None:
    """Enqueue deliveries whose rows just committed (the sweeper covers a lost message)."""
    for delivery_id in delivery_ids:
        ctx.enqueue(DELIVER_WEBHOOK, delivery_id)


def check_statement(models, audio: np.ndarray, sample_rate: int, statement: str, language: str,  # type: ignore[no-untyped-def]
                    limit: float, phrases: list[str]) -> dict[str, Any]:
    """Does a recording say ``statement``, with every key phrase (name, company, code) in it?
    Speech recognition decides; returns the verification record."""
    from worker.tts.checks.scoring import error_rate
    from worker.tts.text.sounds_like import mentions

    transcript = models.transcriber.transcribe(audio, sample_rate, language=language).text
    errors = error_rate(statement, transcript, language)
    missing = [p for p in phrases if not mentions(transcript, p, language)]
    reason = None
    if errors > limit:
        reason = f"the recording does not say the consent statement (error rate {errors:.0%} > {limit:.0%})"
    elif missing:
        reason = f"the recording does not say {', '.join(repr(p) for p in missing)} as the statement does"
    return {"transcript": transcript, "error_rate": round(errors, 4), "max_error_rate": limit, "reason": reason}


def same_speaker(models, consent: tuple[np.ndarray, int], reference: tuple[np.ndarray, int],  # type: ignore[no-untyped-def]
                 threshold: float) -> tuple[float, str | None]:
    """Cosine of the two recordings' speaker embeddings, and the refusal reason when too low."""
    from worker.tts.checks.speaker import cosine

    similarity = cosine(models.encoder.embed(*consent), models.encoder.embed(*reference))
    if similarity >= threshold:
        return similarity, None
    return similarity, (f"consent_mismatch: the reference does not sound like the speaker who recorded the consent "
                        f"(similarity {similarity:.2f} < {threshold:.2f})")


def verify_consent(ctx: WorkerContext, consent_id: str) -> None:
    """The consent's recording must say the statement generated for it."""
    from worker.tts.checks.decode import decode_audio
    from worker.tts.checks.reference_report import ReferenceRejected

    with ctx.sessions() as s:
        consent = s.get(Consent, consent_id)
        if consent is None or consent.status != ConsentStatus.verifying.value or not consent.recording_key:
            return  # redelivered, or revoked meanwhile
        statement, language, key = consent.statement, consent.language, consent.recording_key
        phrases = key_phrases(consent.speaker_name, consent.company_name, consent.code)
    limit = ctx.settings.consent_max_error_rate
    try:
        audio, sr = decode_audio(ctx.storage.get(key), AudioLimits.consent(ctx.settings))
        verification = check_statement(ctx.models, audio, sr, statement, language, limit, phrases)
    except ReferenceRejected as exc:
        verification = {"transcript": "", "error_rate": 1.0, "max_error_rate": limit,
                        "reason": f"the recording could not be decoded: {exc}"}
    with ctx.sessions.begin() as s:
        consent = s.get(Consent, consent_id)
        if consent is None or consent.status != ConsentStatus.verifying.value:
            return
        ok = verification["reason"] is None
        consent.status = (ConsentStatus.verified if ok else ConsentStatus.rejected).value
        consent.verified_at = utcnow() if ok else None
        consent.verification = verification
        record(s, consent.tenant_id, "worker", f"consent.{consent.status}", "consent", consent_id,
               error_rate=verification["error_rate"])
    log.info("consent %s %s", consent_id, consent.status)


def refuse_consent(ctx: WorkerContext, consent_id: str, reason: str) -> None:
    """A consent whose check could not run (its message was set aside): rejected with the
    reason, as a recording that failed the check would be; the speaker records again."""
    with ctx.sessions.begin() as s:
        consent = s.get(Consent, consent_id)
        if consent is None or consent.status != ConsentStatus.verifying.value:
            return
        consent.status = ConsentStatus.rejected.value
        consent.verification = {"transcript": "", "error_rate": 1.0,
                                "max_error_rate": ctx.settings.consent_max_error_rate, "reason": reason}
        record(s, consent.tenant_id, "worker", "consent.rejected", "consent", consent_id, reason=reason)
    log.info("consent %s rejected: %s", consent_id, reason)


# --- batches ----------------------------------------------------------------------------


def plan_batch(ctx: WorkerContext, batch_id: str, dispatch: Dispatch) -> int:
    """Read an uploaded source into items (streamed, in chunks), mark the batch running and
    hand its first window of items to the broker; returns how many were dispatched.

    Later items are dispatched as earlier ones finish (``after_item``). In embedded
    mode every item is dispatched here, since ``dispatch`` runs it in-process.
    """
    with ctx.sessions.begin() as s:
        batch = s.get(Batch, batch_id)
        if batch is None or batch.status == BatchStatus.cancelled.value:
            return 0
        if batch.status == BatchStatus.queued.value:
            batch.status = BatchStatus.running.value
        planning = batch.status == BatchStatus.planning.value
        batch.planner_seen_at = utcnow()
    sent = 0
    if planning:
        def early() -> None:  # the first chunks render while the rest of the source is read
            nonlocal sent
            if not ctx.settings.embedded:
                sent += batching.dispatch_window(ctx, batch_id, dispatch)

        batching.ingest_source(ctx, batch_id, on_chunk=early)
    while True:
        n = batching.dispatch_window(ctx, batch_id, dispatch)
        sent += n
        if n == 0 or not ctx.settings.embedded:
            break
    finish_batch_if_done(ctx.sessions, ctx.storage, batch_id, notify=lambda ids: send_webhooks(ctx, ids))
    return sent


@dataclass(frozen=True)
class Claim:
    """A claimed item and everything it renders with, read in the claim's own transaction."""
    tenant_id: str
    batch_id: str | None
    seq: int
    text: str
    voice_id: str
    params: dict[str, Any]
    cancelled: bool
    version: tuple[str, str] | None  # the voice's current (version id, state key)
    consented: bool
    lexicon_version: int
    adapter: ActiveAdapter | None


def claim_item(ctx: WorkerContext, item_id: str) -> Claim | None:
    """queued → running, atomically: a redelivered message for an item another worker is
    rendering does nothing (None). A ``running`` claim older than the lease belonged to a
    worker that died mid-item, so it may be taken over.

    The claim is one statement that commits itself and reads everything the item renders
    with (``worker.item_sql``): round trips are most of what an item costs beyond its render."""
    now = utcnow()
    expired = now - timedelta(seconds=ctx.settings.item_lease_seconds)
    claim = {"item_id": item_id, "expired": expired, "now": now}
    with ctx.autocommit.connect() as conn:
        if conn.dialect.name == "postgresql":
            row = conn.execute(item_sql.CLAIMED, claim).first()
        elif conn.execute(item_sql.CLAIM, claim).first() is not None:  # SQLite: no UPDATE inside WITH
            row = conn.execute(item_sql.CLAIM_READS, claim).first()
        else:
            row = None
    if row is None:
        return None
    (tenant_id, batch_id, seq, text, voice_id, params, batch_status, version_id, state_key, consented, lexicon_now,
     *run) = row
    return Claim(
        tenant_id=tenant_id, batch_id=batch_id, seq=seq, text=text, voice_id=voice_id, params=dict(params or {}),
        cancelled=batch_status is None or batch_status == BatchStatus.cancelled.value,
        version=(version_id, state_key) if version_id else None, consented=bool(consented),
        lexicon_version=int(lexicon_now), adapter=adapter_of(*run),
    )


def sweep_stuck_items(ctx: WorkerContext, enqueue: Enqueue) -> int:
    """Requeue items whose worker died mid-render (``running`` past the lease); returns how many.
    One that has used its ``item_max_attempts`` claims is failed instead (the sweeper's count
    is the claims'): an item that kills its worker must not be handed to the next one forever.

    The broker redelivers an unacknowledged message eventually, but only after its
    visibility timeout; the sweeper makes recovery prompt and covers a lost message.

    Each message is published before its item is marked ``queued``: were the broker down,
    the item stays ``running`` past its lease and the next sweep tries again, instead of
    waiting ``queued`` for a message that was never sent. (``claim_item`` accepts either.)
    """
    expired = utcnow() - timedelta(seconds=ctx.settings.item_lease_seconds)
    with ctx.sessions() as s:
        stuck = s.execute(select(Item.id, Item.attempts).where(Item.status == ItemStatus.running.value,
                                                               Item.started_at < expired).limit(1000)).all()
    for item_id, attempts in stuck:
        if attempts >= ctx.settings.item_max_attempts:  # it takes its worker down: no more tries
            finish_item(ctx, item_id, ItemStatus.failed,
                        error=f"worker_lost: the item's worker stopped mid-render on each of {attempts} attempts; "
                              "it is not tried again")
            log.warning("failed item %s: its worker stopped on each of %d attempts", item_id, attempts,
                        extra={"item_id": item_id})
            continue
        enqueue(item_id)
        with ctx.sessions.begin() as s:  # unless a worker claimed it from that message already
            s.execute(update(Item).where(Item.id == item_id, Item.status == ItemStatus.running.value,
                                         Item.started_at < expired).values(status=ItemStatus.queued.value))
        log.warning("requeued item %s: its worker stopped mid-render", item_id, extra={"item_id": item_id})
    return len(stuck)


def replan_stalled(ctx: WorkerContext, send_plan: Dispatch) -> int:
    """Plan again the batches whose planner is gone; returns how many.

    A batch waits in ``planning`` (source being read) or ``queued`` (not yet started) for
    its planning task. When that task's worker died, or its message was lost, nothing else
    moves the batch. Planning is resumable and idempotent (``batching.ingest_source`` skips
    stored lines, ``dispatch_window`` moves a locked cursor), so a second planner for a
    batch whose first one was merely slow does no harm. The heartbeat is reset here so
    the next sweep waits a whole lease for the new planner.
    """
    expired = utcnow() - timedelta(seconds=ctx.settings.plan_lease_seconds)
    waiting = (BatchStatus.planning.value, BatchStatus.queued.value)
    with ctx.sessions.begin() as s:
        stalled = s.execute(select(Batch.id, Batch.status, Batch.total).where(
            Batch.finished_at.is_(None), Batch.status.in_(waiting),
            func.coalesce(Batch.planner_seen_at, Batch.created_at) < expired).limit(100)).all()
        if stalled:
            s.execute(update(Batch).where(Batch.id.in_([b.id for b in stalled])).values(planner_seen_at=utcnow()))
    for batch_id, status, total in stalled:  # the queue the API would have picked
        send_plan(batch_id, "synth" if status == BatchStatus.planning.value
                  else synth_queue(total, ctx.settings.interactive_max_items))
        log.warning("planning batch %s again: its planner stopped", batch_id, extra={"batch_id": batch_id})
    return len(stalled)


def settle_idle_batches(ctx: WorkerContext, notify: Callable[[list[str]], None] | None = None) -> int:
    """Settle unfinished batches that have nothing left to run; returns how many.

    The worker that finishes a batch's last item settles the batch on its background thread,
    after the item's message was acknowledged (``after_item``). When that failed (storage
    down while the manifest was written, the worker killed in between), no message is left
    to retry it, so the sweeper settles the batch.
    """
    unfinished = (ItemStatus.queued.value, ItemStatus.running.value)
    with ctx.sessions() as s:
        idle = list(s.scalars(select(Batch.id).where(
            Batch.finished_at.is_(None), Batch.status != BatchStatus.planning.value,
            ~select(Item.id).where(Item.batch_id == Batch.id, Item.status.in_(unfinished)).exists(),
        ).limit(100)))
    for batch_id in idle:
        log.warning("settling batch %s: its last item finished without settling it", batch_id,
                    extra={"batch_id": batch_id})
        finish_batch_if_done(ctx.sessions, ctx.storage, batch_id, notify=notify)
    return len(idle)


def retry_or_fail(ctx: WorkerContext, item_id: str, exc: BaseException) -> bool:
    """An item's render raised something no step expected (a bug, corrupt stored data):
    released for another try while it has been claimed fewer than ``item_max_attempts``
    times (True), else failed with the reason (False), so the batch still settles."""
    cap = ctx.settings.item_max_attempts
    with ctx.sessions() as s:
        attempts = s.scalar(select(Item.attempts).where(Item.id == item_id)) or 0
    if attempts < cap:
        release_item(ctx, item_id)
        return True
    finish_item(ctx, item_id, ItemStatus.failed,
                error=f"internal_error: the render failed unexpectedly on each of {attempts} attempts "
                      f"({type(exc).__name__}: {str(exc)[:300]}); it is not tried again")
    return False


def fail_unfinished_item(ctx: WorkerContext, item_id: str, reason: str) -> None:
    """Fail an item that has not finished (its message was set aside); a finished one stays."""
    with ctx.sessions() as s:
        status = s.scalar(select(Item.status).where(Item.id == item_id))
    if status in (ItemStatus.queued.value, ItemStatus.running.value):
        finish_item(ctx, item_id, ItemStatus.failed, error=reason)


def release_item(ctx: WorkerContext, item_id: str) -> None:
    """running → queued, so a retried delivery can claim the item again."""
    with ctx.sessions.begin() as s:
        s.execute(update(Item).where(Item.id == item_id, Item.status == ItemStatus.running.value)
                  .values(status=ItemStatus.queued.value))


def synthesize_item(ctx: WorkerContext, item_id: str) -> None:
    """Claim the item and render it, keeping the claim alive meanwhile; a message for an
    item that is not claimable (finished, or another worker's live claim) does nothing.
    The task follows it with ``after_item``, whatever happened here."""
    claim = claim_item(ctx, item_id)
    if claim is None:
        return
    with ctx.leases.held(item_id):
        render_claimed_item(ctx, item_id, claim)


def render_claimed_item(ctx: WorkerContext, item_id: str, job: Claim) -> None:
    from worker.tts.synthesis.audio import sha256

    logs.bind(tenant_id=job.tenant_id, batch_id=job.batch_id, voice_id=job.voice_id)
    if job.cancelled:
        finish_item(ctx, item_id, ItemStatus.cancelled, error="batch cancelled")
        return
    if not job.consented:
        finish_item(ctx, item_id, ItemStatus.failed, error="consent_revoked: the voice's consent is not in force")
        return
    if job.version is None:
        finish_item(ctx, item_id, ItemStatus.failed, error="voice_not_ready: the voice has no ready version")
        return
    version_id, state_key = job.version
    adapter = job.adapter
    upload = ItemUpload(ctx.storage, keys.item_key(job.tenant_id, job.batch_id, job.seq), item_id,
                        ctx.keys.watermark, ctx.uploads)
    try:
        speed = float(job.params.get("speed", 1.0))
        models = ctx.models
        compiled = models.lexicon(job.tenant_id, job.voice_id, job.lexicon_version,
                                  lambda: load_lexicon(ctx, job.tenant_id, job.voice_id, job.lexicon_version))
        frontend = models.frontend if adapter is None else models.adapted_frontend(
            adapter.run_id, adapter.version, adapter.chars, lambda: ctx.storage.get(adapter.key))
        started = time.perf_counter()
        analysis = frontend.analyze(job.text, compiled)
        model_s = time.perf_counter() - started
        if not any(ch.isalnum() for ch in analysis.normalized):
            raise NarratorError("the text has nothing to speak (only punctuation or symbols)")
        phonemes = "|".join(sentence.phonemes for sentence in analysis.sentences)
        used = [[f.lang, f.word.lower(), f.reading] for f in analysis.lexicon_matches()]
        content_hash = render_hash(version_id, analysis.normalized, phonemes, speed, models.engine.version,
                                   lexicon=used)
        recorded = {"lexicon_version": job.lexicon_version,
                    "readings": {**readings_used(analysis), "adapter_version": adapter.version if adapter else None}}
        if reuse_cached(ctx, item_id, job, content_hash, **recorded):
            verify_feedback(ctx, job.tenant_id, item_id, analysis)
            return
        state = voice_state(ctx, version_id, state_key)
        started = time.perf_counter()
        rendered, report = render_checked(models, ctx.metrics, analysis, state, speed, on_render=upload.send)
        model_s += time.perf_counter() - started
        wav = upload.kept(rendered)
    except (NarratorError, ValueError) as exc:
        upload.discard()
        finish_item(ctx, item_id, ItemStatus.failed, error=f"invalid_input: {exc}")
        return
    except BaseException:
        upload.discard()
        raise
    finish_item(
        ctx, item_id, ItemStatus.succeeded if report.passed else ItemStatus.needs_review,
        storage_key=upload.key, checksum=sha256(wav), duration_s=round(rendered.duration_s, 3),
        voice_version_id=version_id, normalized_text=analysis.normalized, content_hash=content_hash,
        # model_ms: the frontend, renders and gate; the rest of the item's time is the service's
        quality={**report.to_dict(), "model_ms": round(1000 * model_s, 1)},
        error=None if report.passed else "; ".join(report.reasons), **recorded,
    )
    verify_feedback(ctx, job.tenant_id, item_id, analysis)


def voice_state(ctx: WorkerContext, version_id: str, state_key: str, gated: bool = True) -> VoiceState:
    """A voice version's state: a stock pack from the model cache (``shared.stock_voices``),
    else the tenant's stored state. ``gated=False`` (streams) spares a stock voice the
    speaker embedding only the quality gate reads."""
    pack = stock_voices.pack_of(state_key)
    if pack is not None:
        return ctx.models.stock_voice(pack, gated=gated)
    return ctx.models.voice(version_id, lambda: ctx.storage.get(state_key))  # type: ignore[no-any-return]


def load_lexicon(ctx: WorkerContext, tenant_id: str, voice_id: str, version: int) -> Lexicon:
    """The tenant's lexicon at ``version``, the voice's own entries over the tenant-wide ones."""
    with ctx.sessions() as s:
        entries = lexicon.render_lexicon(s, tenant_id, voice_id, version)
    return Lexicon.merged(version, entries, voice_id)


def readings_used(analysis: Analysis) -> dict[str, Any]:
    """What the render said, kept on the item so a reviewer (and a test) can see it."""
    return {
        "pinyin": " ".join(p for _, p in analysis.pinyin()),
        "phonemes": [sentence.phonemes for sentence in analysis.sentences],
        "forced": [f.to_json() for f in analysis.forced],
        "warnings": analysis.warnings(),  # characters left unsaid (no reading known)
    }


def verify_feedback(ctx: WorkerContext, tenant_id: str, item_id: str, analysis: Analysis) -> None:
    """Applied feedback whose lexicon entry this render used is now verified."""
    used = {f.entry_id: f for f in analysis.lexicon_matches() if f.entry_id}
    if not used:
        return
    with ctx.sessions.begin() as s:
        rows = s.scalars(select(Feedback).where(
            Feedback.tenant_id == tenant_id, Feedback.state == FeedbackState.applied.value,
            Feedback.lexicon_entry_id.in_(list(used)))).all()
        for fb in rows:
            fb.state = FeedbackState.verified.value
            fb.updated_at = utcnow()
            record(s, tenant_id, "worker", "feedback.verified", "feedback", fb.id, item_id=item_id,
                   word=fb.word, reading=used[fb.lexicon_entry_id or ""].reading)


def after_item(ctx: WorkerContext, item_id: str, dispatch: Dispatch, defer: Defer = run_now) -> None:
    """What an item's end sets off, decided by one read once its row has committed: its
    audio is withdrawn if the consent was revoked meanwhile, its batch is settled when
    nothing is left to run, and the batch's window is topped up when a tenth of it is free.

    The read and a withdrawal happen here, before the task acknowledges its message, so
    a worker killed after the item's commit leaves a message whose redelivery does them
    (the claim finds the item finished; this runs all the same). The settling and the
    top-up, which nothing waits for, go to ``defer`` (a worker runs them on its background
    thread while the next item renders); lost with a killed worker, they have sweepers:
    ``settle_idle_batches`` and ``batching.refill_stalled``.
    """
    with ctx.autocommit.connect() as conn:
        row = conn.execute(item_sql.AFTER_ITEM, {"item_id": item_id}).first()
    if row is None:
        return
    storage_key, in_force_now, batch_id, status, total, cursor, settled_at, unfinished, in_broker = row
    if storage_key is not None and not in_force_now:
        withdraw(ctx, item_id, storage_key)
    if batch_id is None or settled_at is not None:
        return
    if not unfinished:
        defer(lambda: finish_batch_if_done(ctx.sessions, ctx.storage, batch_id,
                                           notify=lambda ids: send_webhooks(ctx, ids)))
    elif batching.wants_top_up(ctx.settings, status, total, cursor, in_broker):
        defer(lambda: batching.dispatch_window(ctx, batch_id, dispatch))


def withdraw(ctx: WorkerContext, item_id: str, storage_key: str) -> None:
    """Consent revoked while this item rendered: its audio must not outlive the purge.

    Decided after the item's row is committed (``after_item``): a purge that ran before
    that commit could not see the audio, and the check then sees the revocation (which
    precedes the purge).
    """
    ctx.storage.delete(storage_key)
    with ctx.sessions.begin() as s:
        item = s.get(Item, item_id)
        if item is not None:
            item.status = ItemStatus.failed.value
            item.storage_key = item.checksum = item.content_hash = None
            item.error = "consent_revoked: the consent was revoked while this item rendered"
    log.info("item %s withdrawn: consent revoked mid-render", item_id)


def render_hash(version_id: str, normalized: str, phonemes: str, speed: float, engine_version: str,
                lexicon: list[list[str]] | None = None) -> str:
    """Everything the audio depends on. ``lexicon`` is the entries that matched the text
    (language, word, reading): a lexicon change invalidates the renders of the texts it
    touches and no others (the phonemes would differ too; the entries make it explicit)."""
    payload = json.dumps([version_id, normalized, phonemes, round(speed, 3), engine_version, lexicon or []],
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def reuse_cached(ctx: WorkerContext, item_id: str, job: Claim, content_hash: str, **recorded: Any) -> bool:
    """Deliver an earlier render of identical content (same tenant) without calling the model;
    ``recorded`` are this render's own facts (lexicon version, readings) to store on the item.

    The bytes are copied as they are, so the file carries the earlier item's watermark: the
    same tenant and voice version (both are in the content hash's scope), another item id."""
    with ctx.autocommit.connect() as conn:
        prior = conn.execute(item_sql.PRIOR_RENDER, {"tenant_id": job.tenant_id, "content_hash": content_hash,
                                                     "item_id": item_id}).mappings().first()
    if prior is None:
        return False
    source = dict(prior)
    # the gate's verdict holds for the same audio; the model time was the earlier item's
    source["quality"] = {k: v for k, v in (source["quality"] or {}).items() if k != "model_ms"}
    try:
        data = ctx.storage.get(source["storage_key"])
    except ObjectNotFound:
        return False  # the earlier audio was deleted: render afresh
    key = keys.item_key(job.tenant_id, job.batch_id, job.seq)
    ctx.storage.put(key, data, "audio/wav")
    ctx.metrics.cache_hits.inc()
    finish_item(ctx, item_id, ItemStatus(source.pop("status")), **{**source, "storage_key": key},
                content_hash=content_hash, reused=True, **recorded)
    return True


def render_checked(models, metrics, analysis, state, speed: float,  # type: ignore[no-untyped-def]
                   on_render: Callable[[Any], None] | None = None):
    """Render and pass through the quality gate, best of N: a failing render is retried
    (slightly slower on each retry, which changes Kokoro's alignment) and the best one
    is kept; if none passes, the caller marks the item ``needs_review`` with the reasons.
    ``on_render`` gets each render before its check (the upload starts there)."""
    from worker.tts.synthesis.pipeline import SynthesisConfig
    from worker.tts.checks.quality import best_of

    gate = models.gate(state)
    renders: dict[int, object] = {}

    def render(attempt: int):  # type: ignore[no-untyped-def]
        config = SynthesisConfig(speed=max(0.5, speed * (1.0 - 0.05 * attempt)))
        started = time.perf_counter()
        rendered = models.synthesizer.render_analysis(analysis, state, config)
        if rendered.audio.size == 0:
            raise NarratorError("the text has nothing to speak after normalization")
        metrics.rtf.observe((time.perf_counter() - started) / rendered.duration_s)
        renders[attempt] = rendered
        if on_render is not None:
            on_render(rendered)
        return rendered.audio

    def check(audio):  # type: ignore[no-untyped-def]
        return gate.check(audio, models.engine.sample_rate, analysis.normalized, dominant_language(analysis),
                          state.embedding)

    _, report, attempt = best_of(render, check, gate.config.attempts)
    return renders[attempt], report


def dominant_language(analysis) -> str:  # type: ignore[no-untyped-def]
    """Score Chinese by characters whenever any Chinese is spoken; pure English by words."""
    langs = {seg.lang for sentence in analysis.sentences for seg in sentence.segments}
    return "zh" if "zh" in langs else "en"


def finish_item(ctx: WorkerContext, item_id: str, status: ItemStatus, **values: Any) -> None:
    """Record the item's outcome: the one durable step of its end (``after_item`` does the rest)."""
    with ctx.autocommit.connect() as conn:
        batch_id = conn.scalar(item_sql.FINISH, {"item_id": item_id, "status": status.value, "finished_at": utcnow(),
                                                 **values})
    if batch_id is None:
        return
    error = values.get("error")
    reason = "none" if status == ItemStatus.succeeded else (error.split(":", 1)[0] if error and ":" in error[:40]
                                                            else "quality_gate" if status == ItemStatus.needs_review
                                                            else status.value)
    ctx.metrics.items.labels(status.value, reason).inc()
    log.info("item %s %s", item_id, status.value, extra={"batch_id": batch_id, "item_id": item_id})
