"""Inputs that used to be server errors or stored as sent, each reproduced against the real
app: deeply nested JSON, non-ASCII download signatures, an upload that claims to be HTML,
and a repeated API key prefix."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from shared.audio_types import stored_audio_type
from shared.security import NewKey, generate_key
from shared.settings import Settings
from shared.storage import open_storage
from shared.tenants import create_key, create_tenant, rotate_key
from tests.support.degrade import to_container_bytes

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

PROBLEM = "application/problem+json"


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def wav() -> bytes:
    buf = io.BytesIO()
    t = np.arange(24000) / 24000
    sf.write(buf, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 24000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_a_400(api_url: str, admin_key: tuple[str, str], depth: int) -> None:
    """100 000 levels made the parser raise RecursionError (a 500); 40 parse, but no request
    of this API nests past 32, so they are refused before any view, hash or serializer."""
    headers = {"Authorization": f"Bearer {admin_key[1]}", "Content-Type": "application/json"}
    for path, extra in (("/v1/keys", {}), ("/v1/consents", {"Idempotency-Key": str(uuid.uuid4())})):
        answer = requests.post(f"{api_url}{path}", data=nested(depth), headers={**headers, **extra}, timeout=30)
        assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])
        assert answer.headers["Content-Type"] == PROBLEM and "nested" in answer.json()["detail"]


CONSENT = '{"speaker_name":"%s","company_name":"Acme","agreement_version":"1","agreement_text":"x","signature":"%s",' \
          '"language":"zh"}'


@pytest.mark.parametrize("text", ["\\ud800", "a\\u0000b"], ids=["lone surrogate", "NUL"])
def test_json_text_no_column_can_store_is_a_400(api_url: str, admin_key: tuple[str, str], text: str) -> None:
    """Valid JSON, but text PostgreSQL refuses (NUL) or that has no UTF-8 form (a lone
    surrogate): it reached the INSERT and came back a 500."""
    headers = {"Authorization": f"Bearer {admin_key[1]}", "Content-Type": "application/json"}
    for path, body in (("/v1/consents", CONSENT % (text, text)),
                       ("/v1/webhooks", '{"url":"https://example.com/' + text + '","events":["batch.completed"]}')):
        answer = requests.post(f"{api_url}{path}", data=body.encode(), headers=headers, timeout=10)
        assert answer.status_code == 400, (path, answer.status_code, answer.text[:300])
        assert answer.headers["Content-Type"] == PROBLEM and "NUL" in answer.json()["detail"]


def test_a_nul_in_the_path_query_or_form_is_a_400(api_url: str, admin_key: tuple[str, str]) -> None:
    auth = {"Authorization": f"Bearer {admin_key[1]}"}
    answers = {
        "path": requests.get(f"{api_url}/v1/voices/a%00b", headers=auth, timeout=10),
        "query": requests.post(f"{api_url}/v1/batches?name=a%00b", data="text\n你好。\n".encode(),
                               headers={**auth, "Content-Type": "text/csv"}, timeout=10),
        "form": requests.post(f"{api_url}/v1/batches", data={"name": "a\x00b"}, headers=auth, timeout=10,
                              files={"file": ("lines.csv", "text\n你好。\n".encode(), "text/csv")}),
    }
    assert {where: a.status_code for where, a in answers.items()} == dict.fromkeys(answers, 400), \
        {where: a.text[:200] for where, a in answers.items()}


def test_a_non_ascii_download_signature_is_a_403(settings: Settings, tmp_path: Path) -> None:
    from worker.cli.serve import make_api

    local = settings.with_(storage_url=(tmp_path / "storage").as_uri())
    open_storage(local).put("tenants/t/batches/b/items/0.wav", wav(), "audio/wav")
    client = make_api(local).test_client()
    for signature in ("%C3%A9" * 32, "%E2%82%AC"):
        answer = client.get(f"/v1/files/tenants/t/batches/b/items/0.wav?expires=4102444800&signature={signature}")
        assert answer.status_code == 403, (signature, answer.status_code)
        assert answer.mimetype == PROBLEM


def test_an_upload_sent_as_html_is_stored_and_served_as_audio(api_url: str, admin_key: tuple[str, str],
                                                              settings: Settings) -> None:
    """A real WAV with an HTML page after its data, uploaded as text/html: stored as given,
    the presigned link served a page from the storage's origin. Now the file's own header
    decides: audio/wav."""
    headers = {"Authorization": f"Bearer {admin_key[1]}"}
    consent = requests.post(f"{api_url}/v1/consents", headers=headers, timeout=30, json={
        "speaker_name": "Jeanne", "company_name": "Acme", "agreement_version": "1", "agreement_text": "Oui.",
        "signature": "Jeanne", "language": "fr"})  # not machine-checkable: waits for review, nothing enqueued
    assert consent.status_code == 201, consent.text
    polyglot = wav() + b"<html><script>alert(document.domain)</script></html>"
    upload = requests.post(f"{api_url}/v1/consents/{consent.json()['id']}/recording", headers=headers, timeout=30,
                           files={"recording": ("page.html", polyglot, "text/html")})
    assert upload.status_code == 202, upload.text
    link = requests.get(f"{api_url}/v1/consents/{consent.json()['id']}/recording", headers=headers, timeout=10)
    served = requests.get(link.json()["url"], timeout=10)
    assert served.status_code == 200 and served.content == polyglot
    assert served.headers["Content-Type"] == "audio/wav"


def test_a_phone_recording_is_accepted_and_served_as_m4a(api_url: str, admin_key: tuple[str, str]) -> None:
    """An iPhone's voice memo (AAC in M4A) is what a speaker records; it passes the header check
    and is stored and served as audio/mp4."""
    headers = {"Authorization": f"Bearer {admin_key[1]}"}
    consent = requests.post(f"{api_url}/v1/consents", headers=headers, timeout=30, json={
        "speaker_name": "Jeanne", "company_name": "Acme", "agreement_version": "1", "agreement_text": "Oui.",
        "signature": "Jeanne", "language": "fr"})  # not machine-checkable: waits for review, nothing enqueued
    memo = to_container_bytes(0.3 * np.sin(np.arange(3 * 16000) * 0.05), 16000, fmt="ipod", codec="aac")
    upload = requests.post(f"{api_url}/v1/consents/{consent.json()['id']}/recording", headers=headers, timeout=30,
                           files={"recording": ("memo.m4a", memo, "audio/x-m4a")})
    assert upload.status_code == 202, upload.text
    link = requests.get(f"{api_url}/v1/consents/{consent.json()['id']}/recording", headers=headers, timeout=10)
    served = requests.get(link.json()["url"], timeout=10)
    assert served.content == memo and served.headers["Content-Type"] == "audio/mp4"


def test_stored_types_come_from_the_file() -> None:
    assert stored_audio_type(wav()) == "audio/wav"
    assert stored_audio_type(b"fLaC\x00\x00\x00\x22") == "audio/flac"
    assert stored_audio_type(b"OggS\x00\x02") == "audio/ogg"
    assert stored_audio_type(b"ID3\x04\x00") == "audio/mpeg"
    assert stored_audio_type(b"\x00\x00\x00\x1cftypM4A \x00\x00") == "audio/mp4"
    assert stored_audio_type(b"\x1a\x45\xdf\xa3\x9fB\x86\x81") == "audio/webm"
    assert stored_audio_type(b"<html><body>hi</body></html>") == "application/octet-stream"


def test_a_repeated_key_prefix_is_drawn_again(sessions) -> None:  # type: ignore[no-untyped-def]
    """Prefixes are 32 random bits: among many keys one repeats. The insert then broke the
    unique constraint (a 500 on POST /v1/keys); now another prefix is drawn. ``generate`` is
    the random source, here one that repeats a taken prefix first."""
    with sessions.begin() as s:
        tenant = create_tenant(s, f"prefix-{uuid.uuid4().hex[:8]}")
        taken, _ = create_key(s, tenant, "read")
        repeat = NewKey(prefix=taken.prefix, secret=f"nrt_{taken.prefix}_{uuid.uuid4().hex}")
        draws = iter([repeat, repeat, generate_key()])
        key, secret = create_key(s, tenant, "write", generate=lambda: next(draws))
        assert key.prefix != taken.prefix and secret.startswith(f"nrt_{key.prefix}_")
        draws = iter([repeat, generate_key()])
        rotated, _ = rotate_key(s, key, generate=lambda: next(draws))
        assert rotated.prefix not in (taken.prefix, key.prefix)
