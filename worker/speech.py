"""A speech stream's render: the item claimed like any other, its audio published chunk by
chunk on the stream's channel (``shared.speech_channel``) as the pipeline renders it.

A stream differs from a batch item in two things only. It skips the best-of-N quality
gate: the listener hears each chunk before the whole could be checked, and a retry could
not take back what was heard. And its audio leaves as it is made, so each chunk is
watermarked on its own with the item id (a chunk shorter than one watermark frame stays
unmarked). The rest is the same: the claim checks the voice's consent (a stock voice
needs none), the tenant's lexicon applies, the item row records the duration, the
stored file and the metrics (``items``, ``rtf``) count it, and the batch is settled.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from shared import keys, logs
from shared.errors import NarratorError
from shared.models import ItemStatus
from shared.speech_channel import Channels, pcm16
from worker import jobs
from worker.context import WorkerContext

log = logging.getLogger(__name__)


def stream_item(ctx: WorkerContext, item_id: str, channels: Channels) -> None:
    """Render the stream's item and publish it; every way out publishes ``end`` or ``error``."""
    claim = jobs.claim_item(ctx, item_id)
    if claim is None:  # finished, or another worker's live claim: its listener is gone or served
        return
    logs.bind(tenant_id=claim.tenant_id, batch_id=claim.batch_id, voice_id=claim.voice_id)
    refusal = (
        "batch cancelled" if claim.cancelled
        else "consent_revoked: the voice's consent is not in force" if not claim.consented
        else "voice_not_ready: the voice has no ready version" if claim.version is None else None
    )
    if refusal is not None:
        channels.publish(item_id, "error", refusal.encode())
        jobs.finish_item(ctx, item_id, ItemStatus.cancelled if claim.cancelled else ItemStatus.failed, error=refusal)
        return
    with ctx.leases.held(item_id):
        try:
            _render(ctx, item_id, claim, channels)
        except (NarratorError, ValueError) as exc:
            channels.publish(item_id, "error", f"invalid_input: {exc}".encode())
            jobs.finish_item(ctx, item_id, ItemStatus.failed, error=f"invalid_input: {exc}")
        except BaseException as exc:
            log.exception("speech stream %s failed mid-render", item_id)
            channels.publish(item_id, "error", f"render_failed: {type(exc).__name__}".encode())
            jobs.finish_item(ctx, item_id, ItemStatus.failed, error=f"render_failed: {exc}")
            if not isinstance(exc, Exception):
                raise


def _render(ctx: WorkerContext, item_id: str, claim: jobs.Claim, channels: Channels) -> None:
    from worker.tts.synthesis.audio import sha256, to_wav_bytes
    from worker.tts.synthesis.pipeline import SynthesisConfig
    from worker.tts.synthesis.watermark import mark_item

    assert claim.version is not None  # checked by the caller
    version_id, state_key = claim.version
    models = ctx.models
    started = time.perf_counter()
    compiled = models.lexicon(claim.tenant_id, claim.voice_id, claim.lexicon_version,
                              lambda: jobs.load_lexicon(ctx, claim.tenant_id, claim.voice_id, claim.lexicon_version))
    analysis = models.frontend.analyze(claim.text, compiled)
    if not any(ch.isalnum() for ch in analysis.normalized):
        raise NarratorError("the text has nothing to speak (only punctuation or symbols)")
    state = jobs.voice_state(ctx, version_id, state_key, gated=False)
    sr = models.engine.sample_rate
    config = SynthesisConfig(speed=float(claim.params.get("speed", 1.0)))
    pieces: list[np.ndarray] = []
    first_ms: float | None = None
    for piece in models.synthesizer.stream_audio(analysis, state, config):
        marked = mark_item(piece, sr, item_id, ctx.keys.watermark) if piece.any() else piece
        channels.publish(item_id, "audio", pcm16(marked))
        if first_ms is None:
            first_ms = 1000 * (time.perf_counter() - started)
        pieces.append(marked)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    if not audio.size:
        raise NarratorError("the text has nothing to speak after normalization")
    model_s = time.perf_counter() - started
    duration = len(audio) / sr
    channels.publish(item_id, "end", f"{duration:.3f}".encode())
    ctx.metrics.rtf.observe(model_s / duration)
    wav = to_wav_bytes(audio, sr)
    key = keys.item_key(claim.tenant_id, claim.batch_id, claim.seq)
    ctx.storage.put(key, wav, "audio/wav")
    jobs.finish_item(
        ctx, item_id, ItemStatus.succeeded, storage_key=key, checksum=sha256(wav), duration_s=round(duration, 3),
        voice_version_id=version_id, normalized_text=analysis.normalized, lexicon_version=claim.lexicon_version,
        readings=jobs.readings_used(analysis),
        quality={"gate": "skipped: streamed", "model_ms": round(1000 * model_s, 1),
                 "first_audio_ms": round(first_ms or 0.0, 1)},
    )
    log.info("speech stream %s: %.2f s of audio, first chunk after %.0f ms", item_id, duration, first_ms or 0.0)
