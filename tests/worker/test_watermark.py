"""The inaudible item watermark: it survives what happens to a delivered file (16 kHz
resampling, ±6 dB, noise at 20 dB SNR, MP3 at 64 kbit/s), unmarked speech reads as
unmarked, and a file the worker rendered names its item through ``narrator watermark detect``.

Speech is ``examples/reference.wav`` (Kokoro speech); the end-to-end test renders with the
real engine through ``worker.jobs.render.synthesize_item``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from shared.audio_types import SAMPLE_RATE
from tests.support.degrade import add_noise, mp3_round_trip
from worker.tts.synthesis.audio import read_wav_bytes, resample_mono
from worker.tts.synthesis.watermark import FRAME, detect, embed, item_payload, pad_to_frame, watermark_key

ROOT = Path(__file__).resolve().parents[2]
KEY = watermark_key("test-secret")
PAYLOAD = bytes.fromhex("3f9c2a7e51d04b68")


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    audio, rate = read_wav_bytes((ROOT / "examples" / "reference.wav").read_bytes())
    return resample_mono(audio, rate, SAMPLE_RATE)


def clip(speech: np.ndarray, start_s: float, seconds: float) -> np.ndarray:
    return speech[int(start_s * SAMPLE_RATE) : int((start_s + seconds) * SAMPLE_RATE)].copy()


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    """Gain as a WAV writer applies it: overs are clipped."""
    return np.clip(audio * 10 ** (db / 20), -1.0, 1.0).astype(np.float32)


ATTACKS = {
    "clean": lambda a: (a, SAMPLE_RATE),
    "resampled_16k": lambda a: (resample_mono(a, SAMPLE_RATE, 16_000), 16_000),
    "gain_+6dB": lambda a: (gain(a, 6.0), SAMPLE_RATE),
    "gain_-6dB": lambda a: (gain(a, -6.0), SAMPLE_RATE),
    "mp3_64k": lambda a: mp3_round_trip(a, SAMPLE_RATE, 64),
    "noise_20dB": lambda a: (add_noise(a, 20.0, np.random.default_rng(7)), SAMPLE_RATE),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_payload_survives(speech: np.ndarray, attack: str) -> None:
    original = clip(speech, 2.0, 6.0)
    marked = embed(original, PAYLOAD, KEY)
    audio, rate = ATTACKS[attack](marked)
    found = detect(audio, rate, KEY)
    assert found.payload == PAYLOAD, (attack, found)
    assert found.confidence >= 1.5


def test_a_short_clip_is_read_after_resampling_and_mp3(speech: np.ndarray) -> None:
    marked = embed(clip(speech, 10.0, 3.0), PAYLOAD, KEY)
    assert detect(*ATTACKS["resampled_16k"](marked), KEY).payload == PAYLOAD
    assert detect(*ATTACKS["mp3_64k"](marked), KEY).payload == PAYLOAD


def test_a_stream_marked_chunk_by_chunk_reads_as_one_mark_from_the_whole_file(speech: np.ndarray) -> None:
    """Chunks of 1.6, 2.1 and 4.8 s (a stream's opening phrase, clause and sentence), each
    marked as it is sent: with the layout from where each lies in the stream the joined file
    names its item; marked each from its own start (how streams were marked before) it did not."""
    chunks = [pad_to_frame(clip(speech, start, seconds)) for start, seconds in ((0.5, 1.6), (3.0, 2.1), (6.0, 4.8))]
    starts = np.cumsum([0] + [len(c) for c in chunks[:-1]])
    streamed = np.concatenate([embed(c, PAYLOAD, KEY, int(at)) for c, at in zip(chunks, starts, strict=True)])
    assert detect(streamed, SAMPLE_RATE, KEY).payload == PAYLOAD
    assert detect(*ATTACKS["mp3_64k"](streamed), KEY).payload == PAYLOAD
    each_from_zero = np.concatenate([embed(c, PAYLOAD, KEY) for c in chunks])
    assert detect(each_from_zero, SAMPLE_RATE, KEY).payload is None
    with pytest.raises(ValueError, match="frame grid"):
        embed(chunks[1], PAYLOAD, KEY, FRAME + 1)


def test_unmarked_speech_and_a_wrong_key_read_as_unmarked(speech: np.ndarray) -> None:
    for start in np.arange(0.0, 18.0, 3.0):
        piece = clip(speech, float(start), 3.0)
        result = detect(piece, SAMPLE_RATE, KEY)
        assert not result.found and result.confidence < 1.3, (start, result)
    consent, rate = read_wav_bytes((ROOT / "examples" / "consent.wav").read_bytes())
    assert not detect(consent, rate, KEY).found
    marked = embed(clip(speech, 2.0, 6.0), PAYLOAD, KEY)
    assert not detect(marked, SAMPLE_RATE, watermark_key("another-deployment")).found


def test_the_mark_is_quiet_and_follows_the_speech(speech: np.ndarray) -> None:
    original = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), clip(speech, 2.0, 4.0)])
    marked = embed(original, PAYLOAD, KEY)
    assert marked.dtype == np.float32 and marked.shape == original.shape
    mark = marked - original
    snr_db = 10 * np.log10(np.sum(original**2) / np.sum(mark**2))
    assert snr_db >= 15.0
    assert np.max(np.abs(mark[: SAMPLE_RATE // 2])) < 1e-6  # silence stays silent
    assert np.array_equal(embed(original, PAYLOAD, KEY), marked)  # deterministic


def test_item_payload_is_the_first_64_bits_of_the_id() -> None:
    item_id = str(uuid.uuid4())
    assert item_payload(item_id).hex() == item_id.replace("-", "")[:16]
    with pytest.raises(ValueError):
        item_payload("not-a-uuid")
    with pytest.raises(ValueError):
        embed(np.zeros(SAMPLE_RATE, np.float32), b"short", KEY)


@pytest.mark.slow
def test_a_rendered_item_names_itself_through_the_cli(settings, sessions, models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from shared.models import Item, ItemStatus, Voice
    from shared.services import create_batch
    from shared.tenants import create_tenant
    from worker import stock_voices
    from worker.context import WorkerContext
    from worker.jobs import render

    ctx = WorkerContext(settings)
    ctx.models = models  # the session's model stack rather than a second copy
    with sessions.begin() as s:
        tenant_id = create_tenant(s, f"watermark-{uuid.uuid4().hex[:8]}").id
        voice_id = stock_voices.install(s, ctx.storage, tenant_id, stock_voices.stock_state(models))
        version_id = s.get(Voice, voice_id).current_version_id
        batch_id = create_batch(s, tenant_id, [{"text": "这款无线耳机续航三十个小时，支持快速充电。",
                                                "voice_id": voice_id}], "t", {}, "test")
    with sessions() as s:
        item_id = s.scalars(select(Item.id).where(Item.batch_id == batch_id)).one()
    render.synthesize_item(ctx, item_id)
    with sessions() as s:
        row = s.get(Item, item_id)
        assert row is not None and row.status in (ItemStatus.succeeded.value, ItemStatus.needs_review.value), row
        storage_key = row.storage_key
    assert storage_key is not None
    wav = tmp_path / "item.wav"
    wav.write_bytes(ctx.storage.get(storage_key))

    env = {**os.environ, "NARRATOR_DATABASE_URL": settings.database_url, "NARRATOR_SECRET_KEY": settings.secret_key}
    code, result = narrator_detect(wav, env)
    assert code == 0, result
    assert result["found"] is True and result["item_id_prefix"] == item_id.replace("-", "")[:16]
    assert (result["item_id"], result["tenant_id"], result["voice_version_id"]) == (item_id, tenant_id, version_id)

    code, result = narrator_detect(ROOT / "examples" / "reference.wav", env)
    assert code == 1 and result["found"] is False and result["item_id_prefix"] is None
    assert "item_id" not in result and result["confidence"] < 1.0


def narrator_detect(path: Path, env: dict[str, str]) -> tuple[int, dict]:
    """``narrator watermark detect PATH`` in a process of its own: exit code and its JSON."""
    out = subprocess.run([sys.executable, "-m", "worker.cli", "watermark", "detect", str(path)], check=False,
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)
