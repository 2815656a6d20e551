"""An item that raises something no step expects, or whose worker dies on it, ends ``failed``
with a reason once it has been claimed ``item_max_attempts`` times, and its batch settles
(before, the item stayed ``running`` and the sweeper handed it to a worker forever).

The batch runs through the real Celery tasks in eager mode (no broker: every task, retries
included, runs here in order) against PostgreSQL and the S3 server.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from shared import dispatch
from shared.models import Batch, Item, VoiceVersion, utcnow
from shared.pronunciation.lexicon import Entry, Lexicon
from shared.services import create_batch
from shared.settings import Settings
from shared.tenants import create_tenant
from worker import stock_voices
from worker.celery_app import make_celery
from worker.context import WorkerContext
from worker.jobs import render, sweep

pytestmark = [pytest.mark.slow, pytest.mark.attack]


@pytest.fixture(scope="module")
def eager(settings: Settings, models) -> WorkerContext:  # type: ignore[no-untyped-def]
    """The worker's context of an in-process Celery app on the test services (no broker:
    tasks run eagerly), sharing the session's loaded models."""
    ctx: WorkerContext = make_celery(settings.with_(broker_url="")).narrator  # type: ignore[attr-defined]
    ctx.__dict__["models"] = models
    return ctx


def new_voice(ctx: WorkerContext, models) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with ctx.sessions.begin() as s:
        tenant_id = create_tenant(s, f"attempts-{uuid.uuid4().hex[:8]}").id
    with ctx.sessions.begin() as s:
        return tenant_id, stock_voices.install(s, ctx.storage, tenant_id, stock_voices.stock_state(models))


def submit(ctx: WorkerContext, tenant_id: str, voice_id: str, texts: list[str]) -> tuple[str, list[str]]:
    with ctx.sessions.begin() as s:
        batch_id = create_batch(s, tenant_id, [{"text": t, "voice_id": voice_id} for t in texts], "t", {}, "test")
    with ctx.sessions() as s:
        return batch_id, list(s.scalars(select(Item.id).where(Item.batch_id == batch_id).order_by(Item.seq)))


def test_a_lexicon_word_matched_through_unicode_case_folding_is_read_by_its_entry(models) -> None:  # type: ignore[no-untyped-def]
    """"ſkype" (long s) matches the entry "Skype" case-insensitively, but is not its key
    lowercased: looking the entry up by the matched text raised KeyError."""
    frontend = models.frontend
    compiled = frontend.compile(Lexicon(1, (Entry("Skype", "~skipe", "en", id="e1"), Entry("Kelvin", "~kelvin", "en"))))
    analysis = frontend.analyze("I use ſkype at 3 \u212aelvin.", compiled)
    assert [(f.word, f.reading, f.entry_id) for f in analysis.lexicon_matches()] == [
        ("ſkype", "~skipe", "e1"), ("\u212aelvin", "~kelvin", None)]
    assert "sk" in analysis.sentences[0].phonemes


def test_an_item_that_keeps_raising_fails_after_the_attempt_cap_and_its_batch_settles(  # type: ignore[no-untyped-def]
        eager: WorkerContext, models) -> None:
    tenant_id, voice_id = new_voice(eager, models)
    with eager.sessions() as s:  # the voice's stored state loses a part: loading it raises KeyError
        state_key = s.scalar(select(VoiceVersion.state_key).where(VoiceVersion.voice_id == voice_id))
    buf = io.BytesIO()
    np.savez(buf, style=np.zeros((510, 256), np.float32))
    eager.storage.put(state_key, buf.getvalue())
    batch_id, (only,) = submit(eager, tenant_id, voice_id, ["这个声音的数据坏了。"])

    eager.queue.send(dispatch.PLAN_BATCH, batch_id)  # plans, renders, retries: all here, in order

    cap = eager.settings.item_max_attempts
    with eager.sessions() as s:
        item, batch = s.get(Item, only), s.get(Batch, batch_id)
        assert item is not None and batch is not None
        assert (item.status, item.attempts) == ("failed", cap), (item.status, item.attempts, item.error)
        assert item.error.startswith("internal_error: ") and f"each of {cap} attempts" in item.error
        assert "KeyError" in item.error, item.error
        assert batch.finished_at is not None and batch.status == "failed"


def test_the_sweeper_fails_an_item_whose_worker_died_on_each_attempt(  # type: ignore[no-untyped-def]
        eager: WorkerContext, models) -> None:
    ctx, cap = eager, eager.settings.item_max_attempts
    tenant_id, voice_id = new_voice(ctx, models)
    batch_id, (only,) = submit(ctx, tenant_id, voice_id, ["这条每次都让工作进程退出。"])
    with ctx.sessions.begin() as s:
        s.get(Batch, batch_id).status = "running"  # type: ignore[union-attr]
    expired = utcnow() - timedelta(seconds=ctx.settings.item_lease_seconds + 1)
    requeued: list[str] = []
    for attempt in range(1, cap + 1):  # claimed, then the worker dies: the lease runs out
        assert render.claim_item(ctx, only) is not None
        with ctx.sessions.begin() as s:
            s.get(Item, only).started_at = expired  # type: ignore[union-attr]
        sweep.sweep_stuck_items(ctx, requeued.append)
        assert len(requeued) == min(attempt, cap - 1), (attempt, requeued)
    with ctx.sessions() as s:
        item = s.get(Item, only)
        assert item is not None and item.status == "failed" and item.attempts == cap
        assert item.error == (f"worker_lost: the item's worker stopped mid-render on each of {cap} attempts; "
                              "it is not tried again")
    assert sweep.settle_idle_batches(ctx) >= 1
    with ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None and batch.finished_at is not None and batch.status == "failed"
