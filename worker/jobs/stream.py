"""A speech stream's render: the item claimed like any other, its audio published chunk by
chunk on the stream's channel (``shared.speech_channel``) as the pipeline renders it.

A stream differs from a batch item in two things only. It skips the best-of-N quality
gate: the listener hears each chunk before the whole could be checked, and a retry could
not take back what was heard. And its audio leaves as it is made, so each chunk is
watermarked on its own with the item id, in the watermark's layout from where the chunk
lies in the stream (each chunk padded to whole watermark frames): the stored file and a
recorded stream read as one mark (a chunk shorter than one watermark frame stays
unmarked). The rest is the same: the claim checks the voice's consent (a stock voice
needs none), the tenant's lexicon applies, the item row records the duration, the
stored file and the metrics (``items``, ``rtf``) count it, and the batch is settled.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from shared import logs
from shared.errors import InvalidInput
from shared.models import ItemStatus
from shared.speech_channel import Channels, pcm16
from worker.context import WorkerContext
from worker.jobs.errors import RenderFailed, recorded
from worker.jobs.finish import fail_item, finish_item
from worker.jobs.render import Claim, analyze, claim_item, readings_used, refusal, voice_state
from worker.tts.synthesis.audio import sha256, to_wav_bytes
from worker.tts.synthesis.watermark import mark_item, pad_to_frame

log = logging.getLogger(__name__)


def stream_item(ctx: WorkerContext, item_id: str, channels: Channels) -> None:
    """Render the stream's item and publish it; every way out publishes ``end`` or ``error``."""
    claim = claim_item(ctx, item_id)
    if claim is None:  # finished, or another worker's live claim: its listener is gone or served
        return
    logs.bind(tenant_id=claim.tenant_id, batch_id=claim.batch_id, voice_id=claim.voice_id)
    if claim.cancelled:
        channels.publish(item_id, "error", b"batch cancelled")
        finish_item(ctx, item_id, ItemStatus.cancelled, error="batch cancelled")
        return
    refused = refusal(claim)
    if refused is not None:
        channels.publish(item_id, "error", recorded(refused).encode())
        fail_item(ctx, item_id, refused)
        return
    with ctx.leases.held(item_id):
        try:
            _render(ctx, item_id, claim, channels)
        except InvalidInput as exc:
            channels.publish(item_id, "error", recorded(exc).encode())
            fail_item(ctx, item_id, exc)
        except BaseException as exc:
            log.exception("speech stream %s failed mid-render", item_id)
            channels.publish(item_id, "error", f"render_failed: {type(exc).__name__}".encode())
            fail_item(ctx, item_id, RenderFailed(str(exc)))
            if not isinstance(exc, Exception):
                raise


def _render(ctx: WorkerContext, item_id: str, claim: Claim, channels: Channels) -> None:
    # deferred: the synthesis pipeline imports the frontend (seconds, and torch): only a process that renders loads it
    from worker.tts.synthesis.pipeline import SynthesisConfig

    assert claim.version is not None  # checked by the caller
    version_id, state_key = claim.version
    models = ctx.models
    started = time.perf_counter()
    analysis = analyze(ctx, claim, models.frontend)
    state = voice_state(ctx, version_id, state_key, gated=False)
    sr = models.engine.sample_rate
    config = SynthesisConfig(speed=float(claim.params.get("speed", 1.0)))
    pieces: list[np.ndarray] = []
    first_ms: float | None = None
    at = 0
    for piece in models.synthesizer.stream_audio(analysis, state, config):
        piece = pad_to_frame(piece)
        marked = mark_item(piece, sr, item_id, ctx.keys.watermark, at) if piece.any() else piece
        at += len(marked)
        channels.publish(item_id, "audio", pcm16(marked))
        if first_ms is None:
            first_ms = 1000 * (time.perf_counter() - started)
        pieces.append(marked)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    if not audio.size:
        raise InvalidInput("the text has nothing to speak after normalization")
    model_s = time.perf_counter() - started
    duration = len(audio) / sr
    channels.publish(item_id, "end", f"{duration:.3f}".encode())
    ctx.metrics.rtf.observe(model_s / duration)
    wav = to_wav_bytes(audio, sr)
    key = claim.key  # a stream is stored as WAV: its batch has no output_format
    ctx.storage.put(key, wav, "audio/wav")
    finish_item(
        ctx, item_id, ItemStatus.succeeded, storage_key=key, checksum=sha256(wav), duration_s=round(duration, 3),
        voice_version_id=version_id, normalized_text=analysis.normalized, lexicon_version=claim.lexicon_version,
        readings=readings_used(analysis),
        quality={"gate": "skipped: streamed", "model_ms": round(1000 * model_s, 1),
                 "first_audio_ms": round(first_ms or 0.0, 1)},
    )
    log.info("speech stream %s: %.2f s of audio, first chunk after %.0f ms", item_id, duration, first_ms or 0.0)
