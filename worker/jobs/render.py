"""An item's render: claim → render (best of N through the quality gate) or reuse a cached
render → deliver (watermarked upload, ``worker.delivery``) → finish (``worker.jobs.finish``).

The render function is a parameter (``synthesize_item(..., render=...)``): a benchmark
times the model work by handing in a wrapped ``render_checked``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from shared import lexicon, logs, stock_voices, storage_keys
from shared.audio_formats import content_type_of
from shared.errors import InvalidInput, NarratorError, VoiceNotReady
from shared.finetune import ActiveAdapter, adapter_of
from shared.metrics import Metrics
from shared.models import BatchStatus, ItemStatus, utcnow
from shared.pronunciation.lexicon import Lexicon
from shared.storage import ObjectNotFound
from worker.context import WorkerContext
from worker.delivery import ItemUpload
from worker.jobs import item_sql
from worker.jobs.errors import ConsentRevoked
from worker.jobs.feedback import verify_feedback
from worker.jobs.finish import fail_item, finish_item
from worker.tts.checks.quality import GateReport, best_of
from worker.tts.synthesis.audio import sha256
from worker.tts.synthesis.voice import VoiceState

if TYPE_CHECKING:  # the model stack: imported where it runs (``WorkerContext.models``), not by every task module
    from worker.model_cache import ModelCache
    from worker.tts.synthesis.pipeline import Rendered
    from worker.tts.text.analysis import Analysis
    from worker.tts.text.frontend import Frontend

log = logging.getLogger(__name__)


class Render(Protocol):
    """Renders an analysed text through the quality gate: ``render_checked``, or a wrapper of
    it (a benchmark timing the model work)."""

    def __call__(self, models: ModelCache, metrics: Metrics, analysis: Analysis, state: VoiceState, speed: float,
                 on_render: Callable[[Rendered], None] | None = None) -> tuple[Rendered, GateReport]: ...


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

    @property
    def output_format(self) -> str:
        """What the batch's files are stored as (``shared.audio_types.FILE_FORMATS``)."""
        return str(self.params.get("output_format") or "wav")

    @property
    def key(self) -> str:
        """The item's one storage key, with its format's extension."""
        return storage_keys.item_key(self.tenant_id, str(self.batch_id), self.seq, self.output_format)


def claim_item(ctx: WorkerContext, item_id: str) -> Claim | None:
    """queued → running, atomically: a redelivered message for an item another worker is
    rendering does nothing (None). A ``running`` claim older than the lease belonged to a
    worker that died mid-item, so it may be taken over.

    The claim is one statement that commits itself and reads everything the item renders
    with (``worker.jobs.item_sql``): round trips are most of what an item costs beyond its render."""
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


def synthesize_item(ctx: WorkerContext, item_id: str, render: Render | None = None) -> None:
    """Claim the item and render it (with ``render``, ``render_checked`` unless given),
    keeping the claim alive meanwhile; a message for an item that is not claimable
    (finished, or another worker's live claim) does nothing. The task follows it with
    ``worker.jobs.finish.after_item``, whatever happened here."""
    claim = claim_item(ctx, item_id)
    if claim is None:
        return
    with ctx.leases.held(item_id):
        render_claimed_item(ctx, item_id, claim, render or render_checked)


def refusal(job: Claim) -> NarratorError | None:
    """Why a claimed item may not render now: its voice's consent is not in force, or the
    voice has no ready version (a cancelled batch is not a failure: the caller checks it)."""
    if not job.consented:
        return ConsentRevoked("the voice's consent is not in force")
    if job.version is None:
        return VoiceNotReady("the voice has no ready version")
    return None


def analyze(ctx: WorkerContext, job: Claim, frontend: Frontend) -> Analysis:
    """The item's text as ``frontend`` reads it with the tenant's lexicon at the claimed
    version. What fails here is the caller's input — an inline reading, a lexicon entry
    (the frontend raises ``ValueError``), a text with nothing to speak — so it is
    ``InvalidInput``: recorded on the row, never retried."""
    try:
        compiled = ctx.models.lexicon(job.tenant_id, job.voice_id, job.lexicon_version,
                                      lambda: load_lexicon(ctx, job.tenant_id, job.voice_id, job.lexicon_version))
        analysis = frontend.analyze(job.text, compiled)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if not any(ch.isalnum() for ch in analysis.normalized):
        raise InvalidInput("the text has nothing to speak (only punctuation or symbols)")
    return analysis


def render_claimed_item(ctx: WorkerContext, item_id: str, job: Claim, render: Render) -> None:
    logs.bind(tenant_id=job.tenant_id, batch_id=job.batch_id, voice_id=job.voice_id)
    if job.cancelled:
        finish_item(ctx, item_id, ItemStatus.cancelled, error="batch cancelled")
        return
    refused = refusal(job)
    if refused is not None:
        fail_item(ctx, item_id, refused)
        return
    assert job.version is not None  # refusal() checked it
    version_id, state_key = job.version
    adapter = job.adapter
    upload = ItemUpload(ctx.storage, job.key, item_id, ctx.keys.watermark, ctx.uploads)
    try:
        speed = float(job.params.get("speed", 1.0))
        models = ctx.models
        frontend = models.frontend if adapter is None else models.adapted_frontend(
            adapter.run_id, adapter.version, adapter.chars, lambda: ctx.storage.get(adapter.key))
        started = time.perf_counter()
        analysis = analyze(ctx, job, frontend)
        model_s = time.perf_counter() - started
        phonemes = "|".join(sentence.phonemes for sentence in analysis.sentences)
        used = [[f.lang, f.word.lower(), f.reading] for f in analysis.lexicon_matches()]
        content_hash = render_hash(version_id, analysis.normalized, phonemes, speed, models.engine.version,
                                   lexicon=used, output_format=job.output_format)
        recorded = {"lexicon_version": job.lexicon_version,
                    "readings": {**readings_used(analysis), "adapter_version": adapter.version if adapter else None}}
        if reuse_cached(ctx, item_id, job, content_hash, **recorded):
            verify_feedback(ctx, job.tenant_id, item_id, analysis)
            return
        state = voice_state(ctx, version_id, state_key)
        started = time.perf_counter()
        rendered, report = render(models, ctx.metrics, analysis, state, speed, on_render=upload.send)
        model_s += time.perf_counter() - started
        wav = upload.kept(rendered)
    except InvalidInput as exc:
        upload.discard()
        fail_item(ctx, item_id, exc)
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


def render_hash(version_id: str, normalized: str, phonemes: str, speed: float, engine_version: str,
                lexicon: list[list[str]] | None = None, output_format: str = "wav") -> str:
    """Everything the file depends on. ``lexicon`` is the entries that matched the text
    (language, word, reading): a lexicon change invalidates the renders of the texts it
    touches and no others (the phonemes would differ too; the entries make it explicit).
    A WAV's hash leaves the format out, as it did before there was a choice."""
    parts: list[Any] = [version_id, normalized, phonemes, round(speed, 3), engine_version, lexicon or []]
    payload = json.dumps(parts if output_format == "wav" else [*parts, output_format], ensure_ascii=False)
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
    key = job.key
    ctx.storage.put(key, data, content_type_of(key))
    ctx.metrics.cache_hits.inc()
    finish_item(ctx, item_id, ItemStatus(source.pop("status")), **{**source, "storage_key": key},
                content_hash=content_hash, reused=True, **recorded)
    return True


def render_checked(models: ModelCache, metrics: Metrics, analysis: Analysis, state: VoiceState, speed: float,
                   on_render: Callable[[Rendered], None] | None = None) -> tuple[Rendered, GateReport]:
    """Render and pass through the quality gate, best of N: a failing render is retried
    (slightly slower on each retry, which changes Kokoro's alignment) and the best one
    is kept; if none passes, the caller marks the item ``needs_review`` with the reasons.
    ``on_render`` gets each render before its check (the upload starts there)."""
    # deferred: the synthesis pipeline imports the frontend (seconds, and torch): only a process that renders loads it
    from worker.tts.synthesis.pipeline import SynthesisConfig

    gate = models.gate(state)
    renders: dict[int, Rendered] = {}

    def render(attempt: int) -> np.ndarray:
        config = SynthesisConfig(speed=max(0.5, speed * (1.0 - 0.05 * attempt)))
        started = time.perf_counter()
        rendered = models.synthesizer.render_analysis(analysis, state, config)
        if rendered.audio.size == 0:
            raise InvalidInput("the text has nothing to speak after normalization")
        metrics.rtf.observe((time.perf_counter() - started) / rendered.duration_s)
        renders[attempt] = rendered
        if on_render is not None:
            on_render(rendered)
        return rendered.audio

    def check(audio: np.ndarray) -> GateReport:
        return gate.check(audio, models.engine.sample_rate, analysis.normalized, dominant_language(analysis),
                          state.embedding)

    _, report, attempt = best_of(render, check, gate.config.attempts)
    return renders[attempt], report


def dominant_language(analysis: Analysis) -> str:
    """Score Chinese by characters whenever any Chinese is spoken; pure English by words."""
    langs = {seg.lang for sentence in analysis.sentences for seg in sentence.segments}
    return "zh" if "zh" in langs else "en"
