"""Download links follow the server: with local storage, ``narrator api --port <any>`` hands out
``/v1/files`` links on the host and port the request came in on (a browser on that port plays
them), and a configured public base URL (the address behind a proxy) wins over both."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from shared import storage_keys
from shared.models import (
    Batch,
    BatchStatus,
    Consent,
    ConsentStatus,
    Item,
    ItemStatus,
    Voice,
    VoiceStatus,
    utcnow,
)
from shared.settings import Settings
from shared.storage import open_storage
from shared.tenants import create_key, create_tenant
from tests.console.test_console_browser import sign_in, tone
from tests.helpers import wait_until
from tests.support import devservices

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalItem:
    secret: str
    batch_id: str
    item_id: str


def local_item(sessions, settings: Settings) -> LocalItem:  # type: ignore[no-untyped-def]
    """A tenant with one rendered item whose audio (1.5 s) lies in the local-folder storage."""
    storage = open_storage(settings)
    with sessions.begin() as s:
        tenant = create_tenant(s, f"links-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, "admin")
        consent = Consent(tenant_id=tenant.id, speaker_name="x", company_name="y", agreement_version="1",
                          agreement_sha256="-", signature="x", statement="-", status=ConsentStatus.verified.value)
        s.add(consent)
        s.flush()
        voice = Voice(tenant_id=tenant.id, name="v", language="zh", status=VoiceStatus.ready.value,
                      consent_id=consent.id)
        s.add(voice)
        s.flush()
        batch = Batch(tenant_id=tenant.id, name="links", status=BatchStatus.succeeded.value, total=1,
                      params={}, finished_at=utcnow())
        s.add(batch)
        s.flush()
        item = Item(batch_id=batch.id, tenant_id=tenant.id, seq=0, text="新品已到货。", voice_id=voice.id,
                    status=ItemStatus.succeeded.value, storage_key=storage_keys.item_key(tenant.id, batch.id, 0),
                    duration_s=1.5, finished_at=utcnow())
        storage.put(item.storage_key, tone(1.5), "audio/wav")  # type: ignore[arg-type]
        s.add(item)
        s.flush()
        return LocalItem(secret, batch.id, item.id)


@pytest.fixture
def local_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.with_(storage_url=(tmp_path / "storage").as_uri())


@pytest.fixture
def narrator_api(local_settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``narrator api --port <free port>``, as a user starts it, never on 8000."""
    port = devservices.free_port()
    assert port != 8000
    log_path = tmp_path / "api.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "api", "--port", str(port)], cwd=ROOT,
                                env=devservices.settings_env(local_settings), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool | None:
        if proc.poll() is not None:
            raise RuntimeError(f"narrator api exited:\n{log_path.read_text()[-3000:]}")
        try:
            return requests.get(f"{url}/healthz", timeout=2).status_code == 200 or None
        except requests.ConnectionError:
            return None

    try:
        wait_until(up, 60, "narrator api")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def item_link(base: str, item: LocalItem, **headers: str) -> str:
    r = requests.get(f"{base}/v1/batches/{item.batch_id}/items", timeout=30,
                     headers={"Authorization": f"Bearer {item.secret}", **headers})
    assert r.status_code == 200, r.text
    return r.json()["items"][0]["url"]


def test_links_follow_the_port_and_host_and_the_browser_plays_them(
        page, narrator_api: str, local_settings: Settings, sessions) -> None:  # type: ignore[no-untyped-def]
    item = local_item(sessions, local_settings)
    link = item_link(narrator_api, item)
    assert link.startswith(f"{narrator_api}/v1/files/"), link
    assert requests.get(link, timeout=10).content[:4] == b"RIFF"
    # the host the client used, too (here: a name for the same address)
    port = narrator_api.rsplit(":", 1)[1]
    assert item_link(narrator_api, item, Host=f"localhost:{port}").startswith(f"http://localhost:{port}/v1/files/")

    sign_in(page, narrator_api, item.secret)
    page.goto(f"{narrator_api}/console/items/{item.item_id}")
    assert page.locator("#player").get_attribute("src").startswith(f"{narrator_api}/v1/files/")
    page.wait_for_function("document.querySelector('#player').readyState >= 1", timeout=20_000)
    duration = page.evaluate("document.querySelector('#player').duration")
    assert duration == pytest.approx(1.5, abs=0.05)


def test_a_public_base_url_wins(local_settings: Settings, sessions) -> None:  # type: ignore[no-untyped-def]
    """Behind a proxy the API sees its internal address; the configured public one is what
    clients can reach, and links are built on it whatever the request's host."""
    from worker.cli.serve import make_api

    public = local_settings.with_(public_base_url="https://narrator.example.com/audio-api")
    item = local_item(sessions, public)
    client = make_api(public).test_client()
    r = client.get(f"/v1/batches/{item.batch_id}/items", headers={"Authorization": f"Bearer {item.secret}"},
                   base_url="http://10.0.0.7:8765")
    link = r.get_json()["items"][0]["url"]
    assert link.startswith("https://narrator.example.com/audio-api/v1/files/"), link
    with pytest.raises(ValueError, match="NARRATOR_PUBLIC_BASE_URL"):
        local_settings.with_(public_base_url="narrator.example.com")
