"""The fault tests on production's worker pool: prefork, where a task runs in a child process.

tests/faults/test_faults.py runs the worker with ``--pool solo``, where the worker and the task
are one process. Production runs prefork, and a crash there takes other paths: a child killed
mid-render is noticed by its parent, which rejects the message back to the queue
(``task_reject_on_worker_lost``) and forks a new child; a parent killed leaves its child an
orphan; and a broker *crash* (SIGKILL, not the orderly restart of test_faults.py) leaves only
what Redis had written to its append-only file. Each test checks that every item still ends
delivered once (``assert_exactly_once``), and the pool children's metrics reach the /metrics
the parent serves, a killed child's included.

Kept cheap: six short items of three sentences, so three renders per batch.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.faults.test_faults import (
    BATCH_TIMEOUT,
    PRODUCTS,
    assert_exactly_once,
    delivered,
    running,
    submit,
    wait_for,
)
from tests.test_observability import series

pytestmark = pytest.mark.slow

WORKER_POOL = "prefork"  # read by the fault_stack fixture (tests/faults/conftest.py)
WORKER_METRICS = True  # and the worker serves /metrics, as in production


def lines(colour: str) -> list[str]:
    return [f"这款{colour}{PRODUCTS[n % len(PRODUCTS)]}有货。" for n in range(2 * len(PRODUCTS))]


def rendering(stack, batch_id: str) -> bool:  # type: ignore[no-untyped-def]
    """An item is mid-render: one delivered already (the child has its models loaded), one running."""
    return delivered(stack, batch_id) >= 1 and bool(running(stack, batch_id))


def the_child(stack) -> int:  # type: ignore[no-untyped-def]
    (child,) = wait_for(lambda: stack.worker.children() or None, 30, "the worker's pool process", stack)
    return int(child)


def test_a_pool_child_killed_mid_render_is_replaced_and_every_item_lands_once(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    texts = lines("绿色")
    batch_id = submit(fault_stack, fault_voice, texts)
    wait_for(lambda: rendering(fault_stack, batch_id), BATCH_TIMEOUT, "an item rendering", fault_stack, every=0.1)
    child = the_child(fault_stack)
    stuck = running(fault_stack, batch_id)
    os.kill(child, signal.SIGKILL)  # the render's process dies; the worker's parent process lives on
    assert len(stuck) == 1, "the killed child was rendering one item"

    # The parent rejects the message back to the queue; the new child finds the item claimed
    # (the dead child's lease) and leaves it; the sweeper hands it back once the lease runs out.
    items = assert_exactly_once(fault_stack, batch_id, texts)
    assert fault_stack.worker.proc.poll() is None, "the parent outlived its child"
    assert the_child(fault_stack) != child, "the parent forked a new pool process"
    # The children's samples reach the parent's /metrics (prometheus multiprocess mode), the
    # dead child's included: every item of the batch was rendered by one of the two.
    metrics = requests.get(fault_stack.worker.metrics_url, timeout=10).text
    counted = sum(v for labels, v in series(metrics, "narrator_items_total")
                  if 'status="succeeded"' in labels or 'status="needs_review"' in labels)
    assert counted >= len(texts), metrics[:2000]
    assert series(metrics, "narrator_synthesis_rtf_count")[0][1] >= len(PRODUCTS)
    taken_back = next(it for it in items if it.id == stuck[0].id)
    assert taken_back.attempts == 2, "claimed by the dead child, then once more after its lease ran out"
    assert all(it.attempts == 1 for it in items if it.id != taken_back.id)


def test_a_worker_parent_killed_mid_batch_is_replaced_and_every_item_lands_once(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    texts = lines("黑色")
    batch_id = submit(fault_stack, fault_voice, texts)
    wait_for(lambda: rendering(fault_stack, batch_id), BATCH_TIMEOUT, "an item rendering", fault_stack, every=0.1)
    old = fault_stack.worker
    orphans = old.children()
    stuck = running(fault_stack, batch_id)
    old.proc.kill()  # SIGKILL of the worker's main process: no warm shutdown, no ack
    old.proc.wait()
    # The worker is the container's first process: when it dies the runtime kills the rest of
    # the container, its pool child mid-render included. Here the child is ended by its pid.
    for pid in orphans:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert len(stuck) == 1, "the killed worker's child was rendering one item"

    fault_stack.start_worker()  # as the orchestrator restarts a dead container
    items = assert_exactly_once(fault_stack, batch_id, texts)
    taken_back = next(it for it in items if it.id == stuck[0].id)
    assert taken_back.attempts == 2, "claimed by the dead worker, then once more after the sweep"


def test_a_broker_crash_mid_batch_loses_nothing(fault_stack, fault_voice) -> None:  # type: ignore[no-untyped-def]
    texts = lines("白色")
    batch_id = submit(fault_stack, fault_voice, texts)
    wait_for(lambda: rendering(fault_stack, batch_id), BATCH_TIMEOUT, "an item rendering", fault_stack, every=0.1)
    fault_stack.redis.crash()  # SIGKILL: no flush, no orderly close of the clients' connections
    time.sleep(3)
    fault_stack.redis.start()  # same port, same append-only file

    assert_exactly_once(fault_stack, batch_id, texts)
    assert fault_stack.worker.proc.poll() is None, "the worker reconnected instead of exiting"
    assert fault_stack.worker.children(), "its pool process is still there"
    assert fault_stack.beat.poll() is None, "beat reconnected instead of exiting"
