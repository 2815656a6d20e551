"""Webhooks end to end: a real HTTP receiver, the real worker, signatures checked as a
receiver would check them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from shared import services, webhooks
from shared.dispatch import DELIVER_WEBHOOK, SWEEP_WEBHOOKS
from shared.models import (
    AuditEvent,
    Batch,
    BatchStatus,
    Item,
    Voice,
    VoiceStatus,
    WebhookDelivery,
    WebhookEvent,
    utcnow,
)
from shared.tenants import create_key, create_tenant
from tests.helpers import assert_problem, wait_until
from tests.support import devservices
from worker.celery_app import make_celery
from worker.jobs.enroll import fail_voice


@dataclass
class Receiver:
    """A webhook receiver on a local port: records every request, answers from a script."""

    url: str
    answers: list[int] = field(default_factory=list)  # status codes to give, in order; then 200
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
            self.received.append({"headers": dict(request.headers), "body": request.get_data(),
                                  "status": status, "at": time.time()})
        return Response("ok" if status < 300 else "nope", status=status)(environ, start_response)

    def wait_for(self, n: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.2)
        raise AssertionError(f"the receiver got {len(self.received)} requests, expected {n}")


# The receivers listen on the address the test settings allow-list (tests/conftest.py): a
# deployment lets webhooks reach an on-prem receiver the same way. Any other internal address
# is refused (tests/test_webhook_egress.py).
RECEIVER_ADDRESS = "127.0.0.2"


def start_receiver(address: str = RECEIVER_ADDRESS) -> tuple[Receiver, Any]:
    port = devservices.free_port()
    receiver = Receiver(url=f"http://{address}:{port}/hooks")
    server = make_server(address, port, receiver, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec, server = start_receiver()
    yield rec
    server.shutdown()


def register(api_url: str, headers: dict[str, str], url: str, events: list[str]) -> dict:
    r = requests.post(f"{api_url}/v1/webhooks", json={"url": url, "events": events}, headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def deliveries(api_url: str, headers: dict[str, str], endpoint_id: str) -> list[dict]:
    r = requests.get(f"{api_url}/v1/webhooks/{endpoint_id}/deliveries", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["deliveries"]


def verified(secret: str, request: dict[str, Any]) -> bool:
    header = request["headers"]["Narrator-Signature"]
    assert request["headers"]["Narrator-Timestamp"] == header.split(",")[0].removeprefix("t=")
    return webhooks.verify(secret, header, request["body"], tolerance=300, now=int(time.time()))


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("body, field_", [
    ({"events": ["batch.completed"]}, "url"),
    ({"url": "ftp://example.com/hook", "events": ["batch.completed"]}, "url"),
    ({"url": "not a url", "events": ["batch.completed"]}, "url"),
    ({"url": "https://user:pw@example.com/hook", "events": ["batch.completed"]}, "url"),
    ({"url": "https://example.com/hook", "events": []}, "events"),
    ({"url": "https://example.com/hook", "events": "batch.completed"}, "events"),
    ({"url": "https://example.com/hook", "events": ["batch.completed", "batch.exploded"]}, "events"),
])
def test_bad_webhook_input_is_422_and_stores_nothing(client, auth, body, field_) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/webhooks", json=body, headers=auth)
    assert assert_problem(r, 422)["field"] == field_
    assert client.get("/v1/webhooks", headers=auth).get_json() == {"webhooks": []}


def test_webhook_lifecycle_secret_shown_once_rotation_audit_and_isolation(  # type: ignore[no-untyped-def]
        client, auth, sessions, tenant_key) -> None:
    r = client.post("/v1/webhooks", json={"url": "https://example.com/h", "events": ["voice.ready", "batch.failed"]},
                    headers=auth)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert created["secret"].startswith("whsec_") and created["events"] == ["batch.failed", "voice.ready"]
    listed = client.get("/v1/webhooks", headers=auth).get_json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]

    rotated = client.post(f"/v1/webhooks/{created['id']}/rotate-secret", headers=auth).get_json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"]

    # another tenant sees none of it
    other = {"Authorization": f"Bearer {new_key(sessions)}"}
    assert client.get("/v1/webhooks", headers=other).get_json() == {"webhooks": []}
    for method, path in (("delete", ""), ("post", "/rotate-secret"), ("get", "/deliveries")):
        r = getattr(client, method)(f"/v1/webhooks/{created['id']}{path}", headers=other)
        assert r.status_code == 404, (method, path)

    assert client.delete(f"/v1/webhooks/{created['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=auth).status_code == 404
    with sessions() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.target_id == created["id"])
                            .order_by(AuditEvent.id)).all()
    assert actions == ["webhook.created", "webhook.secret_rotated", "webhook.deleted"]


def new_key(sessions) -> str:  # type: ignore[no-untyped-def]
    """A write key for a brand-new tenant."""
    with sessions.begin() as s:
        tenant = create_tenant(s, f"tenant-{uuid.uuid4().hex[:8]}")
        return create_key(s, tenant, "write")[1]


def test_deliveries_query_is_validated(client, auth) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/v1/webhooks", json={"url": "http://127.0.0.2:9/h", "events": ["voice.ready"]},
                          headers=auth).get_json()
    for query in ("limit=0", "limit=x", "status=lost"):
        r = client.get(f"/v1/webhooks/{created['id']}/deliveries?{query}", headers=auth)
        assert_problem(r, 422)


# --------------------------------------------------------------------------- delivery


def test_failing_receiver_is_retried_with_backoff_until_it_answers(  # type: ignore[no-untyped-def]
        app, api_url, tenant_key, auth, sessions, worker_process, receiver) -> None:
    """500, 500, then 200: three attempts by the real worker, each signed, logged on the row.
    Rotated just before: every attempt carries signatures for both the new and the old secret."""
    endpoint = register(api_url, auth, receiver.url, ["voice.failed"])
    rotated = requests.post(f"{api_url}/v1/webhooks/{endpoint['id']}/rotate-secret", headers=auth, timeout=10).json()
    receiver.answers = [500, 500]
    with sessions.begin() as s:
        (delivery_id,) = webhooks.emit(s, tenant_key[0], WebhookEvent.voice_failed,
                                       {"voice_id": str(uuid.uuid4()), "error": "test"})
    app.extensions["narrator"].queue.send(DELIVER_WEBHOOK, delivery_id)

    got = receiver.wait_for(3, timeout=60)
    assert [g["status"] for g in got] == [500, 500, 200]
    assert got[0]["body"] == got[1]["body"] == got[2]["body"]
    for g in got:
        assert g["headers"]["Narrator-Signature"].count("v1=") == 2
        assert verified(rotated["secret"], g) and verified(endpoint["secret"], g)
        assert not verified("whsec_wrong", g)
    # exponential backoff: the second wait is longer than the first (0.3 s base, jitter 0.5–1×)
    assert got[1]["at"] - got[0]["at"] >= 0.1 and got[2]["at"] - got[1]["at"] >= 0.25

    def settled() -> dict | None:
        (d,) = deliveries(api_url, auth, endpoint["id"])
        return d if d["status"] != "pending" else None

    log = wait_until(settled, 30, "the delivery log", interval=0.3)
    assert log["id"] == delivery_id and log["status"] == "delivered"
    assert log["attempts"] == 3 and log["last_status_code"] == 200 and log["last_error"] is None
    time.sleep(1.5)  # no further attempt once delivered
    assert len(receiver.received) == 3


def test_receiver_that_never_answers_2xx_is_given_up(  # type: ignore[no-untyped-def]
        app, api_url, tenant_key, auth, sessions, settings, worker_process, receiver) -> None:
    endpoint = register(api_url, auth, receiver.url, ["voice.ready"])
    receiver.answers = [503] * 100
    with sessions.begin() as s:
        (delivery_id,) = webhooks.emit(s, tenant_key[0], WebhookEvent.voice_ready, {"voice_id": "v"})
        # only a few attempts for this test: lower the budget on the row's side by pre-spending it
        s.get(WebhookDelivery, delivery_id).attempts = settings.webhook_max_attempts - 2
    app.extensions["narrator"].queue.send(DELIVER_WEBHOOK, delivery_id)
    receiver.wait_for(2, timeout=30)

    def settled() -> dict | None:
        (d,) = deliveries(api_url, auth, endpoint["id"])
        return d if d["status"] != "pending" else None

    log = wait_until(settled, 30, "the delivery log", interval=0.3)
    assert log["status"] == "failed" and log["attempts"] == settings.webhook_max_attempts
    assert log["last_status_code"] == 503 and "503" in log["last_error"]
    time.sleep(1.5)
    assert len(receiver.received) == 2


@pytest.mark.slow
def test_batch_completed_reaches_only_the_tenants_endpoint_signed(  # type: ignore[no-untyped-def]
        api_url, shared_tenant_key, enrolled_voice, sessions) -> None:
    """A small batch rendered by the real worker: its tenant's endpoint gets a verifiable
    ``batch.completed``; another tenant's endpoint for the same event gets nothing."""
    headers = {"Authorization": f"Bearer {shared_tenant_key[1]}"}
    mine, my_server = start_receiver()
    theirs, their_server = start_receiver()
    endpoint: dict = {}
    try:
        endpoint = register(api_url, headers, mine.url, ["batch.completed", "batch.failed"])
        other = {"Authorization": f"Bearer {new_key(sessions)}"}
        other_endpoint = register(api_url, other, theirs.url, ["batch.completed"])
        r = requests.post(f"{api_url}/v1/batches", headers=headers, timeout=30, json={
            "name": "webhook check", "voice_id": enrolled_voice["id"], "items": [{"text": "你好，欢迎收听。"}]})
        assert r.status_code == 202, r.text
        batch_id = r.json()["id"]

        (got,) = mine.wait_for(1, timeout=300)
        assert verified(endpoint["secret"], got)
        assert got["headers"]["Narrator-Event"] == "batch.completed"
        event = json.loads(got["body"])
        assert event["type"] == "batch.completed" and event["data"]["batch_id"] == batch_id
        assert event["data"]["status"] in ("succeeded", "partial") and event["data"]["total"] == 1
        assert event["data"]["counts"]["succeeded"] + event["data"]["counts"]["needs_review"] == 1
        batch = requests.get(f"{api_url}/v1/batches/{batch_id}", headers=headers, timeout=10).json()
        assert batch["status"] == event["data"]["status"]

        def delivered() -> dict | None:
            (d,) = deliveries(api_url, headers, endpoint["id"])
            return d if d["status"] == "delivered" else None

        log = wait_until(delivered, 30, "the delivery log", interval=0.3)
        assert log["event_id"] == event["id"] and log["attempts"] == 1 and log["last_status_code"] == 200
        time.sleep(1)
        assert theirs.received == [] and deliveries(api_url, other, other_endpoint["id"]) == []
    finally:
        if endpoint:  # the tenant is shared with other tests: stop sending it events
            requests.delete(f"{api_url}/v1/webhooks/{endpoint['id']}", headers=headers, timeout=10)
        my_server.shutdown()
        their_server.shutdown()


# --------------------------------------------------------------------------- emission


def fabricated_voice(sessions, tenant_id: str, status: str) -> str:  # type: ignore[no-untyped-def]
    """A voice row in a given state (no enrollment: the tests below exercise what happens
    when a job settles it, not the model)."""
    with sessions.begin() as s:
        voice = Voice(tenant_id=tenant_id, name="v", language="zh", status=status)
        s.add(voice)
        s.flush()
        return voice.id


def test_voice_failed_in_the_job_is_delivered_by_the_worker(  # type: ignore[no-untyped-def]
        app, api_url, tenant_key, auth, sessions, worker_process, receiver) -> None:
    endpoint = register(api_url, auth, receiver.url, ["voice.failed"])
    voice_id = fabricated_voice(sessions, tenant_key[0], VoiceStatus.pending.value)
    ctx = make_celery(app.extensions["narrator"].settings).narrator  # a worker's context (enqueues to Redis)
    fail_voice(ctx, voice_id, "reference audio rejected: too short")

    (got,) = receiver.wait_for(1, timeout=60)
    assert verified(endpoint["secret"], got)
    event = json.loads(got["body"])
    assert event["type"] == "voice.failed" and event["data"]["voice_id"] == voice_id
    assert event["data"]["error"] == "reference audio rejected: too short"


def test_batch_events_are_written_with_the_status_and_only_for_the_tenant(  # type: ignore[no-untyped-def]
        app, api_url, tenant_key, auth, sessions) -> None:
    """finish_batch_if_done writes the delivery rows in its own transaction and hands their
    ids over after commit; a cancelled batch sends nothing; another tenant gets nothing."""
    storage = app.extensions["narrator"].storage
    mine = register(api_url, auth, "http://127.0.0.2:9/mine", ["batch.completed", "batch.failed"])
    other = {"Authorization": f"Bearer {new_key(sessions)}"}
    theirs = register(api_url, other, "http://127.0.0.2:9/theirs", ["batch.completed", "batch.failed"])
    voice_id = fabricated_voice(sessions, tenant_key[0], VoiceStatus.ready.value)

    def finished_batch(statuses: list[str], cancelled: bool = False) -> tuple[str, list[str]]:
        with sessions.begin() as s:
            batch_id = services.create_batch(s, tenant_key[0], [{"text": f"t{n}", "voice_id": voice_id}
                                                                for n in range(len(statuses))], "b", {}, "test")
            for item in s.scalars(select(Item).where(Item.batch_id == batch_id)):
                item.status = statuses[item.seq]
            if cancelled:
                s.get(Batch, batch_id).status = BatchStatus.cancelled.value
        handed: list[str] = []

        def notify(ids: list[str]) -> None:
            with sessions() as s:  # called after commit: the rows are visible to anyone
                assert s.scalars(select(WebhookDelivery.id).where(WebhookDelivery.id.in_(ids))).all()
            handed.extend(ids)

        services.finish_batch_if_done(sessions, storage, batch_id, notify=notify)
        return batch_id, handed

    partial, handed = finished_batch(["succeeded", "failed"])
    failed, handed_failed = finished_batch(["failed"])
    _, handed_cancelled = finished_batch(["cancelled"], cancelled=True)
    assert len(handed) == 1 and len(handed_failed) == 1 and handed_cancelled == []
    with sessions() as s:
        rows = {d.payload["data"]["batch_id"]: d for d in s.scalars(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == mine["id"]))}
        assert set(rows) == {partial, failed}
        assert rows[partial].event == "batch.completed" and rows[partial].payload["data"]["status"] == "partial"
        assert rows[failed].event == "batch.failed" and rows[failed].id == handed_failed[0]
        assert s.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == theirs["id"])).all() == []


def test_lost_delivery_message_is_sent_by_the_sweeper(  # type: ignore[no-untyped-def]
        app, api_url, tenant_key, auth, sessions, worker_process, receiver) -> None:
    """The outbox's safety net: a committed delivery whose message never reached the broker
    (the process died between commit and enqueue) is found and sent by the beat task."""
    endpoint = register(api_url, auth, receiver.url, ["batch.failed"])
    with sessions.begin() as s:
        (delivery_id,) = webhooks.emit(s, tenant_key[0], WebhookEvent.batch_failed, {"batch_id": "b"})
        s.get(WebhookDelivery, delivery_id).next_attempt_at = utcnow() - timedelta(minutes=5)
    assert delivery_id in webhooks.overdue(sessions, timedelta(seconds=60))
    app.extensions["narrator"].queue.send(SWEEP_WEBHOOKS)  # what beat sends every minute

    (got,) = receiver.wait_for(1, timeout=60)
    assert verified(endpoint["secret"], got) and got["headers"]["Narrator-Delivery"] == delivery_id
    log = wait_until(lambda: next((d for d in deliveries(api_url, auth, endpoint["id"])
                                         if d["status"] == "delivered"), None), 30, "the delivery log", interval=0.3)
    assert log["attempts"] == 1
    assert delivery_id not in webhooks.overdue(sessions, timedelta(seconds=0))
