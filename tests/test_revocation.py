"""Revoking consent (or deleting a voice) takes effect at once and purges every stored byte of the voice;
consents in languages speech recognition cannot check wait for the operator, who listens."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from shared import dispatch, services, storage_keys
from shared.consent import ConsentRequired, create_consent, usable_consent
from shared.models import AuditEvent, Batch, Consent, Item, ReferenceAudio, Voice, VoiceVersion
from shared.operators import create_operator_key
from shared.storage import open_storage
from shared.tenants import create_tenant
from tests.helpers import admin_key, wait_until, wav_bytes
from tests.helpers import assert_problem as problem
from worker.context import WorkerContext
from worker.jobs.purge import purge

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "examples" / "reference.wav"
CONSENT_WAV = ROOT / "examples" / "consent.wav"
AGREEMENT = {"speaker_name": "Yuki Tanaka", "company_name": "Hoshi Denki", "agreement_version": "2026-11",
             "agreement_text": "The speaker agrees that the company may create and use a synthetic voice.",
             "signature": "Yuki Tanaka", "language": "ja"}




def audit(sessions, target_id: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.target_id == target_id).order_by(AuditEvent.id)))


def actions(sessions, target_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """action → actor of a row's audit events."""
    return {e.action: e.actor for e in audit(sessions, target_id)}


@pytest.fixture
def admin(sessions, tenant_key) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """An admin key of the ``tenant_key`` tenant."""
    return {"Authorization": f"Bearer {admin_key(sessions, tenant_key[0])[1]}"}


@pytest.fixture
def operator(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A key of the deployment's operator, who reviews consents."""
    with sessions.begin() as s:
        return {"Authorization": f"Bearer {create_operator_key(s, 'reviewer')[1]}"}


def recorded_ja_consent(client, auth) -> dict:  # type: ignore[no-untyped-def]
    r = client.post("/v1/consents", headers=auth, json=AGREEMENT)
    assert r.status_code == 201, r.get_data(as_text=True)
    consent = r.get_json()
    r = client.post(f"/v1/consents/{consent['id']}/recording", headers=auth,
                    data={"recording": (CONSENT_WAV.open("rb"), "c.wav", "audio/wav")})
    assert r.status_code == 202, r.get_data(as_text=True)
    return r.get_json()


class TestReview:
    def test_a_language_asr_cannot_check_waits_for_the_operator_who_listens_and_approves(  # type: ignore[no-untyped-def]
            self, client, auth, admin, operator, sessions, tenant_key, settings) -> None:
        consent = recorded_ja_consent(client, auth)
        assert consent["status"] == "needs_review" and consent["language"] == "ja"
        with sessions() as s, pytest.raises(ConsentRequired, match="needs_review"):  # no voice can be built on it
            usable_consent(s, tenant_key[0], consent["id"])
        queue = client.get("/v1/consents?status=needs_review", headers=auth).get_json()["consents"]
        assert [c["id"] for c in queue] == [consent["id"]]
        problem(client.get(f"/v1/consents/{consent['id']}/recording", headers=auth), 403, code="forbidden")
        link = client.get(f"/v1/consents/{consent['id']}/recording", headers=admin).get_json()
        assert requests.get(link["url"], timeout=10).content == CONSENT_WAV.read_bytes()
        for key in (auth, admin):  # the tenant's keys, admin included, cannot decide
            problem(client.post(f"/v1/consents/{consent['id']}/approve", headers=key, json={}), 403,
                    code="operator_review_required")
        r = client.post(f"/v1/operator/consents/{consent['id']}/approve", headers=operator,
                        json={"note": "listened: matches"})
        assert r.status_code == 200, r.get_data(as_text=True)
        approved = r.get_json()
        assert approved["status"] == "approved" and approved["review"]["note"] == "listened: matches"
        with sessions() as s:
            assert usable_consent(s, tenant_key[0], consent["id"]).status == "approved"
        prefix = operator["Authorization"].split("_")[1]
        assert actions(sessions, consent["id"])["consent.approved"] == f"operator:{prefix}"
        assert client.get("/v1/consents?status=needs_review", headers=auth).get_json()["consents"] == []
        problem(client.post(f"/v1/operator/consents/{consent['id']}/reject", headers=operator), 409, code="conflict")

    def test_a_rejected_review_cannot_clone_and_bad_review_input_is_refused(  # type: ignore[no-untyped-def]
            self, client, auth, operator, sessions) -> None:
        consent = recorded_ja_consent(client, auth)
        reject = f"/v1/operator/consents/{consent['id']}/reject"
        problem(client.post(reject, headers=operator, json={"note": 5}), 422)
        r = client.post(reject, headers=operator, json={"note": "another voice"})
        assert r.status_code == 200 and r.get_json()["status"] == "rejected"
        assert "consent.rejected" in actions(sessions, consent["id"])
        problem(client.post(f"/v1/operator/consents/{consent['id']}/approve", headers=operator), 409, code="conflict")
        problem(client.post("/v1/voices", headers=auth, data={
            "name": "v", "language": "zh", "consent_id": consent["id"],
            "reference": (REFERENCE.open("rb"), "r.wav", "audio/wav")}), 409, code="consent_required")
        problem(client.get("/v1/consents?status=maybe", headers=auth), 422, code="invalid_input")
        problem(client.post("/v1/consents", headers=auth, json={**AGREEMENT, "language": "日本語"}), 422)


class TestBadInput:
    def test_revoking_an_unknown_or_another_tenants_consent_is_404(self, client, auth, sessions) -> None:  # type: ignore[no-untyped-def]
        with sessions.begin() as s:
            other = create_tenant(s, f"other-{uuid.uuid4().hex[:8]}")
            theirs = create_consent(s, other.id, speaker_name="A B", company_name="C", agreement_version="1",
                                    agreement_text="t", signature="A B", language="en", client_ip=None,
                                    user_agent=None, actor="test").id
        for consent_id in (theirs, str(uuid.uuid4())):
            body = problem(client.post(f"/v1/consents/{consent_id}/revoke", headers=auth, json={}), 404, code="not_found")
            assert consent_id in body["detail"]
            problem(client.delete(f"/v1/voices/{consent_id}", headers=auth), 404, code="not_found")
        with sessions() as s:  # nothing changed, nothing audited
            assert s.get(Consent, theirs).revoked_at is None  # type: ignore[union-attr]
            assert "consent.revoked" not in actions(sessions, theirs)

    def test_revoke_validates_its_body_and_refuses_twice(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        r = client.post("/v1/consents", headers=auth, json={**AGREEMENT, "language": "en"})
        consent_id = r.get_json()["id"]
        problem(client.post(f"/v1/consents/{consent_id}/revoke", headers=auth, json={"keep_outputs": "no"}), 422)
        problem(client.delete(f"/v1/voices/{consent_id}?keep_outputs=perhaps", headers=auth), 422)
        assert client.get(f"/v1/consents/{consent_id}", headers=auth).get_json()["status"] == "awaiting_recording"
        r = client.post(f"/v1/consents/{consent_id}/revoke", headers=auth, json={"keep_outputs": False})
        assert r.status_code == 202 and r.get_json()["status"] == "revoked"
        problem(client.post(f"/v1/consents/{consent_id}/revoke", headers=auth), 409, code="conflict")


@pytest.mark.slow
def test_revocation_purges_the_voice_and_stops_rendering(  # type: ignore[no-untyped-def]
        api_url, app, auth, tenant_key, sessions, settings, give_consent, example_speaker, await_voice) -> None:
    tenant_id = tenant_key[0]
    for _ in range(3):  # read again if speech recognition misheard a digit of the code
        consent = give_consent(auth, example_speaker)
        if consent["status"] == "verified":
            break
    assert consent["status"] == "verified", consent
    r = requests.post(f"{api_url}/v1/voices", headers=auth, timeout=30, files={"reference": REFERENCE.open("rb")},
                      data={"name": "narrator", "language": "zh", "consent_id": consent["id"]})
    assert r.status_code == 202, r.text
    voice_id = r.json()["id"]
    assert await_voice(auth, voice_id)["status"] == "ready"

    def rendered_batch() -> str:
        r = requests.post(f"{api_url}/v1/batches", headers=auth, timeout=30, json={"voice_id": voice_id, "items": [
            {"text": "欢迎光临，今天全场包邮。"}, {"text": "这款耳机续航三十个小时。"}]})
        assert r.status_code == 202, r.text
        return r.json()["id"]

    batch_id = rendered_batch()

    def finished(batch: str) -> dict | None:
        body = requests.get(f"{api_url}/v1/batches/{batch}", headers=auth, timeout=10).json()
        return body if body["finished_at"] else None

    assert wait_until(lambda: finished(batch_id), 600, "the batch")["counts"]["failed"] == 0
    storage = open_storage(settings)
    voice_prefix, consent_prefix = storage_keys.voice_prefix(tenant_id, voice_id), storage_keys.consent_prefix(tenant_id, consent["id"])
    item_prefix = storage_keys.batch_prefix(tenant_id, batch_id) + "items/"
    stored = {p: list(storage.list(p)) for p in (voice_prefix, consent_prefix, item_prefix)}
    assert all(stored.values()), stored  # references, state, recording and audio exist before

    r = requests.post(f"{api_url}/v1/consents/{consent['id']}/revoke", headers=auth, json={"keep_outputs": False},
                      timeout=30)
    assert r.status_code == 202 and r.json()["status"] == "revoked" and r.json()["voice_ids"] == [voice_id], r.text
    voice = requests.get(f"{api_url}/v1/voices/{voice_id}", headers=auth, timeout=10).json()
    assert voice["status"] == "deleted"  # at once, before the purge
    late = requests.post(f"{api_url}/v1/batches", headers=auth, timeout=30,
                         json={"voice_id": voice_id, "items": [{"text": "还能用吗？"}]})
    assert late.status_code == 409, late.text

    wait_until(lambda: requests.get(f"{api_url}/v1/consents/{consent['id']}", headers=auth, timeout=10)
               .json()["purged_at"], 300, "the purge")
    assert {p: list(storage.list(p)) for p in stored} == {p: [] for p in stored}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReferenceAudio).where(ReferenceAudio.voice_id == voice_id)) == 0
        assert s.scalar(select(func.count()).select_from(VoiceVersion).where(VoiceVersion.voice_id == voice_id)) == 0
        items = s.scalars(select(Item).where(Item.voice_id == voice_id)).all()
        assert items and all(it.storage_key is None and it.checksum is None for it in items)
        tombstone = s.get(Voice, voice_id)
        assert tombstone.status == "deleted" and tombstone.purged_at and tombstone.current_version_id is None  # type: ignore[union-attr]
        assert s.get(Consent, consent["id"]).recording_key is None  # type: ignore[union-attr]
    prefix = auth["Authorization"].split("_")[1]
    assert actions(sessions, consent["id"]) == {"consent.given": f"key:{prefix}", "consent.recorded": f"key:{prefix}",
                                                "consent.verified": "worker", "consent.revoked": f"key:{prefix}",
                                                "consent.purged": "worker"}
    assert {"voice.deleted", "voice.purged"} <= set(actions(sessions, voice_id))
    listed = requests.get(f"{api_url}/v1/batches/{batch_id}/items", headers=auth, timeout=10).json()["items"]
    assert [it["url"] for it in listed] == [None, None]

    # A batch already queued for the voice when consent was revoked fails, item by item, at render time.
    with sessions.begin() as s:
        queued = services.create_batch(s, tenant_id, [{"text": "欢迎再次光临。", "voice_id": voice_id}], None,
                                       {"speed": 1.0}, "test")
    app.extensions["narrator"].queue.send(dispatch.PLAN_BATCH, queued)
    assert wait_until(lambda: finished(queued), 300, "the queued batch")["status"] == "failed"
    with sessions() as s:
        errors = list(s.scalars(select(Item.error).where(Item.batch_id == queued)))
    assert errors and all(e.startswith("consent_revoked") for e in errors), errors

    # A redelivered purge finds nothing left and records nothing more.
    audit_rows = len(audit(sessions, voice_id)) + len(audit(sessions, consent["id"]))
    again = purge(WorkerContext(settings), "consent", consent["id"], keep_outputs=False)
    assert sum(again.values()) == 0
    assert len(audit(sessions, voice_id)) + len(audit(sessions, consent["id"])) == audit_rows


def test_deleting_one_voice_keeping_outputs_purges_only_that_voice(  # type: ignore[no-untyped-def]
        client, auth, tenant_key, sessions, settings) -> None:
    """DELETE /v1/voices/{id}?keep_outputs=true, then the purge job: the voice's
    references, state and adapters go; its rendered audio, its consent and the consent's recording stay."""
    tenant_id = tenant_key[0]
    ctx = WorkerContext(settings)
    with sessions.begin() as s:
        consent = create_consent(s, tenant_id, speaker_name="A B", company_name="C", agreement_version="1",
                                 agreement_text="t", signature="A B", language="en", client_ip=None,
                                 user_agent=None, actor="test")
        consent.status, consent.recording_key = "verified", storage_keys.consent_recording_key(tenant_id, consent.id)
        voice = Voice(tenant_id=tenant_id, name="v", language="en", status="ready", consent_id=consent.id)
        s.add(voice)
        s.flush()
        consent_id, voice_id = consent.id, voice.id
        ref_key = storage_keys.reference_key(tenant_id, voice_id, "r1", "original")
        s.add(ReferenceAudio(voice_id=voice_id, original_key=ref_key, sha256="-", size_bytes=3))
        state_key = storage_keys.voice_state_key(tenant_id, voice_id, 1)
        s.add(VoiceVersion(voice_id=voice_id, version=1, state_key=state_key, state_sha256="-", engine="kokoro",
                           engine_version="-", method="stock"))
        batch_id = services.create_batch(s, tenant_id, [{"text": "hi", "voice_id": voice_id}], None, {}, "test")
        s.flush()
        item = s.scalar(select(Item).where(Item.batch_id == batch_id))
        item.status, item.storage_key = "succeeded", storage_keys.item_key(tenant_id, batch_id, 0)  # type: ignore[union-attr]
        item_key = item.storage_key  # type: ignore[union-attr]
    adapter_key = storage_keys.voice_prefix(tenant_id, voice_id) + "adapters/1/lora.bin"
    for key in (ref_key, state_key, adapter_key, item_key, storage_keys.consent_recording_key(tenant_id, consent_id)):
        ctx.storage.put(key, b"data")

    r = client.delete(f"/v1/voices/{voice_id}?keep_outputs=true", headers=auth)
    assert r.status_code == 202 and r.get_json()["status"] == "deleted", r.get_data(as_text=True)
    problem(client.delete(f"/v1/voices/{voice_id}", headers=auth), 409, code="conflict")
    # Run the job here; a worker of this test session may have run the queued one first, and
    # either way the result must be the same.
    purge(ctx, "voice", voice_id, keep_outputs=True)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReferenceAudio).where(ReferenceAudio.voice_id == voice_id)) == 0
        assert s.scalar(select(func.count()).select_from(VoiceVersion).where(VoiceVersion.voice_id == voice_id)) == 0
    assert list(ctx.storage.list(storage_keys.voice_prefix(tenant_id, voice_id))) == []
    assert ctx.storage.exists(item_key) and ctx.storage.exists(storage_keys.consent_recording_key(tenant_id, consent_id))
    with sessions() as s:
        assert s.scalar(select(Item.storage_key).where(Item.batch_id == batch_id)) == item_key
        assert s.get(Consent, consent_id).status == "verified"  # type: ignore[union-attr]
        assert s.get(Voice, voice_id).purged_at is not None  # type: ignore[union-attr]
    assert actions(sessions, voice_id)["voice.deleted"].startswith("key:")
    assert sum(purge(ctx, "voice", voice_id, keep_outputs=True).values()) == 0  # redelivered: nothing left


@pytest.mark.attack
@pytest.mark.parametrize("keep_outputs", [False, True], ids=["purge-outputs", "keep-outputs"])
def test_revoking_consent_purges_the_batch_zip_unless_outputs_are_kept(  # type: ignore[no-untyped-def]
        client, auth, tenant_key, sessions, settings, keep_outputs: bool) -> None:
    """A batch's ZIP (``zip_url``) carries the voice's audio too: the purge deletes it from S3
    and the batch stops offering it, unless the speaker's revocation keeps outputs."""
    tenant_id = tenant_key[0]
    ctx = WorkerContext(settings)
    with sessions.begin() as s:
        consent = create_consent(s, tenant_id, speaker_name="A B", company_name="C", agreement_version="1",
                                 agreement_text="t", signature="A B", language="en", client_ip=None,
                                 user_agent=None, actor="test")
        consent.status = "verified"
        voice = Voice(tenant_id=tenant_id, name="v", language="en", status="ready", consent_id=consent.id)
        s.add(voice)
        s.flush()
        consent_id = consent.id
        batch_id = services.create_batch(s, tenant_id, [{"text": t, "voice_id": voice.id} for t in ("hi", "there")],
                                         "zipped", {"speed": 1.0, "zip": True}, "test")
        s.flush()
        item_keys = []
        for item in s.scalars(select(Item).where(Item.batch_id == batch_id)):
            item.status, item.storage_key = "succeeded", storage_keys.item_key(tenant_id, batch_id, item.seq)
            item_keys.append(item.storage_key)
    for key in item_keys:
        ctx.storage.put(key, wav_bytes(0.2), "audio/wav")
    services.finish_batch_if_done(sessions, ctx.storage, batch_id)  # the real manifest and ZIP, in S3
    zip_key = storage_keys.batch_zip_key(tenant_id, batch_id)
    zip_url = client.get(f"/v1/batches/{batch_id}", headers=auth).get_json()["zip_url"]
    assert zip_url and ctx.storage.exists(zip_key)
    with zipfile.ZipFile(io.BytesIO(requests.get(zip_url, timeout=10).content)) as zf:
        assert sum(name.endswith(".wav") for name in zf.namelist()) == 2  # the voice's audio is in it

    r = client.post(f"/v1/consents/{consent_id}/revoke", headers=auth, json={"keep_outputs": keep_outputs})
    assert r.status_code == 202, r.get_data(as_text=True)
    counts = purge(ctx, "consent", consent_id, keep_outputs=keep_outputs)
    after = client.get(f"/v1/batches/{batch_id}", headers=auth).get_json()
    if keep_outputs:
        assert ctx.storage.exists(zip_key) and after["zip_url"] and counts["zips"] == 0
        assert requests.get(after["zip_url"], timeout=10).status_code == 200
    else:
        assert not ctx.storage.exists(zip_key) and after["zip_url"] is None and counts["zips"] == 1
        assert requests.get(zip_url, timeout=10).status_code == 404  # the link handed out before is dead too
        with sessions() as s:
            assert s.get(Batch, batch_id).zip_key is None  # type: ignore[union-attr]
        purged = [e for e in audit(sessions, voice.id) if e.action == "voice.purged"]
        assert purged and purged[-1].details["zips"] == 1
    assert sum(purge(ctx, "consent", consent_id, keep_outputs=keep_outputs).values()) == 0  # redelivered
