"""Bad input gets a 4xx problem+json with a human reason, and nothing is stored."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from shared import storage_keys
from shared.models import Batch, Item, Voice, VoiceStatus
from shared.storage import open_storage
from tests.helpers import assert_problem, wav_bytes

CONSENT = {"speaker_name": "Ana Li", "company_name": "Acme", "agreement_version": "v1",
           "agreement_text": "I agree.", "signature": "ana li", "language": "en"}




@pytest.fixture
def nothing_stored(tenant_key, sessions, settings):  # type: ignore[no-untyped-def]
    """After the test: no object under the tenant's prefix, no voice or batch rows."""
    yield
    tenant_id = tenant_key[0]
    assert list(open_storage(settings).list(storage_keys.tenant_prefix(tenant_id))) == []
    with sessions() as s:
        for model in (Voice, Batch, Item):
            extra = model.status != VoiceStatus.ready.value if model is Voice else True  # fixture rows are ready
            assert s.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id, extra)) == 0


@pytest.fixture
def ready_voice(tenant_key, sessions) -> str:  # type: ignore[no-untyped-def]
    """A voice row marked ready, for validation paths that stop before any rendering."""
    with sessions.begin() as s:
        voice = Voice(tenant_id=tenant_key[0], name="v", language="zh", status=VoiceStatus.ready.value)
        s.add(voice)
        s.flush()
        return voice.id


def test_requests_without_a_valid_key_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/v1/voices"), 401, "API key")
    assert_problem(client.get("/v1/voices", headers={"Authorization": "Bearer nrt_deadbeef_x"}), 401, "unknown")
    assert client.get("/healthz").status_code == 200


@pytest.mark.usefixtures("nothing_stored")
class TestVoices:
    def test_missing_fields(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.post("/v1/voices", headers=auth, data={}), 422, "'name'")
        assert_problem(client.post("/v1/voices", headers=auth, data={"name": "a"}), 422, "'language'")
        assert_problem(client.post("/v1/voices", headers=auth, data={"name": "a", "language": "zh"}), 422, "reference")

    def test_wrong_language(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        data = {"name": "a", "language": "klingon", "reference": (io.BytesIO(wav_bytes()), "r.wav")}
        assert_problem(client.post("/v1/voices", headers=auth, data=data), 422, "zh, en")

    def test_non_audio_upload(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        data = {"name": "a", "language": "zh", "reference": (io.BytesIO(b"%PDF-1.4 not audio" * 50), "r.wav")}
        assert_problem(client.post("/v1/voices", headers=auth, data=data), 415, "not audio")

    def test_empty_upload(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        data = {"name": "a", "language": "zh", "reference": (io.BytesIO(b""), "r.wav")}
        assert_problem(client.post("/v1/voices", headers=auth, data=data), 422, "empty")

    def test_oversize_upload(self, client, auth, app) -> None:  # type: ignore[no-untyped-def]
        big = b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1)
        data = {"name": "a", "language": "zh", "reference": (io.BytesIO(big), "r.wav")}
        assert_problem(client.post("/v1/voices", headers=auth, data=data), 413, "limit")

    def test_no_voice_without_verified_consent(self, client, auth, sessions, tenant_key) -> None:  # type: ignore[no-untyped-def]
        data = {"name": "a", "language": "zh", "reference": (io.BytesIO(wav_bytes()), "r.wav")}
        assert_problem(client.post("/v1/voices", headers=auth, data=data), 409, "verified consent")
        consent = client.post("/v1/consents", headers=auth, json=CONSENT).get_json()
        data = {"name": "a", "language": "zh", "consent_id": consent["id"],
                "reference": (io.BytesIO(wav_bytes()), "r.wav")}
        assert_problem(client.post("/v1/voices", headers=auth, data=data), 409, "awaiting_recording")
        data["consent_id"], data["reference"] = "nope", (io.BytesIO(wav_bytes()), "r.wav")
        assert_problem(client.post("/v1/voices", headers=auth, data=data), 404, "nope")

    def test_unknown_voice(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.get("/v1/voices/nope", headers=auth), 404, "nope")


@pytest.mark.usefixtures("nothing_stored")
class TestConsents:
    def test_signature_must_be_the_speakers_name(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.post("/v1/consents", headers=auth, json={**CONSENT, "signature": "Someone Else"}),
                       422, "speaker's full name")

    def test_missing_fields_and_wrong_types(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        for field in ("speaker_name", "company_name", "agreement_version", "agreement_text", "signature"):
            body = {k: v for k, v in CONSENT.items() if k != field}
            assert_problem(client.post("/v1/consents", headers=auth, json=body), 422, f"'{field}'")
        assert_problem(client.post("/v1/consents", headers=auth, json={**CONSENT, "language": 7}), 422, "string")

    def test_recording_upload_errors(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        consent = client.post("/v1/consents", headers=auth, json=CONSENT).get_json()
        url = f"/v1/consents/{consent['id']}/recording"
        assert_problem(client.post(url, headers=auth, data={}), 422, "'recording'")
        assert_problem(client.post(url, headers=auth, data={"recording": (io.BytesIO(b"not audio" * 99), "c.wav")}),
                       415, "not audio")
        assert_problem(client.post("/v1/consents/nope/recording", headers=auth,
                                   data={"recording": (io.BytesIO(wav_bytes()), "c.wav")}), 404, "nope")
        assert client.get(f"/v1/consents/{consent['id']}", headers=auth).get_json()["status"] == "awaiting_recording"


@pytest.mark.usefixtures("nothing_stored")
class TestBatches:
    def test_not_json(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.post("/v1/batches", headers=auth, data="text"), 422, "JSON")

    def test_missing_and_wrong_types(self, client, auth, ready_voice) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.post("/v1/batches", headers=auth, json={}), 422, "'items'")
        assert_problem(client.post("/v1/batches", headers=auth, json={"items": "x"}), 422, "'items'")
        assert_problem(client.post("/v1/batches", headers=auth, json={"items": []}), 422, "no items")
        assert_problem(client.post("/v1/batches", headers=auth, json={"items": [{"voice_id": ready_voice}]}),
                       422, "items[0].text")
        assert_problem(client.post("/v1/batches", headers=auth, json={"items": [{"text": 5, "voice_id": ready_voice}]}),
                       422, "must be a string")
        body = {"items": [{"text": "你好", "voice_id": ready_voice}], "speed": "fast"}
        assert_problem(client.post("/v1/batches", headers=auth, json=body), 422, "'speed'")
        body = {"items": [{"text": "你好", "voice_id": ready_voice}], "output_format": "ogg"}
        assert_problem(client.post("/v1/batches", headers=auth, json=body), 422, "'output_format'", "wav, mp3, flac")
        data = {"file": (io.BytesIO("text\n你好\n".encode()), "c.csv"), "voice_id": ready_voice, "output_format": "aac"}
        assert_problem(client.post("/v1/batches", headers=auth, data=data), 422, "'output_format'")

    def test_unknown_voice_and_too_many_items(self, client, auth, ready_voice, settings) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.post("/v1/batches", headers=auth, json={"items": [{"text": "a", "voice_id": "nope"}]}),
                       404, "nope")
        many = [{"text": "a", "voice_id": ready_voice}] * (settings.max_batch_items + 1)
        assert_problem(client.post("/v1/batches", headers=auth, json={"items": many}), 422, "at most")

    def test_text_too_long(self, client, auth, ready_voice, settings) -> None:  # type: ignore[no-untyped-def]
        body = {"items": [{"text": "长" * (settings.max_text_chars + 1), "voice_id": ready_voice}]}
        assert_problem(client.post("/v1/batches", headers=auth, json=body), 422, "longer than")

    def test_a_csv_in_a_local_encoding_is_refused_whole(self, client, auth, ready_voice) -> None:  # type: ignore[no-untyped-def]
        """A Chinese Windows spreadsheet saves "CSV" in GBK: every row would fail; the upload is refused, saying why."""
        data = {"file": (io.BytesIO("text,id\n这款手机售价三千元。,a\n".encode("gbk")), "c.csv"), "voice_id": ready_voice}
        assert_problem(client.post("/v1/batches", headers=auth, data=data), 422, "not UTF-8", "CSV UTF-8")

    def test_csv_without_text_column(self, client, auth, ready_voice) -> None:  # type: ignore[no-untyped-def]
        data = {"file": (io.BytesIO(b"name,price\nx,1\n"), "c.csv"), "voice_id": ready_voice}
        assert_problem(client.post("/v1/batches", headers=auth, data=data), 422, "'text' column")

    def test_unknown_batch_and_bad_paging(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.get("/v1/batches/nope", headers=auth), 404, "nope")
        assert_problem(client.get("/v1/batches/nope/items?cursor=x", headers=auth), 422, "integers")
        assert_problem(client.get("/v1/batches/nope/items?status=odd", headers=auth), 422, "'status'")

    def test_cancel_unknown_batch(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.post("/v1/batches/nope/cancel", headers=auth), 404, "nope")

    def test_voice_not_ready(self, client, auth, sessions, tenant_key) -> None:  # type: ignore[no-untyped-def]
        with sessions.begin() as s:
            voice = Voice(tenant_id=tenant_key[0], name="p", language="zh", status=VoiceStatus.failed.value)
            s.add(voice)
            s.flush()
            voice_id = voice.id
        body = {"items": [{"text": "你好", "voice_id": voice_id}]}
        assert_problem(client.post("/v1/batches", headers=auth, json=body), 409, "not ready")
        with sessions.begin() as s:
            s.delete(s.get(Voice, voice_id))


@pytest.mark.usefixtures("nothing_stored")
class TestSynthesize:
    def test_missing_text_and_unknown_voice(self, client, auth, ready_voice) -> None:  # type: ignore[no-untyped-def]
        assert_problem(client.post("/v1/synthesize", headers=auth, json={"voice_id": ready_voice}), 422, "text")
        assert_problem(client.post("/v1/synthesize", headers=auth, json={"text": "hi", "voice_id": "x"}), 404, "'x'")
        assert_problem(client.post("/v1/synthesize", headers=auth, data="x"), 415, "JSON")

    def test_preview_text_too_long(self, client, auth, ready_voice) -> None:  # type: ignore[no-untyped-def]
        body = {"text": "长" * 301, "voice_id": ready_voice}
        assert_problem(client.post("/v1/synthesize", headers=auth, json=body), 422, "longer than")


def test_other_tenants_voice_is_not_found(client, sessions) -> None:  # type: ignore[no-untyped-def]
    from shared.tenants import create_key, create_tenant

    with sessions.begin() as s:
        a, b = create_tenant(s, "tenant-a-iso"), create_tenant(s, "tenant-b-iso")
        voice = Voice(tenant_id=a.id, name="secret", language="zh", status=VoiceStatus.ready.value)
        s.add(voice)
        s.flush()
        _, key_b = create_key(s, b, "read")
        voice_id = voice.id
    assert_problem(client.get(f"/v1/voices/{voice_id}", headers={"Authorization": f"Bearer {key_b}"}), 404)


def test_openapi_document_and_docs_page(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/v1/voices", "/v1/batches", "/v1/batches/{batch_id}/items", "/v1/synthesize"} <= set(spec["paths"])
    assert b"/v1/batches" in client.get("/v1/docs").data


def test_cancelling_a_batch_cancels_its_queued_items_once(client, auth, ready_voice) -> None:  # type: ignore[no-untyped-def]
    body = {"voice_id": ready_voice, "items": [{"text": "第一条。"}, {"text": "第二条。"}]}
    batch = client.post("/v1/batches", headers=auth, json=body).get_json()
    r = client.post(f"/v1/batches/{batch['id']}/cancel", headers=auth)
    assert r.status_code == 202
    summary = r.get_json()
    assert summary["status"] == "cancelled" and summary["counts"]["cancelled"] == 2 and summary["finished_at"]
    assert_problem(client.post(f"/v1/batches/{batch['id']}/cancel", headers=auth), 409, "already finished")


def test_idempotency_key_replays_the_first_response_and_refuses_a_different_body(  # type: ignore[no-untyped-def]
        client, auth, ready_voice, sessions, tenant_key) -> None:
    headers = {**auth, "Idempotency-Key": "order-42"}
    body = {"voice_id": ready_voice, "items": [{"text": "同一个请求。"}]}
    first = client.post("/v1/batches", headers=headers, json=body)
    again = client.post("/v1/batches", headers=headers, json=body)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/batches", headers=headers, json={**body, "items": [{"text": "另一个请求。"}]})
    assert_problem(other, 409, "different request")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch).where(Batch.tenant_id == tenant_key[0])) == 1
    client.post(f"/v1/batches/{first.get_json()['id']}/cancel", headers=auth)  # keep the worker's queue empty


def test_a_failed_request_does_not_burn_its_idempotency_key(client, auth, ready_voice) -> None:  # type: ignore[no-untyped-def]
    headers = {**auth, "Idempotency-Key": "retry-me"}
    assert_problem(client.post("/v1/batches", headers=headers, json={"items": []}), 422, "no items")
    ok = client.post("/v1/batches", headers=headers, json={"voice_id": ready_voice, "items": [{"text": "好。"}]})
    assert ok.status_code == 202 and "Idempotent-Replayed" not in ok.headers
    client.post(f"/v1/batches/{ok.get_json()['id']}/cancel", headers=auth)
