"""Shared fixtures: real PostgreSQL, Redis, an S3 server, a Celery worker process, the API.

The suite owns its services: it starts a private PostgreSQL and a private Redis (temporary data
directories, free ports, removed at the end; tests/support/devservices.py) and never touches a
database or Redis it did not create. Two variables point it at existing servers instead:

- ``NARRATOR_TEST_PG``: an admin URL (``postgresql://user@host:port/postgres``) of a server on
  which the suite may create (and drops again) databases and roles named ``narrator_test_*``;
- ``NARRATOR_TEST_REDIS``: a Redis database URL (``redis://host:port/N``) the suite owns
  outright: it is FLUSHED at the start of the session.

Nothing here is mocked. The S3 server is moto's threaded server — a real HTTP server
speaking the S3 protocol on a local port — because no MinIO binary can be installed
here; boto3 talks to it exactly as it talks to MinIO or AWS.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests
from werkzeug.serving import make_server

from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.settings import Settings
from shared.tenants import create_key, create_tenant
from tests.helpers import wait_until
from tests.support import devservices
from tests.support.devservices import WorkerProcess, start_worker

ROOT = Path(__file__).resolve().parents[1]
PG_ENV, REDIS_ENV = "NARRATOR_TEST_PG", "NARRATOR_TEST_REDIS"
BUCKET = "narrator-test"
S3_SECRET = "s3-secret-7f3a9c"  # distinctive, so a test can prove it never reaches a log
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's and the API's access lines


@pytest.fixture(scope="session")
def whisper():  # type: ignore[no-untyped-def]
    """Whisper-base from the model cache, loaded once: it hears renders and recordings in many tests."""
    from worker.tts.checks.asr import Transcriber

    return Transcriber(Settings().model_cache)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    """An admin URL of a PostgreSQL server the suite may create databases and roles on: the
    private server of this session, or the one NARRATOR_TEST_PG names."""
    configured = os.environ.get(PG_ENV)
    if configured:
        yield configured
        return
    with devservices.postgres_server() as server:
        yield server.admin_url


@pytest.fixture(scope="session")
def fresh_pg_database(pg_admin: str) -> Iterator[str]:
    """A brand-new PostgreSQL database per test session, dropped afterwards."""
    with devservices.fresh_pg_database(pg_admin) as url:
        yield url


@pytest.fixture(scope="session")
def pg_url(fresh_pg_database: str) -> str:
    upgrade(fresh_pg_database)
    return fresh_pg_database


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with devservices.s3_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker of the session: a private redis-server, or the database NARRATOR_TEST_REDIS
    names (flushed first: the variable hands that database to the suite)."""
    configured = os.environ.get(REDIS_ENV)
    if configured:
        redis.Redis.from_url(configured).flushdb()
        yield configured
        return
    with devservices.redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="session")
def settings(pg_url: str, s3_endpoint: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=pg_url,
        broker_url=redis_url,
        storage_url=f"s3://{BUCKET}",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key=S3_SECRET,
        secret_key=secrets.token_urlsafe(32),  # a deployment's own: the service refuses a published one
        metrics_port=devservices.free_port(),
        webhook_backoff_seconds=0.3,  # retries within a second or two, so tests can watch them
        webhook_timeout_seconds=5.0,
        # The webhook receivers of the tests listen on 127.0.0.2, allow-listed here as a deployment
        # allow-lists an on-prem receiver: webhooks are otherwise refused for every loopback,
        # private, link-local ... address. Only that one address: 127.0.0.1 (where the API, S3 and
        # the metrics listen) stays refused, which tests/test_webhook_egress.py checks.
        webhook_allow="127.0.0.2/32",
        # Every test talks from 127.0.0.1 and many send bad keys on purpose: a production-sized
        # budget of failed authentications would turn later tests' answers into 429s. The
        # budget itself is tested on apps of its own (tests/api/test_abuse_limits.py).
        auth_failure_limit=100000,
        enroll_budget_seconds=45.0,  # the style search still runs, for a few evaluations (CLI tests: the default)
    )


@pytest.fixture(scope="session")
def sessions(settings: Settings):  # type: ignore[no-untyped-def]
    return make_sessionmaker(make_engine(settings.database_url))


def new_tenant_key(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        tenant = create_tenant(s, f"tenant-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, "write")
        return tenant.id, secret


@pytest.fixture
def tenant_key(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A fresh tenant and a write key for it: (tenant_id, secret)."""
    return new_tenant_key(sessions)


@pytest.fixture
def admin_key(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A fresh tenant and an admin-scope key for it: (tenant_id, secret)."""
    with sessions.begin() as s:
        tenant = create_tenant(s, f"tenant-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, "admin")
        return tenant.id, secret


@pytest.fixture
def scratch_pg_url(pg_admin: str) -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own, for tests that damage it on purpose."""
    with devservices.fresh_pg_database(pg_admin) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def shared_tenant_key(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """One tenant for the slow tests that share an enrolled voice."""
    return new_tenant_key(sessions)


@pytest.fixture(scope="session")
def models():  # type: ignore[no-untyped-def]
    """The model stack, loaded once in the test process (for rendering test audio)."""
    from worker.model_cache import ModelCache

    return ModelCache(Settings.from_env())


@pytest.fixture(scope="session")
def example_speaker(models) -> Callable[[str], bytes]:  # type: ignore[no-untyped-def]
    """The speaker of examples/reference.wav saying any text (WAV bytes): consent recordings."""
    spec = importlib.util.spec_from_file_location("make_reference", ROOT / "examples" / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda text: module.example_speaker(models, text)


def record_consent(api_url: str, headers: dict[str, str], recording: Callable[[str], bytes] | bytes) -> dict:
    """Give consent through the API, upload the recording, wait for the verification job."""
    r = requests.post(f"{api_url}/v1/consents", headers=headers, timeout=30, json={
        "speaker_name": "林小雨", "company_name": "星光电器", "agreement_version": "2026-11",
        "agreement_text": "The speaker agrees that the company may create and use a synthetic voice.",
        "signature": "林小雨", "language": "zh"})
    assert r.status_code == 201, r.text
    consent = r.json()
    audio = recording(consent["statement"]) if callable(recording) else recording
    r = requests.post(f"{api_url}/v1/consents/{consent['id']}/recording", headers=headers, timeout=30,
                      files={"recording": ("consent.wav", audio, "audio/wav")})
    assert r.status_code == 202, r.text

    def settled() -> dict | None:
        c = requests.get(f"{api_url}/v1/consents/{consent['id']}", headers=headers, timeout=10).json()
        return c if c["status"] != "verifying" else None

    return wait_until(settled, 300, "consent verification")


@pytest.fixture(scope="session")
def enrolled_voice(api_url: str, shared_tenant_key: tuple[str, str], worker_process: WorkerProcess,
                   example_speaker: Callable[[str], bytes]) -> dict:
    """examples/reference.wav enrolled through the API by the real worker, on the speaker's
    verified consent (once per session)."""
    headers = {"Authorization": f"Bearer {shared_tenant_key[1]}"}
    for _ in range(3):  # as a speaker would: read it again when speech recognition misheard the code
        consent = record_consent(api_url, headers, example_speaker)
        if consent["status"] == "verified":
            break
    assert consent["status"] == "verified", consent
    with open(ROOT / "examples" / "reference.wav", "rb") as f:
        r = requests.post(f"{api_url}/v1/voices", data={"name": "narrator", "language": "zh",
                                                        "consent_id": consent["id"]},
                          files={"reference": ("reference.wav", f, "audio/wav")}, headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    return wait_for_voice(api_url, headers, r.json()["id"])


def wait_for_voice(api_url: str, headers: dict[str, str], voice_id: str) -> dict:
    def settled() -> dict | None:
        voice = requests.get(f"{api_url}/v1/voices/{voice_id}", headers=headers, timeout=10).json()
        return voice if voice["status"] != "pending" else None

    return wait_until(settled, 600, "enrollment")


@pytest.fixture
def auth(tenant_key: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant_key[1]}"}


@pytest.fixture(scope="session")
def app(settings: Settings):  # type: ignore[no-untyped-def]
    from worker.cli.serve import make_api

    return make_api(settings)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture(scope="session")
def api_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The API served over real HTTP on a local port."""
    port = devservices.free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(scope="session")
def worker_process(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """A real Celery worker process consuming every queue from Redis."""
    worker = start_worker(settings.with_(log_level="INFO"), tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def give_consent(api_url: str, worker_process: WorkerProcess) -> Callable[..., dict]:
    """``give_consent(headers, recording)``: consent through the API, verified by the real worker."""
    return lambda headers, recording: record_consent(api_url, headers, recording)


@pytest.fixture(scope="session")
def await_voice(api_url: str) -> Callable[..., dict]:
    return lambda headers, voice_id: wait_for_voice(api_url, headers, voice_id)


@pytest.fixture
def stock_voice(sessions, settings, tenant_key, models):  # type: ignore[no-untyped-def]
    """A ready, consented voice of the tenant whose state is a stock Kokoro voice pack: the rows
    an enrollment leaves, for tests about rendering rather than cloning."""
    from shared.storage import open_storage
    from worker import stock_voices

    with sessions.begin() as s:
        return stock_voices.install(s, open_storage(settings), tenant_key[0], stock_voices.stock_state(models))
