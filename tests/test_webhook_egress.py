"""Webhooks as an attacker would use them: to reach inside the deployment.

Each test reproduces an attack against the running service (the API over HTTP, the real
worker, real receivers on local ports) and shows it refused. The receivers that must never be
reached listen on 127.0.0.1; the test settings allow-list only 127.0.0.2 (tests/conftest.py).
"""

from __future__ import annotations

import ipaddress
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from shared import egress, webhooks
from shared.dispatch import DELIVER_WEBHOOK
from shared.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.helpers import wait_until
from tests.support import devservices
from tests.test_webhooks import Receiver, start_receiver

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

INTERNAL_URLS = [
    "http://127.0.0.1:6379/",  # loopback: Redis, the API, the metrics port
    "http://localhost:9100/metrics",  # a name that resolves to loopback
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service (link-local)
    "http://0x7f000001/",  # 127.0.0.1 in hex
    "http://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0177.0.0.1/",  # 127.0.0.1 in octal
    "http://127.1/",  # 127.0.0.1, short form
    "http://[::1]/",  # IPv6 loopback
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, mapped, in hex
    "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
    "http://[fe80::1]/",  # IPv6 link-local
    "http://[fd00::1]/",  # IPv6 unique local (private)
    "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.1/",  # private
    "http://100.64.0.1/",  # carrier-grade NAT (shared)
    "http://0.0.0.0:8000/",  # unspecified: the local host on Linux
    "http://224.0.0.1/", "http://[ff02::1]/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://127.0.0.3:8000/",  # loopback next to the allow-listed 127.0.0.2
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_addresses_are_refused_at_registration(api_url, auth, url) -> None:  # type: ignore[no-untyped-def]
    r = requests.post(f"{api_url}/v1/webhooks", json={"url": url, "events": ["batch.completed"]}, headers=auth,
                      timeout=10)
    assert r.status_code == 422, (url, r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["field"] == "url" and "refused" in r.json()["detail"], r.json()
    assert requests.get(f"{api_url}/v1/webhooks", headers=auth, timeout=10).json() == {"webhooks": []}


def test_allow_listed_and_public_receivers_are_accepted(api_url, auth) -> None:  # type: ignore[no-untyped-def]
    """The allow-list lets an on-prem receiver through, and only it; a name that does not
    resolve yet is accepted (each delivery resolves and checks it again)."""
    for url in ("http://127.0.0.2:8080/hooks", "https://hooks.example.com/narrator",
                f"https://{uuid.uuid4().hex}.invalid/h"):
        r = requests.post(f"{api_url}/v1/webhooks", json={"url": url, "events": ["voice.ready"]}, headers=auth,
                          timeout=10)
        assert r.status_code == 201, (url, r.text)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on the allow-listed 127.0.0.2."""
    rec, server = start_receiver()
    yield rec
    server.shutdown()


@pytest.fixture
def internal_receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1: an internal service the worker must never reach."""
    rec, server = start_receiver("127.0.0.1")
    yield rec
    server.shutdown()


def test_an_endpoint_turned_internal_after_registration_is_refused_at_delivery(  # type: ignore[no-untyped-def]
        app, tenant_key, sessions, worker_process, internal_receiver) -> None:
    """DNS rebinding, as the worker sees it: the endpoint passed the check at registration and
    now leads to an internal address (here stored directly: the name's answer changed). The
    real worker resolves again, refuses, and fails the delivery at once: no request reaches the
    internal service, the log says 'refused' with no status code, and there is no retry."""
    with sessions.begin() as s:
        s.add(WebhookEndpoint(tenant_id=tenant_key[0], url=internal_receiver.url, events=["voice.ready"],
                              secret=webhooks.new_secret()))
        s.flush()
        (delivery_id,) = webhooks.emit(s, tenant_key[0], WebhookEvent.voice_ready, {"voice_id": "v"})
    app.extensions["narrator"].queue.send(DELIVER_WEBHOOK, delivery_id)

    def settled() -> WebhookDelivery | None:
        with sessions() as s:
            d = s.get(WebhookDelivery, delivery_id)
            return d if d is not None and d.status != "pending" else None

    delivery = wait_until(settled, 30, "the delivery to settle", interval=0.2)
    assert delivery.status == "failed" and delivery.attempts == 1 and delivery.last_status_code is None
    assert delivery.last_error.startswith("refused:") and "loopback" in delivery.last_error
    time.sleep(1)
    assert internal_receiver.received == []


def resolver(*answers: list[str]) -> tuple[egress.Resolver, list[str]]:
    """A stand-in for DNS (no name server can be run here to change its answers on cue): gives
    the next answer at each lookup and records the names looked up."""
    queue, asked = list(answers), []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve, asked


def endpoint_and_delivery(sessions, tenant_id: str, url: str) -> str:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        s.add(WebhookEndpoint(tenant_id=tenant_id, url=url, events=["voice.ready"], secret=webhooks.new_secret()))
        s.flush()
        (delivery_id,) = webhooks.emit(s, tenant_id, WebhookEvent.voice_ready, {"voice_id": "v"})
        return delivery_id


def test_dns_rebinding_between_registration_and_delivery_is_refused(  # type: ignore[no-untyped-def]
        settings, sessions, tenant_key, internal_receiver) -> None:
    """The name answers a public address at registration and 127.0.0.1 at delivery time."""
    port = internal_receiver.url.split(":")[2].split("/")[0]
    url = f"http://rebind.test:{port}/hooks"
    resolve, asked = resolver(["93.184.216.34"], ["127.0.0.1"])
    assert webhooks.validate_url(url, settings.webhook_allow_list, resolve) == url  # public: accepted
    delivery_id = endpoint_and_delivery(sessions, tenant_key[0], url)
    assert webhooks.attempt(sessions, settings, delivery_id, resolve=resolve) is None
    with sessions() as s:
        d = s.get(WebhookDelivery, delivery_id)
        assert d.status == "failed" and d.last_error.startswith("refused:"), d.last_error
    assert asked == ["rebind.test", "rebind.test"] and internal_receiver.received == []


def test_delivery_connects_to_the_address_it_checked(settings, sessions, tenant_key, receiver) -> None:  # type: ignore[no-untyped-def]
    """The name is resolved once per delivery and the connection goes to that address: a
    second lookup by the HTTP client (where a rebinding name would answer 127.0.0.1) never
    happens. rebind.test resolves nowhere but through the stand-in, so the request can only
    have arrived by the pinned address; it still names the host (Host header)."""
    port = receiver.url.split(":")[2].split("/")[0]
    resolve, asked = resolver(["127.0.0.2"])  # the allow-listed receiver address
    delivery_id = endpoint_and_delivery(sessions, tenant_key[0], f"http://rebind.test:{port}/hooks")
    assert webhooks.attempt(sessions, settings, delivery_id, resolve=resolve) is None
    (got,) = receiver.received
    assert got["headers"]["Host"] == f"rebind.test:{port}" and asked == ["rebind.test"]
    with sessions() as s:
        assert s.get(WebhookDelivery, delivery_id).status == "delivered"


class _Scripted(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def raw_receiver(answer: str) -> tuple[str, _Scripted]:
    """A receiver that misbehaves below HTTP: 'trickle' sends its status line and then one
    header byte every half second, forever; 'endless' answers 200 with a body that never ends."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(60)
            try:
                self.request.recv(65536)
                if answer == "trickle":
                    self.request.sendall(b"HTTP/1.1 200 OK\r\n")
                    while True:
                        self.request.sendall(b"X")
                        time.sleep(0.5)
                else:
                    self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
                    chunk = b"x" * 65536
                    while True:
                        self.request.sendall(chunk)
            except OSError:
                pass

    server = _Scripted(("127.0.0.2", devservices.free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.2:{server.server_address[1]}/hooks", server


@pytest.mark.parametrize("answer", ["trickle", "endless"])
def test_a_receiver_cannot_hold_a_delivery_past_its_deadline_or_flood_it(  # type: ignore[no-untyped-def]
        settings, sessions, tenant_key, answer) -> None:
    """A receiver that trickles its headers or streams an endless answer: each read returns
    within the timeout, so a per-read timeout never fires and the worker thread is held for as
    long as the receiver likes. The attempt now ends at its total deadline (trickle: failed,
    retried later) or after reading max_response_bytes (endless: the 200 counts)."""
    url, server = raw_receiver(answer)
    try:
        fast = settings.with_(webhook_timeout_seconds=2.0)
        delivery_id = endpoint_and_delivery(sessions, tenant_key[0], url)
        result: list[float | None] = []
        started = time.monotonic()
        worker = threading.Thread(target=lambda: result.append(webhooks.attempt(sessions, fast, delivery_id)),
                                  daemon=True)
        worker.start()
        worker.join(15)
        assert not worker.is_alive(), "the delivery attempt is still held by the receiver after 15 s"
        assert time.monotonic() - started < 4
        with sessions() as s:
            d = s.get(WebhookDelivery, delivery_id)
        if answer == "trickle":
            assert d.status == "pending" and result[0] is not None and "deadline" in d.last_error, d.last_error
        else:
            assert d.status == "delivered" and d.last_status_code == 200, d.last_error
    finally:
        server.shutdown()
        server.server_close()


def test_schedule_and_sweeper_ticks_are_not_on_the_webhooks_queue() -> None:
    """Deliveries to slow receivers fill the webhooks queue; beat's ticks must not wait behind them."""
    from shared import dispatch

    for task in (dispatch.RUN_DUE_SCHEDULES, dispatch.SWEEP_WEBHOOKS):
        assert dispatch.ROUTES[task]["queue"] == dispatch.HOUSEKEEPING != dispatch.WEBHOOKS


def test_allow_list_setting_is_parsed_and_typos_stop_the_start() -> None:
    from shared.settings import Settings

    allow = Settings(webhook_allow="10.20.0.0/16, hooks.corp.example ,fd12::/16").webhook_allow_list
    assert allow.allows_host("HOOKS.corp.example.") and not allow.allows_host("corp.example")
    assert allow.allows_address(ipaddress.ip_address("10.20.3.4"))
    assert not allow.allows_address(ipaddress.ip_address("10.21.0.1"))
    with pytest.raises(ValueError, match="NARRATOR_WEBHOOK_ALLOW"):
        Settings(webhook_allow="10.0.0.0/8; rm -rf")
