"""Priority and fairness with the real worker process and real models: while tenant A's
big batch renders, tenant B's small batch and a preview are served first, not after it.

Small batches and previews go to the ``interactive`` queue; a big batch keeps at most
``batch_window`` items in the broker, topped up as items finish. Texts are tiny (and all
different, so the render cache cannot shortcut them) to keep the test quick.
"""

from __future__ import annotations

import statistics
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from shared.models import Item, utcnow
from shared.storage import open_storage
from shared.tenants import create_key, create_tenant
from tests.helpers import wait_until

pytestmark = pytest.mark.slow
BIG, SMALL = 200, 3
# A preview waits for at most the item the worker is rendering. The bound is in items, since
# on a shared machine an item's seconds vary, with room for the API's polling and the broker.
PREVIEW_WAIT_BOUND_ITEMS = 2.0


def new_tenant_key(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        tenant = create_tenant(s, f"fair-{uuid.uuid4().hex[:8]}")
        return tenant.id, create_key(s, tenant, "write")[1]



@pytest.fixture(scope="module")
def stock_state(models):  # type: ignore[no-untyped-def]
    from worker import stock_voices

    return stock_voices.stock_state(models)


def median_item_seconds(sessions, batch_id: str) -> float:  # type: ignore[no-untyped-def]
    """How long the worker takes for one of the batch's items (claim to finish), median."""
    with sessions() as s:
        rows = s.execute(select(Item.started_at, Item.finished_at).where(
            Item.batch_id == batch_id, Item.status.in_(("succeeded", "needs_review")))).all()
    return statistics.median((end - start).total_seconds() for start, end in rows)


def ready_voice(sessions, settings, state, tenant_id: str) -> str:  # type: ignore[no-untyped-def]
    """A ready voice of the tenant on a verified consent, whose state is ``state``."""
    from worker import stock_voices

    with sessions.begin() as s:
        return stock_voices.install(s, open_storage(settings), tenant_id, state)


def test_small_batches_and_previews_do_not_wait_behind_a_big_batch(  # type: ignore[no-untyped-def]
        api_url, worker_process, stock_state, sessions, settings) -> None:
    run = uuid.uuid4().hex[:4]
    tenant_a, key_a = new_tenant_key(sessions)
    tenant_b, key_b = new_tenant_key(sessions)
    voice_a = ready_voice(sessions, settings, stock_state, tenant_a)
    voice_b = ready_voice(sessions, settings, stock_state, tenant_b)
    a = requests.Session()
    a.headers["Authorization"] = f"Bearer {key_a}"
    b = requests.Session()
    b.headers["Authorization"] = f"Bearer {key_b}"

    # Tenant A: a 200-item catalog, uploaded as CSV (the streamed path).
    catalog = "id,text\n" + "".join(f"a{n},编号{run}{n}。\n" for n in range(BIG))
    r = a.post(f"{api_url}/v1/batches", params={"voice_id": voice_a}, data=catalog.encode(),
               headers={"Content-Type": "text/csv"}, timeout=30)
    assert r.status_code == 202, r.text
    big = r.json()["id"]

    def big_state() -> dict:
        return a.get(f"{api_url}/v1/batches/{big}", timeout=10).json()

    def started() -> dict | None:  # the worker is busy with A's items before B arrives
        s = big_state()
        return s if s["counts"]["succeeded"] + s["counts"]["needs_review"] >= 1 else None

    wait_until(started, 900, "the big batch's first item", interval=0.25)

    # Tenant B: three items, submitted after A's batch is running.
    submitted = time.monotonic()
    r = b.post(f"{api_url}/v1/batches", json={"voice_id": voice_b, "items": [{"text": f"乙{run}{n}。"} for n in
                                                                             range(SMALL)]}, timeout=30)
    assert r.status_code == 202, r.text
    small = r.json()["id"]

    def small_done() -> dict | None:
        s = b.get(f"{api_url}/v1/batches/{small}", timeout=10).json()
        return s if s["finished_at"] else None

    small_batch = wait_until(small_done, 900, "the small batch", interval=0.25)
    small_wait = time.monotonic() - submitted
    at_that_time = big_state()
    assert small_batch["status"] == "succeeded", small_batch
    finished_a = sum(at_that_time["counts"][k] for k in ("succeeded", "needs_review", "failed", "cancelled"))
    assert at_that_time["finished_at"] is None and finished_a < BIG // 2, (small_wait, at_that_time["counts"])

    # A preview while A's batch still runs is claimed within a bound: it waits for the item
    # the worker is rendering, not for A's window. (Its own render is not part of the wait:
    # the gate may render it twice.)
    asked = utcnow()
    preview = a.post(f"{api_url}/v1/synthesize", json={"text": f"预览{run}。", "voice_id": voice_a}, timeout=300)
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "audio/wav"
    with sessions() as s:
        preview_claimed = s.get(Item, preview.headers["X-Item-Id"]).started_at
    preview_wait = (preview_claimed - asked).total_seconds()
    item_s = median_item_seconds(sessions, big)
    assert preview_wait < PREVIEW_WAIT_BOUND_ITEMS * item_s, (preview_wait, item_s)
    assert big_state()["finished_at"] is None

    # Leave the worker idle for the tests after this one.
    assert a.post(f"{api_url}/v1/batches/{big}/cancel", timeout=30).status_code == 202
    wait_until(lambda: big_state()["finished_at"], 600, "the cancelled batch to settle", interval=0.25)
    print(f"\nsmall batch of {SMALL} done in {small_wait:.1f} s with {finished_a}/{BIG} of the big batch finished; "
          f"preview claimed after {preview_wait:.1f} s (an item takes {item_s:.1f} s)")
