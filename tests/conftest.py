"""Shared fixtures: real PostgreSQL, Redis, an S3 server, a Celery worker process, the API.

Nothing here is mocked. The S3 server is moto's threaded server — a real HTTP server
speaking the S3 protocol on a local port — because no MinIO binary can be installed
here; boto3 talks to it exactly as it talks to MinIO or AWS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from werkzeug.serving import make_server

from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.settings import Settings
from shared.tenants import create_key, create_tenant

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("NARRATOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("NARRATOR_TEST_REDIS", "redis://127.0.0.1:6379/11")
BUCKET = "narrator-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlalchemy_url(libpq_url: str) -> str:
    return libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def fresh_pg_database() -> Iterator[str]:
    """A brand-new PostgreSQL database per test session, dropped afterwards."""
    name = f"narrator_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    yield sqlalchemy_url(url)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url(fresh_pg_database: str) -> str:
    upgrade(fresh_pg_database)
    return fresh_pg_database


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer
    import boto3

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def redis_url() -> str:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


@pytest.fixture(scope="session")
def settings(pg_url: str, s3_endpoint: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=pg_url,
        broker_url=redis_url,
        storage_url=f"s3://{BUCKET}",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        secret_key="test-secret",
    )


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    for name in ("data_dir", "database_url", "broker_url", "storage_url", "s3_endpoint_url", "s3_access_key_id",
                 "s3_secret_access_key", "secret_key", "model_cache"):
        env[f"NARRATOR_{name.upper()}"] = str(getattr(settings, name))
    env["NARRATOR_LOG_LEVEL"] = "INFO"
    return env


@pytest.fixture(scope="session")
def sessions(settings: Settings):  # type: ignore[no-untyped-def]
    return make_sessionmaker(make_engine(settings.database_url))


@pytest.fixture
def tenant_key(sessions) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A fresh tenant and a write key for it: (tenant_id, secret)."""
    with sessions.begin() as s:
        tenant = create_tenant(s, f"tenant-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, "write")
        return tenant.id, secret


@pytest.fixture
def auth(tenant_key: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant_key[1]}"}


@pytest.fixture(scope="session")
def app(settings: Settings):  # type: ignore[no-untyped-def]
    from api import create_app

    return create_app(settings)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture(scope="session")
def api_url(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The API served over real HTTP on a local port."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture(scope="session")
def worker_process(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen]:
    """A real Celery worker process consuming every queue from Redis."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "worker", "--pool", "solo", "--hostname", f"test-{uuid.uuid4().hex[:6]}@%h"],
        cwd=ROOT, env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{log_path.read_text()[-3000:]}")
        if "ready." in log_path.read_text():
            break
        time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"worker did not become ready:\n{log_path.read_text()[-3000:]}")
    yield proc
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    if os.environ.get("NARRATOR_TEST_SHOW_WORKER_LOG"):
        print(log_path.read_text())
