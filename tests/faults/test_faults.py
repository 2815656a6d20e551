"""Fault injection on a running batch: at-least-once delivery, exactly-once effect.

Each test breaks one real component of the private stack (tests/faults/conftest.py) in the
middle of a batch — the worker process is killed, the broker restarts, storage goes away
for half a minute — and then checks what a customer would: every item rendered and
delivered once, one object per item under the batch's prefix and nothing else, stored
bytes matching the recorded checksums, and a manifest naming every item once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from shared import storage_keys
from shared.metrics import Metrics
from shared.models import AuditEvent, Batch, Item, ItemStatus
from shared.services import create_batch
from shared.settings import Settings
from shared.storage import StorageError
from worker.context import WorkerContext
from worker.jobs.finish import after_item, finish_item
from worker.jobs.render import claim_item
from worker.jobs.sweep import sweep_stuck_items

pytestmark = pytest.mark.slow

PRODUCTS = ["台灯", "雨伞", "茶杯"]
ITEMS = 12
DELIVERED = ("succeeded", "needs_review")  # needs_review: rendered and stored, flagged by the quality gate
BATCH_TIMEOUT = 240


def texts(colour: str) -> list[str]:
    """Twelve short items, three sentences each said four times: the first of each is rendered,
    the rest come from the render cache (copied to their own keys) unless a fault intervenes."""
    return [f"这款{colour}{PRODUCTS[n % len(PRODUCTS)]}今天有货。" for n in range(ITEMS)]


def wait_for(fn: Callable[[], Any], timeout: float, what: str, stack: Any = None, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = fn()
        if result:
            return result
        time.sleep(every)
    logs = f"\n{stack.worker_logs()}" if stack is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{logs}")


def submit(stack: Any, voice: tuple[str, str, str], lines: list[str]) -> str:
    _, secret, voice_id = voice
    r = requests.post(f"{stack.api_url}/v1/batches", json={"voice_id": voice_id, "items": [{"text": t} for t in lines]},
                      headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def items_of(stack: Any, batch_id: str) -> list[Item]:
    with stack.sessions() as s:
        return list(s.scalars(select(Item).where(Item.batch_id == batch_id).order_by(Item.seq)))


def delivered(stack: Any, batch_id: str) -> int:
    return sum(it.status in DELIVERED for it in items_of(stack, batch_id))


def running(stack: Any, batch_id: str) -> list[Item]:
    return [it for it in items_of(stack, batch_id) if it.status == "running"]


def finished_batch(stack: Any, batch_id: str) -> Batch | None:
    with stack.sessions() as s:
        batch = s.get(Batch, batch_id)
        return batch if batch is not None and batch.finished_at is not None else None


def assert_exactly_once(stack: Any, batch_id: str, lines: list[str]) -> list[Item]:
    """Every item delivered once: its own object with matching bytes, nothing else under the
    batch's prefix, the batch settled once and its manifest naming each item once."""
    batch = wait_for(lambda: finished_batch(stack, batch_id), BATCH_TIMEOUT, f"batch {batch_id} to finish", stack)
    items = items_of(stack, batch_id)
    assert [it.text for it in items] == lines
    assert batch.status == "succeeded", (batch.status, [(it.seq, it.status, it.error) for it in items])
    for it in items:
        assert it.status in DELIVERED and it.attempts >= 1 and it.finished_at is not None, (it.seq, it.status)
        assert it.storage_key == storage_keys.item_key(batch.tenant_id, batch_id, it.seq)
        assert hashlib.sha256(stack.storage.get(it.storage_key)).hexdigest() == it.checksum, it.seq

    manifest_key = storage_keys.manifest_key(batch.tenant_id, batch_id)
    stored = sorted(stack.storage.list(storage_keys.batch_prefix(batch.tenant_id, batch_id)))
    assert stored == sorted([it.storage_key for it in items] + [manifest_key]), "duplicate or orphan objects"

    assert batch.manifest_key == manifest_key
    entries = [json.loads(line) for line in stack.storage.get(manifest_key).decode().splitlines()]
    assert sorted(e["item_id"] for e in entries) == sorted(it.id for it in items), "each item once in the manifest"
    by_id = {it.id: it for it in items}
    for entry in entries:
        item = by_id[entry["item_id"]]
        assert (entry["seq"], entry["status"], entry["storage_key"], entry["checksum"]) == \
               (item.seq, item.status, item.storage_key, item.checksum)

    with stack.sessions() as s:
        settled = s.scalars(select(AuditEvent.action).where(AuditEvent.target_id == batch_id,
                                                            AuditEvent.action.like("batch.%"))).all()
    assert sorted(settled) == ["batch.submitted", "batch.succeeded"], settled
    return items


def test_a_worker_killed_mid_batch_is_replaced_and_every_item_lands_once(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    lines = texts("红色")
    batch_id = submit(fault_stack, fault_voice, lines)
    wait_for(lambda: delivered(fault_stack, batch_id) >= 2 and running(fault_stack, batch_id),
             BATCH_TIMEOUT, "two items delivered and a third rendering", fault_stack)
    fault_stack.worker.proc.kill()  # SIGKILL: no warm shutdown, no ack, no chance to release the claim
    fault_stack.worker.proc.wait()
    stuck = running(fault_stack, batch_id)
    assert len(stuck) == 1, "the killed worker was rendering one item"

    fault_stack.start_worker()  # the sweeper (beat) hands the stuck item back once its lease ends
    items = assert_exactly_once(fault_stack, batch_id, lines)
    taken_back = next(it for it in items if it.id == stuck[0].id)
    assert taken_back.attempts == 2, "claimed by the dead worker, then once more after the sweep"
    assert all(it.attempts == 1 for it in items if it.id != taken_back.id)


def test_a_broker_restart_mid_batch_loses_nothing(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    lines = texts("蓝色")
    batch_id = submit(fault_stack, fault_voice, lines)
    wait_for(lambda: delivered(fault_stack, batch_id) >= 2 and running(fault_stack, batch_id),
             BATCH_TIMEOUT, "two items delivered and a third rendering", fault_stack)
    fault_stack.redis.stop()  # SIGTERM, as an orderly restart: the append-only file is flushed
    time.sleep(5)
    fault_stack.redis.start()  # same port, same append-only file: the queued messages are back

    items = assert_exactly_once(fault_stack, batch_id, lines)
    assert all(it.attempts == 1 for it in items), "a broker outage makes nothing render twice"
    assert fault_stack.worker.proc.poll() is None, "the worker reconnected instead of exiting"
    assert fault_stack.beat.poll() is None, "beat reconnected instead of exiting"


def test_storage_unreachable_for_30_s_mid_batch_is_retried_through(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    # The broker test's sentences: after it, every item here is a copy from the render cache
    # (no model call), and all of them read and write storage. Alone, the first three render.
    lines = texts("蓝色")
    batch_id = submit(fault_stack, fault_voice, lines)
    wait_for(lambda: delivered(fault_stack, batch_id) >= len(PRODUCTS), BATCH_TIMEOUT,
             "each sentence rendered once", fault_stack, every=0.05)
    fault_stack.s3.stop()  # connections refused, as when the object store is down or partitioned away
    time.sleep(30)
    fault_stack.s3.start()  # same port, same objects

    items = assert_exactly_once(fault_stack, batch_id, lines)
    assert any(it.attempts > 1 for it in items), "an item hit the outage and was retried"


def worker_context(settings: Settings) -> WorkerContext:
    """A context for a test that plays a worker (its metrics in a registry of its own)."""
    ctx = WorkerContext(settings)
    ctx.metrics = Metrics(CollectorRegistry())
    return ctx


def unplanned_item(stack: Any, voice: tuple[str, str, str]) -> tuple[str, str]:
    """A one-item batch that is never planned, so no worker gets a message for it: (batch, item)."""
    tenant_id, _, voice_id = voice
    with stack.sessions.begin() as s:
        batch_id = create_batch(s, tenant_id, [{"text": "。。。", "voice_id": voice_id}], "faults", {}, "test")
        (item_id,) = s.scalars(select(Item.id).where(Item.batch_id == batch_id)).all()
    return batch_id, item_id


def test_a_slow_render_keeps_its_claim_and_a_dead_one_loses_it(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    ctx = worker_context(fault_stack.settings.with_(item_lease_seconds=2))
    batch_id, item_id = unplanned_item(fault_stack, fault_voice)
    assert claim_item(ctx, item_id)
    requeued: list[str] = []
    with ctx.leases.held(item_id):  # rendering for longer than the lease
        time.sleep(3)
        sweep_stuck_items(ctx, requeued.append)
        assert item_id not in requeued and not claim_item(ctx, item_id), "a live claim is kept"
    time.sleep(2.5)  # the worker is gone: nobody renews the claim
    sweep_stuck_items(ctx, requeued.append)
    assert item_id in requeued and [it.status for it in items_of(fault_stack, batch_id)] == ["queued"]
    assert claim_item(ctx, item_id)  # as the worker given the requeued message would
    finish_item(ctx, item_id, ItemStatus.failed, error="invalid_input: nothing to speak")


def test_a_batch_left_unsettled_by_a_storage_outage_is_settled_by_the_sweeper(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    """The last item's task commits the item, then storage refuses the manifest while the
    batch is settled (on the worker's background thread, after the message was acknowledged):
    no message is left to retry it, so the sweeper must settle the batch."""
    ctx = worker_context(fault_stack.settings)  # this test plays the worker that finishes the last item
    tenant_id = fault_voice[0]
    batch_id, item_id = unplanned_item(fault_stack, fault_voice)
    assert claim_item(ctx, item_id)
    finish_item(ctx, item_id, ItemStatus.failed, error="invalid_input: nothing to speak")
    fault_stack.s3.stop()
    try:
        with pytest.raises(StorageError):
            after_item(ctx, item_id, lambda item, queue: None)  # settles here: the manifest write fails
    finally:
        fault_stack.s3.start()
    assert [it.status for it in items_of(fault_stack, batch_id)] == ["failed"]
    assert finished_batch(fault_stack, batch_id) is None, "the manifest was not written, so not settled"

    batch = wait_for(lambda: finished_batch(fault_stack, batch_id), 60, "the sweeper to settle the batch", fault_stack)
    assert batch.status == "failed" and batch.manifest_key == storage_keys.manifest_key(tenant_id, batch_id)
    (entry,) = [json.loads(line) for line in fault_stack.storage.get(batch.manifest_key).decode().splitlines()]
    assert (entry["item_id"], entry["status"]) == (item_id, "failed")
