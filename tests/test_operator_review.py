"""Consents no machine can check are reviewed by the deployment's operator, never by the tenant.

The attack (issue 21, item 2): a tenant records a consent with ``"language": "fr"``, which
speech recognition cannot check, so it waits in ``needs_review``; the tenant's own admin key
approves it, and a voice is then cloned on a "consent" that only the tenant ever heard. Each
test drives the API served over real HTTP, with PostgreSQL, Redis and the S3 server.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from shared import storage_keys
from shared.consent import create_consent
from shared.models import AuditEvent, OperatorKey, ReferenceAudio, Voice
from shared.operators import create_operator_key
from worker.cli import main
from worker.context import WorkerContext
from worker.jobs.enroll import enroll_voice

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "examples" / "reference.wav"
RECORDING = ROOT / "examples" / "consent.wav"
AGREEMENT = {"speaker_name": "Camille Martin", "company_name": "Acme", "agreement_version": "2026-12",
             "agreement_text": "The speaker agrees that the company may create and use a synthetic voice.",
             "signature": "Camille Martin", "language": "fr"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def problem(r: requests.Response, status: int, code: str | None = None, *words: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["detail"], body
    assert code is None or body["code"] == code, body
    for word in words:
        assert word in body["detail"], body["detail"]
    return body


def consent_in_review(api_url: str, headers: dict[str, str]) -> dict:
    """A French consent with its recording uploaded: speech recognition cannot check it."""
    r = requests.post(f"{api_url}/v1/consents", headers=headers, json=AGREEMENT, timeout=30)
    assert r.status_code == 201, r.text
    r = requests.post(f"{api_url}/v1/consents/{r.json()['id']}/recording", headers=headers, timeout=30,
                      files={"recording": ("c.wav", RECORDING.read_bytes(), "audio/wav")})
    assert r.status_code == 202, r.text
    consent = r.json()
    assert consent["status"] == "needs_review" and consent["language"] == "fr", consent
    return consent


def enroll(api_url: str, headers: dict[str, str], consent_id: str, language: str = "zh") -> requests.Response:
    return requests.post(f"{api_url}/v1/voices", headers=headers, timeout=30,
                         data={"name": "cloned", "language": language, "consent_id": consent_id},
                         files={"reference": ("r.wav", REFERENCE.read_bytes(), "audio/wav")})


def audit_actions(sessions, consent_id: str) -> dict[str, AuditEvent]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.target_id == consent_id).order_by(AuditEvent.id))
        return {e.action: e for e in rows}


@pytest.fixture
def operator(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A live operator key: (prefix, secret)."""
    with sessions.begin() as s:
        key, secret = create_operator_key(s, "test operator")
        return key.prefix, secret


def test_a_tenant_admin_cannot_approve_its_own_consent_and_clone_from_it(  # type: ignore[no-untyped-def]
        api_url, admin_key, sessions) -> None:
    tenant = bearer(admin_key[1])
    consent = consent_in_review(api_url, tenant)
    for verb in ("approve", "reject"):
        problem(requests.post(f"{api_url}/v1/consents/{consent['id']}/{verb}", headers=tenant,
                              json={"note": "it is me"}, timeout=30),
                403, "operator_review_required", "operator's decision", "/v1/operator/consents/")
    after = requests.get(f"{api_url}/v1/consents/{consent['id']}", headers=tenant, timeout=30).json()
    assert after["status"] == "needs_review" and after["review"] is None
    problem(enroll(api_url, tenant, consent["id"]), 409, "consent_required")
    assert not {"consent.approved", "consent.rejected"} & set(audit_actions(sessions, consent["id"]))


def test_the_operator_reviews_every_tenants_queue_and_each_verdict_is_audited(  # type: ignore[no-untyped-def]
        api_url, admin_key, operator, sessions) -> None:
    tenant, ops = bearer(admin_key[1]), bearer(operator[1])
    consent = consent_in_review(api_url, tenant)

    # Only the operator key opens the operator's routes, and it opens nothing else.
    problem(requests.get(f"{api_url}/v1/operator/consents", headers=tenant, timeout=30), 403, "forbidden",
            "operator's key")
    problem(requests.get(f"{api_url}/v1/operator/consents", timeout=30), 401)
    problem(requests.get(f"{api_url}/v1/operator/consents", headers=bearer(operator[1] + "x"), timeout=30), 401)
    problem(requests.get(f"{api_url}/v1/voices/{consent['id']}", headers=ops, timeout=30), 401)
    problem(requests.get(f"{api_url}/v1/consents/{consent['id']}", headers=ops, timeout=30), 401)

    queue = requests.get(f"{api_url}/v1/operator/consents", headers=ops, timeout=30)
    assert queue.status_code == 200, queue.text
    mine = [c for c in queue.json()["consents"] if c["id"] == consent["id"]]
    assert mine and mine[0]["tenant_id"] == admin_key[0] and mine[0]["status"] == "needs_review"
    link = requests.get(f"{api_url}/v1/operator/consents/{consent['id']}/recording", headers=ops, timeout=30).json()
    assert requests.get(link["url"], timeout=30).content == RECORDING.read_bytes()  # the operator listens

    problem(requests.post(f"{api_url}/v1/operator/consents/{consent['id']}/approve", headers=ops,
                          json={"note": 5}, timeout=30), 422)
    r = requests.post(f"{api_url}/v1/operator/consents/{consent['id']}/approve", headers=ops,
                      json={"note": "listened: the speaker reads the statement"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["review"]["by"] == f"operator:{operator[0]}"
    problem(requests.post(f"{api_url}/v1/operator/consents/{consent['id']}/reject", headers=ops, timeout=30),
            409, "conflict")
    event = audit_actions(sessions, consent["id"])["consent.approved"]
    assert event.actor == f"operator:{operator[0]}" and event.tenant_id == admin_key[0]
    assert event.details == {"note": "listened: the speaker reads the statement"}

    # Approved in French: a voice in another language is still refused on it.
    problem(enroll(api_url, tenant, consent["id"], "zh"), 422, "consent_language_mismatch", "'fr'", "'zh'")

    other = consent_in_review(api_url, tenant)
    r = requests.post(f"{api_url}/v1/operator/consents/{other['id']}/reject", headers=ops,
                      json={"note": "another voice"}, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    assert audit_actions(sessions, other["id"])["consent.rejected"].actor == f"operator:{operator[0]}"
    problem(requests.post(f"{api_url}/v1/operator/consents/nope/approve", headers=ops, timeout=30), 404)


def test_create_operator_key_prints_it_once_and_stores_only_its_hash(  # type: ignore[no-untyped-def]
        api_url, settings, sessions, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NARRATOR_DATABASE_URL", settings.database_url)
    assert main(["admin", "create-operator-key", "Ops on call"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("nro_")
    prefix = secret.split("_")[1]
    with sessions() as s:
        key = s.scalar(select(OperatorKey).where(OperatorKey.prefix == prefix))
        assert key is not None and key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        stored = json.dumps([str(v) for v in vars(key).values()])
        created = s.scalar(select(AuditEvent).where(AuditEvent.target_id == key.id))
    assert secret not in stored
    assert created is not None and created.action == "operator_key.created" and created.tenant_id is None
    assert requests.get(f"{api_url}/v1/operator/consents", headers=bearer(secret), timeout=30).status_code == 200

    assert main(["admin", "revoke-operator-key", prefix]) == 0
    problem(requests.get(f"{api_url}/v1/operator/consents", headers=bearer(secret), timeout=30), 401)


def test_enrollment_refuses_a_voice_in_another_language_than_its_consent(sessions, settings, tenant_key) -> None:  # type: ignore[no-untyped-def]
    """The worker's second line, for a voice row that did not come through POST /v1/voices'
    check: an English voice on a Chinese consent fails before any audio is read."""
    tenant_id = tenant_key[0]
    with sessions.begin() as s:
        consent = create_consent(s, tenant_id, speaker_name="林小雨", company_name="星光电器", agreement_version="1",
                                 agreement_text="t", signature="林小雨", language="zh", client_ip=None,
                                 user_agent=None, actor="test")
        consent.status, consent.recording_key = "verified", storage_keys.consent_recording_key(tenant_id, consent.id)
        voice = Voice(tenant_id=tenant_id, name="v", language="en", status="pending", consent_id=consent.id)
        s.add(voice)
        s.flush()
        s.add(ReferenceAudio(voice_id=voice.id, original_key=storage_keys.reference_key(tenant_id, voice.id, "r", "wav"),
                             sha256="-", size_bytes=1))
        voice_id = voice.id
    enroll_voice(WorkerContext(settings), voice_id)
    with sessions() as s:
        row = s.get(Voice, voice_id)
        assert row is not None and row.status == "failed"
        assert (row.error or "").startswith("consent_language_mismatch"), row.error
