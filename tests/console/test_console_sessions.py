"""Attacks on the review console's session, each reproduced over HTTP against the real app
(``api_url``: PostgreSQL, Redis, S3): forged cookies, replayed cookies after sign-out, a
revoked key, idle and absolute lifetimes, the Secure flag, non-ASCII CSRF tokens, and the
API's scopes for recordings. No browser: ``requests`` keeps the cookie as one would."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from shared import storage_keys
from shared.models import (
    ApiKey,
    Batch,
    BatchStatus,
    Consent,
    ConsentStatus,
    ConsoleSession,
    ReferenceAudio,
    Voice,
    VoiceStatus,
    utcnow,
)
from shared.security import parse_prefix
from shared.storage import open_storage
from shared.tenants import create_key, create_tenant

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

COOKIE = "narrator_console"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def key_row(sessions, secret: str) -> ApiKey:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return s.scalars(select(ApiKey).where(ApiKey.prefix == parse_prefix(secret))).one()


def a_tenant(sessions, scope: str = "admin", batch_name: str | None = None) -> tuple[str, str, str | None]:  # type: ignore[no-untyped-def]
    """A tenant, a key of ``scope`` for it and (optionally) a finished batch: (tenant, secret, batch)."""
    with sessions.begin() as s:
        tenant = create_tenant(s, f"console-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, scope)
        batch_id = None
        if batch_name:
            batch = Batch(tenant_id=tenant.id, name=batch_name, status=BatchStatus.succeeded.value, total=0,
                          params={}, finished_at=utcnow())
            s.add(batch)
            s.flush()
            batch_id = batch.id
        return tenant.id, secret, batch_id


def sign_in(api_url: str, secret: str, **headers: str) -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{api_url}/console/sign-in", timeout=10)
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    answer = browser.post(f"{api_url}/console/sign-in", data={"api_key": secret, "csrf_token": token},
                          headers=headers, allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/batches"), answer.text
    return browser


def signed_out(answer: requests.Response) -> bool:
    return answer.status_code == 302 and "/console/sign-in" in answer.headers["Location"]


def cookie_serializer(secret_key: str | bytes):  # type: ignore[no-untyped-def]
    """Flask's own session-cookie signer for ``secret_key``: what an attacker runs offline."""
    app = Flask("forger")
    app.secret_key = secret_key
    return SecureCookieSessionInterface().get_signing_serializer(app)


def test_a_cookie_forged_with_the_deployment_secret_is_refused(api_url: str, sessions, settings) -> None:  # type: ignore[no-untyped-def]
    """The attack of issue 21: sign {"key": {own key id, victim tenant, admin}} with the
    secret (a published default, or leaked) and browse the victim's batches."""
    victim, _, victim_batch = a_tenant(sessions, batch_name="victim's chapter")
    _, own_secret, _ = a_tenant(sessions, scope="read")
    own = key_row(sessions, own_secret)
    claims = {"key": {"id": own.id, "prefix": own.prefix, "tenant_id": victim, "scope": "admin"}, "csrf": "x"}
    for signer in (settings.secret_key, settings.secret_key.encode()):
        forged = cookie_serializer(signer).dumps(claims)
        for path in ("/console/batches", f"/console/batches/{victim_batch}"):
            answer = requests.get(f"{api_url}{path}", cookies={COOKIE: forged}, allow_redirects=False, timeout=10)
            assert signed_out(answer), (path, answer.status_code)
            assert "victim's chapter" not in answer.text


def test_tenant_and_scope_come_from_the_key_row_even_with_the_session_key(api_url: str, sessions, app) -> None:  # type: ignore[no-untyped-def]
    """Even with the derived session key itself, a cookie cannot choose a tenant or scope:
    the server reads them from the key row; and a made-up session id names no session."""
    victim, _, victim_batch = a_tenant(sessions, batch_name="victim's chapter")
    _, own_secret, own_batch = a_tenant(sessions, scope="read", batch_name="my chapter")
    own = key_row(sessions, own_secret)
    signer = app.session_interface.get_signing_serializer(app)
    browser = sign_in(api_url, own_secret)
    real = signer.loads(browser.cookies[COOKIE])
    assert set(real) == {"sid", "csrf", "_permanent"}  # no key id, tenant or scope in the cookie
    widened = {**real, "key": {"id": own.id, "prefix": own.prefix, "tenant_id": victim, "scope": "admin"},
               "tenant_id": victim, "scope": "admin"}
    cookies = {COOKIE: signer.dumps(widened)}
    mine = requests.get(f"{api_url}/console/batches", cookies=cookies, allow_redirects=False, timeout=10)
    assert mine.status_code == 200 and "my chapter" in mine.text and "victim's chapter" not in mine.text
    theirs = requests.get(f"{api_url}/console/batches/{victim_batch}", cookies=cookies, allow_redirects=False,
                          timeout=10)
    assert theirs.status_code == 404
    # A read key's session cannot cancel, whatever the cookie says about scope.
    cancel = requests.post(f"{api_url}/console/batches/{own_batch}/cancel", cookies=cookies,
                           data={"csrf_token": real["csrf"]}, allow_redirects=False, timeout=10)
    assert cancel.status_code == 403
    made_up = signer.dumps({"sid": "x" * 43, "csrf": "x"})
    assert signed_out(requests.get(f"{api_url}/console/batches", cookies={COOKIE: made_up},
                                   allow_redirects=False, timeout=10))


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(api_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    _, secret, _ = a_tenant(sessions)
    browser = sign_in(api_url, secret)
    copied = browser.cookies[COOKIE]
    page = browser.get(f"{api_url}/console/batches", timeout=10)
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    out = browser.post(f"{api_url}/console/sign-out", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    assert signed_out(out)
    replay = requests.get(f"{api_url}/console/batches", cookies={COOKIE: copied}, allow_redirects=False, timeout=10)
    assert signed_out(replay)


def test_revoking_the_key_ends_its_console_session(api_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        tenant = create_tenant(s, f"console-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, "write")
        _, admin = create_key(s, tenant, "admin")
    browser = sign_in(api_url, secret)
    assert browser.get(f"{api_url}/console/batches", allow_redirects=False, timeout=10).status_code == 200
    revoked = requests.post(f"{api_url}/v1/keys/{key_row(sessions, secret).id}/revoke",
                            headers={"Authorization": f"Bearer {admin}"}, timeout=10)
    assert revoked.status_code == 200, revoked.text
    answer = browser.get(f"{api_url}/console/batches", timeout=10)
    assert "/console/sign-in" in answer.url and "revoked" in answer.text
    with sessions() as s:
        rows = s.scalars(select(ConsoleSession).where(ConsoleSession.key_id == key_row(sessions, secret).id)).all()
        assert rows and all(r.ended_at is not None for r in rows)


def _age(sessions, key_id: str, **ago: timedelta) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        for row in s.scalars(select(ConsoleSession).where(ConsoleSession.key_id == key_id)):
            for column, delta in ago.items():
                setattr(row, column, getattr(row, column) - delta)


def test_idle_and_absolute_lifetimes_end_a_session(api_url: str, sessions, settings) -> None:  # type: ignore[no-untyped-def]
    _, secret, _ = a_tenant(sessions)
    key_id = key_row(sessions, secret).id
    idle = sign_in(api_url, secret)
    _age(sessions, key_id, last_seen_at=timedelta(seconds=settings.console_idle_seconds - 60))
    assert idle.get(f"{api_url}/console/batches", allow_redirects=False, timeout=10).status_code == 200
    _age(sessions, key_id, last_seen_at=timedelta(seconds=settings.console_idle_seconds - 60))
    # A request moved the idle clock on: aged again by as much, the session still lives.
    assert idle.get(f"{api_url}/console/batches", allow_redirects=False, timeout=10).status_code == 200
    _age(sessions, key_id, last_seen_at=timedelta(seconds=settings.console_idle_seconds + 5))
    answer = idle.get(f"{api_url}/console/batches", timeout=10)
    assert "/console/sign-in" in answer.url and "without activity" in answer.text

    busy = sign_in(api_url, secret)  # active all along, but signed in too long ago
    _age(sessions, key_id, created_at=timedelta(seconds=settings.console_max_seconds + 5))
    answer = busy.get(f"{api_url}/console/batches", timeout=10)
    assert "/console/sign-in" in answer.url and "at most" in answer.text


def test_the_cookie_is_secure_over_https(api_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    _, secret, _ = a_tenant(sessions)
    form = requests.get(f"{api_url}/console/sign-in", timeout=10)
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    for proto, secure in (("https", True), (None, False)):
        headers = {"X-Forwarded-Proto": proto} if proto else {}
        answer = requests.post(f"{api_url}/console/sign-in", data={"api_key": secret, "csrf_token": token},
                               cookies=form.cookies, headers=headers, allow_redirects=False, timeout=10)
        assert answer.status_code == 302
        set_cookie = answer.headers["Set-Cookie"]
        assert ("; Secure" in set_cookie) is secure, set_cookie
        assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_a_non_ascii_csrf_token_is_a_400(api_url: str) -> None:
    form = requests.get(f"{api_url}/console/sign-in", timeout=10)
    by_form = requests.post(f"{api_url}/console/sign-in", data={"api_key": "x", "csrf_token": "é" * 43},
                            cookies=form.cookies, allow_redirects=False, timeout=10)
    assert by_form.status_code == 400
    by_header = requests.post(f"{api_url}/console/sign-in", data={"api_key": "x"},
                              headers={"X-CSRF-Token": "ü" * 43}, cookies=form.cookies,
                              allow_redirects=False, timeout=10)
    assert by_header.status_code == 400


def test_recordings_need_admin_in_the_console_as_in_the_api(api_url: str, sessions, settings) -> None:  # type: ignore[no-untyped-def]
    """A consent recording and a voice's reference: the API serves them to admin keys only
    (GET /v1/consents/<id>/recording), and now so does the console."""
    storage = open_storage(settings)
    with sessions.begin() as s:
        tenant = create_tenant(s, f"console-{uuid.uuid4().hex[:8]}")
        _, admin = create_key(s, tenant, "admin")
        scoped = {scope: create_key(s, tenant, scope)[1] for scope in ("read", "write")}
        consent = Consent(tenant_id=tenant.id, speaker_name="Li Wei", company_name="Acme", agreement_version="1",
                          agreement_sha256="-", signature="Li Wei", language="yue", statement="我同意。",
                          status=ConsentStatus.needs_review.value)
        verified = Consent(tenant_id=tenant.id, speaker_name="x", company_name="y", agreement_version="1",
                           agreement_sha256="-", signature="x", statement="-", status=ConsentStatus.verified.value)
        s.add_all([consent, verified])
        s.flush()
        consent.recording_key = storage_keys.consent_recording_key(tenant.id, consent.id)
        storage.put(consent.recording_key, b"RIFF....WAVE", "audio/wav")
        voice = Voice(tenant_id=tenant.id, name="Narrator A", language="zh", status=VoiceStatus.ready.value,
                      consent_id=verified.id)
        s.add(voice)
        s.flush()
        ref = ReferenceAudio(voice_id=voice.id, original_key=storage_keys.reference_key(tenant.id, voice.id, "r1", "wav"),
                             sha256="-", content_type="audio/wav", size_bytes=1, duration_s=1.0)
        storage.put(ref.original_key, b"RIFF....WAVE", "audio/wav")
        s.add(ref)
        consent_id, voice_id = consent.id, voice.id

    for scope, secret in scoped.items():
        api = requests.get(f"{api_url}/v1/consents/{consent_id}/recording",
                           headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert api.status_code == 403, scope
        browser = sign_in(api_url, secret)
        consents = browser.get(f"{api_url}/console/consents", timeout=10)
        assert consents.status_code == 200 and "我同意。" in consents.text  # the statement, not the voice
        assert "<audio" not in consents.text and consent.recording_key not in consents.text, scope
        voices = browser.get(f"{api_url}/console/voices", timeout=10)
        assert "Narrator A" in voices.text and "<audio" not in voices.text and "waveform.svg" not in voices.text
        assert browser.get(f"{api_url}/console/voices/{voice_id}/waveform.svg", timeout=10).status_code == 403

    browser = sign_in(api_url, admin)
    assert "<audio" in browser.get(f"{api_url}/console/consents", timeout=10).text
    assert "waveform.svg" in browser.get(f"{api_url}/console/voices", timeout=10).text
    assert browser.get(f"{api_url}/console/voices/{voice_id}/waveform.svg", timeout=10).status_code == 200
