"""The review console in a real browser (Chromium via Playwright) against the real app served
over HTTP, with PostgreSQL, Redis and S3: sign in, review a batch and an item, mark a word,
edit the lexicon and roll back a fine-tune run, and the operator's own console approving a
consent — each change checked through the API — and axe-core on every page at desktop and
phone widths."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
import requests
import soundfile as sf

from shared import storage_keys
from shared.models import (
    ApiKey,
    Batch,
    BatchStatus,
    Consent,
    ConsentStatus,
    FinetuneRun,
    FinetuneStatus,
    Item,
    ItemStatus,
    ReferenceAudio,
    Voice,
    VoiceStatus,
    utcnow,
)
from shared.operators import create_operator_key, revoke_operator_key
from shared.storage import open_storage
from shared.tenants import create_key, create_tenant, revoke_key
from tests.console.conftest import check_accessible

pytestmark = pytest.mark.slow
TEXT = "我们在重庆见面。"
PINYIN = "wo3 men5 zai4 chong2 qing4 jian4 mian4"


def tone(seconds: float, hz: float = 220.0, rate: int = 24000) -> bytes:
    """A short real WAV (a quiet sine), what the browser's <audio> element plays."""
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@dataclass
class World:
    tenant_id: str
    secret: str
    key_id: str
    voice_id: str
    consent_id: str
    batch_id: str
    item_ids: list[str]
    run_id: str


@pytest.fixture
def world(sessions, settings) -> World:  # type: ignore[no-untyped-def]
    """One tenant's rows, written directly (what enrollment, consent upload, a render and a
    fine-tune leave behind), with their audio and adapter objects really in S3."""
    storage = open_storage(settings)
    with sessions.begin() as s:
        tenant = create_tenant(s, f"console-{uuid.uuid4().hex[:8]}")
        key, secret = create_key(s, tenant, "admin")
        tid = tenant.id
        consent = Consent(tenant_id=tid, speaker_name="Li Wei", company_name="Acme", agreement_version="1",
                          agreement_sha256="-", signature="Li Wei", language="yue",
                          statement="我係李偉，我同意 Acme 用我嘅聲音。", status=ConsentStatus.needs_review.value)
        ok_consent = Consent(tenant_id=tid, speaker_name="x", company_name="y", agreement_version="1",
                             agreement_sha256="-", signature="x", statement="-", status=ConsentStatus.verified.value)
        s.add_all([consent, ok_consent])
        s.flush()
        consent.recording_key = storage_keys.consent_recording_key(tid, consent.id)
        storage.put(consent.recording_key, tone(1.0, 180), "audio/wav")
        voice = Voice(tenant_id=tid, name="Narrator A", language="zh", status=VoiceStatus.ready.value,
                      consent_id=ok_consent.id)
        s.add(voice)
        s.flush()
        ref = ReferenceAudio(voice_id=voice.id, original_key=storage_keys.reference_key(tid, voice.id, "r1", "wav"),
                             sha256="-", content_type="audio/wav", size_bytes=1, duration_s=1.0,
                             qa_report={"scores": {"snr_db": 31.5, "clipping": 0.0}, "reasons": ["a little reverb"]})
        storage.put(ref.original_key, tone(1.0, 200), "audio/wav")
        s.add(ref)
        batch = Batch(tenant_id=tid, name="chapter one", status=BatchStatus.partial.value, total=2,
                      params={"speed": 1.0}, finished_at=utcnow())
        s.add(batch)
        s.flush()
        items = []
        for seq, status in enumerate((ItemStatus.succeeded.value, ItemStatus.needs_review.value)):
            item = Item(batch_id=batch.id, tenant_id=tid, seq=seq, text=TEXT if seq == 0 else "第二句话。",
                        voice_id=voice.id, status=status, storage_key=storage_keys.item_key(tid, batch.id, seq),
                        duration_s=1.5, quality={"snr_db": 40.0, "cer": 0.0 if seq == 0 else 0.3},
                        readings={"pinyin": PINYIN if seq == 0 else "di4 er4 ju4 hua4"},
                        finished_at=utcnow())
            storage.put(item.storage_key, tone(1.5), "audio/wav")  # type: ignore[arg-type]
            s.add(item)
            items.append(item)
        run = FinetuneRun(tenant_id=tid, version=1, trigger="manual", status=FinetuneStatus.promoted.value,
                          reason="gate passed", metrics={"accuracy_before": 0.81, "accuracy_after": 0.93,
                                                         "chars": ["重"]},
                          adapter_key=storage_keys.adapter_key(tid, 1), adapter_sha256="-",
                          finished_at=utcnow() - timedelta(minutes=5))
        storage.put(run.adapter_key, b"adapter-bytes")  # type: ignore[arg-type]
        s.add(run)
        s.flush()
        return World(tid, secret, key.id, voice.id, consent.id, batch.id, [i.id for i in items], run.id)


def sign_in(page, api_url: str, secret: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{api_url}/console/batches")
    assert "/console/sign-in" in page.url  # signed out: every page sends you to sign in
    page.get_by_label("API key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{api_url}/console/batches")


def test_console_review_flow(page, api_url: str, world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    api = {"Authorization": f"Bearer {world.secret}"}

    # Sign in: a wrong key is refused the way the API refuses it; the right one gets a session.
    page.goto(f"{api_url}/console/sign-in")
    check_accessible(page, "sign-in")
    page.get_by_label("API key").fill("nk_bogus_key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("the API key is")
    sign_in(page, api_url, world.secret)
    cookie = next(c for c in page.context.cookies() if c["name"] == "narrator_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert world.secret not in cookie["value"]

    # Batches: the list with a progress bar, then the batch, filtered to flagged items.
    assert page.get_by_role("progressbar", name="Progress of chapter one").get_attribute("value") == "1.0"
    check_accessible(page, "batches")
    page.get_by_role("link", name="chapter one").click()
    assert page.locator("tbody tr").count() == 2
    page.get_by_role("link", name="Flagged for review").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "needs_review" in rows.inner_text()
    page.get_by_role("link", name="All").click()
    check_accessible(page, "batch")

    # The item: its audio plays (space bar), and each word is a button.
    page.get_by_role("link", name=TEXT).click()
    player = page.locator("#player")
    src = player.get_attribute("src")
    audio = requests.get(src, timeout=10)
    assert audio.status_code == 200 and audio.headers["Content-Type"].startswith("audio/wav")
    page.wait_for_function("document.querySelector('#player').readyState >= 2")
    page.locator("h1").click()
    page.keyboard.press(" ")
    page.wait_for_function("!document.querySelector('#player').paused && "
                           "document.querySelector('#player').currentTime > 0")
    page.keyboard.press(" ")
    assert page.evaluate("document.querySelector('#player').paused")

    # Mark 重庆 with a reading: feedback through the same function as POST /v1/feedback.
    word = page.get_by_role("button", name="重庆")
    word.click()
    assert page.locator("#mark-used").inner_text() == "chong2 qing4"
    page.get_by_label("Correct reading (optional, e.g. chong2 qing4)").fill("zhong4 qing4")
    check_accessible(page, "item")
    page.get_by_role("button", name="Submit feedback").click()
    assert "Feedback saved." in page.get_by_role("status").first.inner_text()
    feedback = requests.get(f"{api_url}/v1/feedback", params={"batch_id": world.batch_id}, headers=api,
                            timeout=10).json()["feedback"]
    assert [(f["word"], f["reading"], f["span"], f["state"]) for f in feedback] == \
        [("重庆", "zhong4 qing4", [3, 5], "open")]

    # n goes to the next item.
    page.locator("h1").click()
    page.keyboard.press("n")
    page.wait_for_url(f"{api_url}/console/items/{world.item_ids[1]}")

    # Voices: status, consent, reference QA, the reference player.
    page.get_by_role("link", name="Voices").click()
    card = page.locator("li.card", has_text="Narrator A")
    assert "a little reverb" in card.inner_text() and "verified" in card.inner_text()
    assert requests.get(card.locator("audio").get_attribute("src"), timeout=10).status_code == 200
    waveform = card.get_by_role("img", name="Waveform of the reference recording of Narrator A")
    assert waveform.evaluate("img => img.complete && img.naturalWidth > 0")  # the SVG loaded and drew
    check_accessible(page, "voices")

    # Consents waiting for review: the recording beside the statement, and no verdict for the
    # tenant to give (the operator reviews; test_operator_console below). A tenant's session
    # does not open the operator's pages either.
    page.get_by_role("link", name="Consents").click()
    assert page.locator("blockquote").inner_text().startswith("我係李偉")
    assert "Waiting for the deployment's operator" in page.locator(f"#consent-{world.consent_id}").inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0
    check_accessible(page, "consents")
    page.goto(f"{api_url}/console/operator/consents")
    assert "/console/operator/sign-in" in page.url
    consent = requests.get(f"{api_url}/v1/consents/{world.consent_id}", headers=api, timeout=10).json()
    assert consent["status"] == "needs_review"
    page.goto(f"{api_url}/console/consents")

    # Lexicon: add, find, delete; each a new version the API sees.
    page.get_by_role("link", name="Lexicon").click()
    page.get_by_label("Word", exact=True).fill("行长")
    page.get_by_label("Reading", exact=True).fill("hang2 zhang3")
    page.get_by_role("button", name="Add entry").click()
    assert page.get_by_role("cell", name="hang2 zhang3").is_visible()
    listed = requests.get(f"{api_url}/v1/lexicon", headers=api, timeout=10).json()
    assert [(e["word"], e["reading"]) for e in listed["entries"]] == [("行长", "hang2 zhang3")]
    check_accessible(page, "lexicon")
    page.get_by_role("button", name="Delete 行长").click()
    assert requests.get(f"{api_url}/v1/lexicon", headers=api, timeout=10).json()["entries"] == []
    assert page.locator("ol.history li").count() == 2
    assert page.get_by_role("link", name="Export CSV").get_attribute("href").endswith("/console/lexicon/export.csv")

    # Fine-tune: the active run, its gate metrics; roll it back.
    page.get_by_role("link", name="Fine-tune").click()
    assert "accuracy_after 0.93" in page.locator(f"#run-{world.run_id}").inner_text()
    check_accessible(page, "finetune")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Roll back v1").click()
    assert "Rolled back" in page.get_by_role("status").first.inner_text()
    run = requests.get(f"{api_url}/v1/finetune/runs/{world.run_id}", headers=api, timeout=10).json()
    assert run["status"] == "rolled_back" and run["active"] is False


def test_console_csrf_scope_and_revocation(page, api_url: str, world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, api_url, world.secret)
    # A POST without the session's token is refused, and changes nothing.
    answer = page.request.post(f"{api_url}/console/finetune/{world.run_id}/rollback", form={"x": "1"})
    assert answer.status == 400
    run = requests.get(f"{api_url}/v1/finetune/runs/{world.run_id}",
                       headers={"Authorization": f"Bearer {world.secret}"}, timeout=10).json()
    assert run["status"] == "promoted"
    # Another tenant's batch is no batch at all.
    other = page.request.get(f"{api_url}/console/batches/{uuid.uuid4()}")
    assert other.status == 404
    # A running batch: the page polls its progress every 2 s and shows each finished item.
    with sessions.begin() as s:
        running = Batch(tenant_id=world.tenant_id, name="live", status=BatchStatus.running.value, total=2,
                        params={"speed": 1.0})
        s.add(running)
        s.flush()
        live = [Item(batch_id=running.id, tenant_id=world.tenant_id, seq=n, text="好。", voice_id=world.voice_id)
                for n in range(2)]
        s.add_all(live)
        s.flush()
        running_id, first = running.id, live[0].id
    page.goto(f"{api_url}/console/batches/{running_id}")
    bar = page.get_by_role("progressbar", name="Batch progress")
    assert bar.get_attribute("value") == "0.0"
    with sessions.begin() as s:
        s.get(Item, first).status = ItemStatus.succeeded.value
    page.wait_for_function("document.querySelector('progress').value === 0.5", timeout=10_000)
    assert page.locator('[data-field="done"]').inner_text() == "1"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel batch").click()
    assert "Batch cancelled." in page.get_by_role("status").first.inner_text()
    api = {"Authorization": f"Bearer {world.secret}"}
    summary = requests.get(f"{api_url}/v1/batches/{running_id}", headers=api, timeout=10).json()
    assert summary["status"] == "cancelled" and summary["counts"]["cancelled"] == 1
    # Revoking a voice goes the API's way: deleted at once, its purge enqueued.
    page.goto(f"{api_url}/console/voices")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke voice").click()
    voice = requests.get(f"{api_url}/v1/voices/{world.voice_id}", headers=api, timeout=10).json()
    assert voice["deleted_at"] is not None
    # Revoking the key ends the console session at the next request.
    with sessions.begin() as s:
        revoke_key(s, s.get(ApiKey, world.key_id))
    page.goto(f"{api_url}/console/voices")
    assert "/console/sign-in" in page.url
    assert "revoked" in page.get_by_role("alert").inner_text()


def test_operator_console_reviews_every_tenants_consents(page, api_url: str, world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        key, operator_secret = create_operator_key(s, "console reviewer")
        prefix = key.prefix
    page.goto(f"{api_url}/console/operator/consents")
    assert "/console/operator/sign-in" in page.url
    check_accessible(page, "operator-sign-in")
    page.get_by_label("Operator key").fill(world.secret)  # a tenant's admin key does not open it
    page.get_by_role("button", name="Sign in").click()
    assert "not a live operator key" in page.get_by_role("alert").inner_text()
    page.get_by_label("Operator key").fill(operator_secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{api_url}/console/operator/consents")
    card = page.locator(f"#consent-{world.consent_id}")
    assert "Li Wei" in card.inner_text() and "我係李偉" in card.locator("blockquote").inner_text()
    assert requests.get(card.locator("audio").get_attribute("src"), timeout=10).status_code == 200
    check_accessible(page, "operator-consents")
    # The operator's session opens no tenant page, and a POST without the CSRF token changes nothing.
    page.goto(f"{api_url}/console/batches")
    assert "/console/sign-in" in page.url
    answer = page.request.post(f"{api_url}/console/operator/consents/{world.consent_id}/approve", form={"x": "1"})
    assert answer.status == 400
    api = {"Authorization": f"Bearer {world.secret}"}
    assert requests.get(f"{api_url}/v1/consents/{world.consent_id}", headers=api, timeout=10).json()["status"] \
        == "needs_review"

    page.goto(f"{api_url}/console/operator/consents")
    card = page.locator(f"#consent-{world.consent_id}")
    card.get_by_label("Note").fill("listened: the speaker reads the statement")
    card.get_by_role("button", name="Approve").click()
    assert "Consent approved." in page.get_by_role("status").first.inner_text()
    consent = requests.get(f"{api_url}/v1/consents/{world.consent_id}", headers=api, timeout=10).json()
    assert consent["status"] == "approved" and consent["review"]["by"] == f"operator:{prefix}"
    assert page.locator(f"#consent-{world.consent_id}").count() == 0  # out of the queue

    with sessions.begin() as s:
        revoke_operator_key(s, prefix)
    page.goto(f"{api_url}/console/operator/consents")
    assert "/console/operator/sign-in" in page.url
    assert "revoked" in page.get_by_role("alert").inner_text()
