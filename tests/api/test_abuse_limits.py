"""Taking the API down or guessing keys, as an attacker would try, and the limits that stop it.

- Previews: the API as the manifest runs it (gunicorn, the k8s command) with two previews
  waiting on renders: /healthz still answers at once, and a tenant's third preview is a 429.
- Failed authentication (API and console sign-in) is budgeted per client address: past it,
  429 before the key is even checked, so a right guess is refused like a wrong one.
- The console and signed downloads (/v1/files) have a per-address request budget.
- A tenant holds at most max_keys_per_tenant live keys.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from shared.models import Voice, VoiceStatus
from shared.settings import Settings
from shared.tenants import create_key, create_tenant
from tests.support import devservices
from tests.support.devservices import settings_env

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

ROOT = Path(__file__).resolve().parents[2]


def limited_app(settings: Settings, **limits: object):  # type: ignore[no-untyped-def]
    from worker.cli.serve import make_api

    return make_api(settings.with_(**limits))


def from_address(app, address: str):  # type: ignore[no-untyped-def]
    """A test client whose requests come from ``address`` (the peer address the limits key on)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def fresh_address() -> str:
    """An address no other test (or earlier run, within the window) has used: 96 random bits in the
    IPv6 documentation prefix. (One in 250 IPv4 documentation addresses collided now and then, and
    a test then met a budget another request had already spent.)"""
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | (uuid.uuid4().int >> 32)))


# --------------------------------------------------------------------------- failed authentication


def test_many_failed_authentications_get_429_even_for_a_right_key(settings, tenant_key) -> None:  # type: ignore[no-untyped-def]
    """Key guessing from one address: after the budget of failures, every credentialed request
    from it is refused before the check (a right key too, or the 429 would reveal a hit);
    another address is unaffected; tokens come back with time."""
    app = limited_app(settings, auth_failure_limit=5, rate_limit_window_seconds=5)
    attacker, bystander = from_address(app, "203.0.113.9"), from_address(app, "203.0.113.10")
    guesses = [f"nk_{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex}" for _ in range(8)] + ["malformed"]
    codes = [attacker.get("/v1/voices", headers={"Authorization": f"Bearer {g}"}).status_code for g in guesses]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    right = {"Authorization": f"Bearer {tenant_key[1]}"}
    refused = attacker.get("/v1/voices", headers=right)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert "failed authentications" in refused.get_json()["detail"] and int(refused.headers["Retry-After"]) >= 1
    assert bystander.get("/v1/voices", headers=right).status_code == 200
    time.sleep(int(refused.headers["Retry-After"]))
    assert attacker.get("/v1/voices", headers=right).status_code == 200


def test_failed_console_sign_ins_count_against_the_same_budget(settings, tenant_key) -> None:  # type: ignore[no-untyped-def]
    app = limited_app(settings, auth_failure_limit=3, rate_limit_window_seconds=60)
    browser = from_address(app, fresh_address())
    page = browser.get("/console/sign-in")
    assert page.status_code == 200
    token = _csrf(page.get_data(as_text=True))
    codes = []
    for _ in range(5):
        r = browser.post("/console/sign-in", data={"api_key": f"nk_bad_{uuid.uuid4().hex}", "csrf_token": token})
        codes.append(r.status_code)
    assert codes == [401, 401, 401, 429, 429], codes
    r = browser.post("/console/sign-in", data={"api_key": tenant_key[1], "csrf_token": token})
    assert r.status_code == 429 and "Retry-After" in r.headers  # the right key, refused like the rest


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


# --------------------------------------------------------------------------- per-address budgets


def test_console_and_signed_downloads_have_a_per_address_budget(settings) -> None:  # type: ignore[no-untyped-def]
    """Neither needs an API key per request (a session cookie, a signed link), so the per-key
    limit never applied: one address could request them without end."""
    app = limited_app(settings, address_rate_limit_requests=4, rate_limit_window_seconds=60)
    client = from_address(app, fresh_address())
    files = [client.get(f"/v1/files/tenants/x/item.wav?expires=1&signature=bad{n}").status_code for n in range(6)]
    assert files[-1] == 429 and files.count(429) == 2, files
    console = [client.get("/console/sign-in").status_code for _ in range(6)]
    assert console[:4] == [200] * 4 and console[4:] == [429, 429], console  # its own bucket
    assert from_address(app, fresh_address()).get("/console/sign-in").status_code == 200


# --------------------------------------------------------------------------- keys per tenant


def test_a_tenant_cannot_hold_more_than_the_key_cap(settings, admin_key) -> None:  # type: ignore[no-untyped-def]
    app = limited_app(settings, max_keys_per_tenant=3)
    client = from_address(app, fresh_address())
    admin = {"Authorization": f"Bearer {admin_key[1]}"}
    made = [client.post("/v1/keys", json={"scope": "read"}, headers=admin) for _ in range(2)]  # + the admin key
    assert [r.status_code for r in made] == [201, 201]
    r = client.post("/v1/keys", json={"scope": "read"}, headers=admin)
    assert r.status_code == 409 and r.mimetype == "application/problem+json" and "revoke one" in r.get_json()["detail"]
    assert client.post(f"/v1/keys/{made[0].get_json()['id']}/revoke", headers=admin).status_code == 200
    assert client.post("/v1/keys", json={"scope": "read"}, headers=admin).status_code == 201


# --------------------------------------------------------------------------- previews


def manifest_api_command() -> list[str]:
    """The API's command line as the k8s manifest runs it."""
    for doc in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "api.yaml").read_text()):
        if doc and doc.get("kind") == "Deployment":
            return list(doc["spec"]["template"]["spec"]["containers"][0]["command"])
    raise AssertionError("no API Deployment in deploy/k8s/base/api.yaml")


@pytest.fixture(scope="module")
def idle_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis that no worker reads: every preview sent there waits its full timeout."""
    with devservices.redis_server(tmp_path_factory.mktemp("idle-broker")) as broker:
        yield broker.url


@pytest.fixture(scope="module")
def deployed_api(settings: Settings, idle_broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API under gunicorn with the manifest's worker class, processes and threads, its
    previews sent to the idle broker: the worst case, where every one waits its full timeout."""
    pytest.importorskip("gunicorn", reason="gunicorn (the API's server in the images) is not installed")
    port = devservices.free_port()
    command = manifest_api_command()
    assert command[0] == "gunicorn"
    command = [sys.executable, "-m", "gunicorn",
               *[f"127.0.0.1:{port}" if arg == "0.0.0.0:8000" else arg for arg in command[1:]]]
    base = tmp_path_factory.mktemp("deployed-api")
    env = settings_env(settings.with_(broker_url=idle_broker, preview_timeout_seconds=8.0, metrics_port=0))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with open(base / "gunicorn.log", "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{(base / 'gunicorn.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ready_voice(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A tenant's write key and a voice row marked ready (no worker will render it here)."""
    with sessions.begin() as s:
        tenant = create_tenant(s, f"tenant-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, "write")
        voice = Voice(tenant_id=tenant.id, name="v", language="zh", status=VoiceStatus.ready.value)
        s.add(voice)
        s.flush()
        return secret, voice.id


def test_previews_in_flight_leave_the_api_answering(deployed_api, sessions) -> None:  # type: ignore[no-untyped-def]
    """Before: gunicorn's 2 sync processes each held by a preview for up to 120 s, /healthz
    unanswered, the liveness probe restarting the pod. Now two previews wait in threads,
    /healthz answers at once, and the tenant's third preview is refused with a 429."""
    secret, voice_id = ready_voice(sessions)
    headers = {"Authorization": f"Bearer {secret}"}
    answers: list[requests.Response] = []

    def preview() -> None:
        answers.append(requests.post(f"{deployed_api}/v1/synthesize", json={"text": "你好。", "voice_id": voice_id},
                                     headers=headers, timeout=60))

    waiting = [threading.Thread(target=preview, daemon=True) for _ in range(2)]
    for t in waiting:
        t.start()
    time.sleep(1.5)  # both are waiting on their (never rendered) items now
    for _ in range(5):
        started = time.monotonic()
        assert requests.get(f"{deployed_api}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0, "the liveness probe waited on the previews"
    third = requests.post(f"{deployed_api}/v1/synthesize", json={"text": "再见。", "voice_id": voice_id},
                          headers=headers, timeout=5)
    assert third.status_code == 429 and third.headers["Content-Type"].startswith("application/problem+json")
    assert third.json()["code"] == "too_many_previews" and int(third.headers["Retry-After"]) >= 1
    other_secret, other_voice = ready_voice(sessions)  # another tenant is not held up by this one's cap
    r = requests.get(f"{deployed_api}/v1/voices/{other_voice}", headers={"Authorization": f"Bearer {other_secret}"},
                     timeout=5)
    assert r.status_code == 200
    for t in waiting:
        t.join(30)
    assert [a.status_code for a in answers] == [503, 503]  # the bounded wait ended them


def test_a_process_waits_on_no_more_previews_than_it_may(settings, sessions, idle_broker) -> None:  # type: ignore[no-untyped-def]
    """Many tenants' previews at once: past preview_max_waiting in one process the next is a
    503 at once, instead of one more thread held (the threads the probes need)."""
    app = limited_app(settings, broker_url=idle_broker, preview_max_waiting=1, preview_timeout_seconds=3.0)
    (a_secret, a_voice), (b_secret, b_voice) = ready_voice(sessions), ready_voice(sessions)
    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(app.test_client().post(
        "/v1/synthesize", json={"text": "你好。", "voice_id": a_voice},
        headers={"Authorization": f"Bearer {a_secret}"}).status_code), daemon=True)
    first.start()
    time.sleep(1)
    started = time.monotonic()
    r = app.test_client().post("/v1/synthesize", json={"text": "你好。", "voice_id": b_voice},
                               headers={"Authorization": f"Bearer {b_secret}"})
    assert r.status_code == 503 and r.mimetype == "application/problem+json" and time.monotonic() - started < 1
    first.join(10)
    assert answers == [503]  # the first one's own bounded wait ran out: no worker reads this broker
