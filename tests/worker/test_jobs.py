"""The item lifecycle in ``worker.jobs``, run in-process against PostgreSQL and the S3 server:
render cache reuse, a poison item failing alone, cancellation, redelivery."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared import storage_keys
from shared.models import Batch, Consent, Item, ItemStatus, Voice, utcnow
from shared.services import create_batch
from shared.tenants import create_tenant
from worker import stock_voices
from worker.context import WorkerContext
from worker.jobs.finish import after_item, finish_item
from worker.jobs.render import claim_item, synthesize_item
from worker.jobs.sweep import sweep_stuck_items

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ctx(settings) -> WorkerContext:  # type: ignore[no-untyped-def]
    return WorkerContext(settings)


@pytest.fixture(scope="module")
def stock_voice(ctx: WorkerContext, sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A ready voice whose state is a stock Kokoro voice (no enrollment needed): (tenant_id, voice_id)."""
    with sessions.begin() as s:
        tenant_id = create_tenant(s, f"jobs-{uuid.uuid4().hex[:8]}").id
    with sessions.begin() as s:
        return tenant_id, stock_voices.install(s, ctx.storage, tenant_id, stock_voices.stock_state(ctx.models))


def submit(ctx: WorkerContext, voice: tuple[str, str], texts: list[str]) -> tuple[str, list[str]]:
    tenant_id, voice_id = voice
    with ctx.sessions.begin() as s:
        batch_id = create_batch(s, tenant_id, [{"text": t, "voice_id": voice_id} for t in texts], "t", {}, "test")
    with ctx.sessions() as s:
        ids = list(s.scalars(select(Item.id).where(Item.batch_id == batch_id).order_by(Item.seq)))
    return batch_id, ids


def render(ctx: WorkerContext, item_id: str) -> None:
    """What the task does with an item's message, in order and here (``defer`` runs now)."""
    synthesize_item(ctx, item_id)
    after_item(ctx, item_id, lambda item, queue: None)


def item(ctx: WorkerContext, item_id: str) -> Item:
    with ctx.sessions() as s:
        row = s.get(Item, item_id)
        assert row is not None
        return row


def test_identical_content_is_served_from_the_render_cache(ctx: WorkerContext, stock_voice) -> None:  # type: ignore[no-untyped-def]
    batch_id, (first, second) = submit(ctx, stock_voice, ["新款耳机售价二百九十九元。", "新款耳机售价299元。"])
    render(ctx, first)
    hits = ctx.metrics.cache_hits._value.get()
    render(ctx, second)  # normalizes to the same text: no model call
    a, b = item(ctx, first), item(ctx, second)
    assert not a.reused and b.reused and ctx.metrics.cache_hits._value.get() == hits + 1
    assert a.quality["model_ms"] > 0 and "model_ms" not in b.quality  # b spent no model time
    assert b.quality["passed"] == a.quality["passed"]
    assert a.content_hash == b.content_hash and a.checksum == b.checksum
    assert b.storage_key != a.storage_key and ctx.storage.get(b.storage_key) == ctx.storage.get(a.storage_key)
    with ctx.sessions() as s:
        assert s.get(Batch, batch_id).status == "succeeded"  # type: ignore[union-attr]


def test_a_poison_item_fails_alone_and_the_batch_finishes(ctx: WorkerContext, stock_voice) -> None:  # type: ignore[no-untyped-def]
    batch_id, (good, poison) = submit(ctx, stock_voice, ["欢迎光临本店。", "。。。……"])
    render(ctx, poison)
    render(ctx, good)
    bad = item(ctx, poison)
    assert bad.status == "failed" and bad.error.startswith("invalid_input") and bad.storage_key is None
    assert item(ctx, good).status in ("succeeded", "needs_review")
    with ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None and batch.status == "partial" and batch.manifest_key
    assert b'"status": "failed"' in ctx.storage.get(batch.manifest_key)


def renders_so_far(ctx: WorkerContext) -> float:
    """Engine renders this process made (each observes the real-time-factor histogram once)."""
    return next(s.value for m in ctx.metrics.rtf.collect() for s in m.samples if s.name.endswith("_count"))


def test_a_render_that_fails_the_gate_is_retried_then_kept_for_review(ctx: WorkerContext, sessions) -> None:  # type: ignore[no-untyped-def]
    """A voice whose embedding is another speaker's: every render sounds like someone else.
    The gate sends it back for best of N, then the item is stored as needs_review with the scores."""
    from dataclasses import replace

    female = stock_voices.stock_state(ctx.models, "zf_xiaoxiao")
    male = stock_voices.stock_state(ctx.models, "zm_yunjian")
    with sessions.begin() as s:
        tenant_id = create_tenant(s, f"gate-{uuid.uuid4().hex[:8]}").id
    with sessions.begin() as s:
        voice_id = stock_voices.install(s, ctx.storage, tenant_id, replace(female, embedding=male.embedding))
    batch_id, (only,) = submit(ctx, (tenant_id, voice_id), ["这段声音和音色档案不是同一个人。"])
    before = renders_so_far(ctx)
    render(ctx, only)
    row = item(ctx, only)
    assert renders_so_far(ctx) - before == ctx.settings.gate_attempts  # best of N, N configurable
    assert row.status == "needs_review" and row.storage_key and ctx.storage.get(row.storage_key)
    assert row.quality["passed"] is False and row.quality["scores"]["similarity"] < 0.8, row.quality
    assert row.error and "does not sound like the reference" in row.error, row.error
    with ctx.sessions() as s:
        assert s.get(Batch, batch_id).status in ("succeeded", "partial")  # type: ignore[union-attr]


def test_a_redelivered_item_is_not_rendered_twice(ctx: WorkerContext, stock_voice) -> None:  # type: ignore[no-untyped-def]
    _, (only,) = submit(ctx, stock_voice, ["谢谢您的购买。"])
    render(ctx, only)
    done = item(ctx, only)
    render(ctx, only)  # the broker delivered it again
    again = item(ctx, only)
    assert again.attempts == done.attempts == 1 and again.finished_at == done.finished_at


def test_items_of_a_cancelled_batch_are_cancelled_without_rendering(ctx: WorkerContext, stock_voice) -> None:  # type: ignore[no-untyped-def]
    batch_id, (only,) = submit(ctx, stock_voice, ["这一条不会被合成。"])
    with ctx.sessions.begin() as s:
        s.get(Batch, batch_id).status = "cancelled"  # type: ignore[union-attr]
    render(ctx, only)
    row = item(ctx, only)
    assert row.status == "cancelled" and row.storage_key is None


def test_an_item_whose_worker_died_is_swept_back_and_rendered(ctx: WorkerContext, stock_voice) -> None:  # type: ignore[no-untyped-def]
    _, (only,) = submit(ctx, stock_voice, ["这条的工作进程中途退出了。"])
    assert claim_item(ctx, only)  # a worker took it ... and died before finishing
    assert not claim_item(ctx, only)  # a live claim is respected
    with ctx.sessions.begin() as s:
        s.get(Item, only).started_at = utcnow() - timedelta(seconds=ctx.settings.item_lease_seconds + 1)  # type: ignore[union-attr]
    requeued: list[str] = []
    assert sweep_stuck_items(ctx, requeued.append) == 1 and requeued == [only]
    render(ctx, only)
    row = item(ctx, only)
    assert row.status in ("succeeded", "needs_review") and row.attempts == 2


def test_synthesis_refuses_a_voice_whose_consent_was_revoked(ctx: WorkerContext, stock_voice) -> None:  # type: ignore[no-untyped-def]
    _, (only,) = submit(ctx, stock_voice, ["撤回同意之后不能再合成。"])
    with ctx.sessions.begin() as s:
        consent = s.get(Consent, s.get(Voice, stock_voice[1]).consent_id)  # type: ignore[union-attr]
        consent.revoked_at = utcnow()  # type: ignore[union-attr]
    try:
        render(ctx, only)
        row = item(ctx, only)
        assert row.status == "failed" and row.error.startswith("consent_revoked") and row.storage_key is None
    finally:
        with ctx.sessions.begin() as s:
            s.get(Consent, s.get(Voice, stock_voice[1]).consent_id).revoked_at = None  # type: ignore[union-attr]


def test_audio_of_an_item_whose_consent_was_revoked_while_it_rendered_is_withdrawn(  # type: ignore[no-untyped-def]
        ctx: WorkerContext, stock_voice) -> None:
    """The purge ran before the item's row committed, so it could not see the audio: the
    check after the commit (``after_item``) deletes it, and settles the batch."""
    batch_id, (only,) = submit(ctx, stock_voice, ["渲染途中撤回同意。"])
    claim = claim_item(ctx, only)
    assert claim is not None
    key = storage_keys.item_key(claim.tenant_id, batch_id, claim.seq)
    ctx.storage.put(key, b"RIFF-rendered", "audio/wav")
    finish_item(ctx, only, ItemStatus.succeeded, storage_key=key, checksum="c", duration_s=1.0)
    with ctx.sessions.begin() as s:
        s.get(Consent, s.get(Voice, stock_voice[1]).consent_id).revoked_at = utcnow()  # type: ignore[union-attr]
    try:
        after_item(ctx, only, lambda item_id, queue: None)
        row = item(ctx, only)
        assert row.status == "failed" and row.error.startswith("consent_revoked") and row.storage_key is None
        assert not ctx.storage.exists(key)
        with ctx.sessions() as s:
            assert s.get(Batch, batch_id).status == "failed"  # type: ignore[union-attr]
    finally:
        with ctx.sessions.begin() as s:
            s.get(Consent, s.get(Voice, stock_voice[1]).consent_id).revoked_at = None  # type: ignore[union-attr]


def test_the_claims_a_process_holds_are_renewed_together_and_a_released_one_is_not(  # type: ignore[no-untyped-def]
        ctx: WorkerContext, stock_voice) -> None:
    quick = WorkerContext(ctx.settings.with_(item_lease_seconds=1))  # renewed every third of a second
    _, (first, second) = submit(ctx, stock_voice, ["一号。", "二号。"])
    assert claim_item(quick, first) and claim_item(quick, second)
    claimed = {i: item(ctx, i).started_at for i in (first, second)}
    with quick.leases.held(first):
        with quick.leases.held(second):
            time.sleep(0.8)
        time.sleep(0.4)  # a renewal under way as the second was released has finished
        renewed = {i: item(ctx, i).started_at for i in (first, second)}
        assert all(renewed[i] > claimed[i] for i in claimed), "both claims renewed while held"
        time.sleep(0.8)
        assert item(ctx, first).started_at > renewed[first], "the held claim is still renewed"
        assert item(ctx, second).started_at == renewed[second], "a released claim is left to lapse"
    quick.drain()
    for item_id in (first, second):
        finish_item(ctx, item_id, ItemStatus.failed, error="invalid_input: test done")


def test_a_stock_voice_renders_a_batch_without_any_consent(ctx: WorkerContext, sessions) -> None:  # type: ignore[no-untyped-def]
    """A tenant that never gave a consent adopts a stock voice; its batch item renders
    through the quality gate (against the pack's own speech), like any voice's."""
    from shared import stock_voices as catalogue

    with sessions.begin() as s:
        tenant_id = create_tenant(s, f"stock-{uuid.uuid4().hex[:8]}").id
    with sessions.begin() as s:
        stock = catalogue.find(ctx.settings.model_cache, "zm_yunxi")
        assert stock is not None
        voice_id = catalogue.adopt(s, tenant_id, stock)
    with sessions.begin() as s:
        assert catalogue.adopt(s, tenant_id, stock) == voice_id  # the same row every time
        assert s.get(Voice, voice_id).consent_id is None  # type: ignore[union-attr]
    _, (only,) = submit(ctx, (tenant_id, voice_id), ["欢迎光临本店，祝您购物愉快。"])
    render(ctx, only)
    row = item(ctx, only)
    assert row.status == "succeeded", row.error
    assert row.quality["passed"] and row.duration_s > 1.0


def test_a_voice_without_a_consent_is_exempt_only_when_its_state_is_a_stock_pack(  # type: ignore[no-untyped-def]
        ctx: WorkerContext, sessions) -> None:
    """The exemption is the version's ``stock/`` state key, not a missing consent: a voice
    whose state was stored (a clone's) and whose consent is gone is refused."""
    with sessions.begin() as s:
        tenant_id = create_tenant(s, f"stock-{uuid.uuid4().hex[:8]}").id
    with sessions.begin() as s:
        voice_id = stock_voices.install(s, ctx.storage, tenant_id, stock_voices.stock_state(ctx.models))
        s.get(Voice, voice_id).consent_id = None  # type: ignore[union-attr]
    _, (only,) = submit(ctx, (tenant_id, voice_id), ["这一条不能合成。"])
    render(ctx, only)
    row = item(ctx, only)
    assert row.status == "failed" and row.error.startswith("consent_revoked") and row.storage_key is None
