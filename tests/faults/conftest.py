"""A private narrator stack the fault tests may break: its own Redis, S3 server, database,
API, worker and beat — never the machine's shared services, which other tests rely on.

The lease and the sweep interval are shortened so an item whose worker died is taken back
within seconds instead of minutes; everything else runs with production settings.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.settings import Settings
from shared.storage import Storage, open_storage
from shared.tenants import create_key, create_tenant
from tests.support import devservices
from tests.support.devservices import RedisServer, S3Server, WorkerProcess, settings_env, start_worker

BUCKET = "narrator-faults"
LEASE_SECONDS = 15  # a live worker renews its claim every 5 s, however slow the render
SWEEP_SECONDS = 3


@dataclass
class FaultStack:
    """The services of one private deployment, and the processes the tests kill and restart."""

    settings: Settings
    redis: RedisServer
    s3: S3Server
    sessions: sessionmaker[Session]
    storage: Storage
    api_url: str
    logs: Path
    worker: WorkerProcess | None = None
    beat: subprocess.Popen | None = None
    started: list[WorkerProcess] = field(default_factory=list)
    pool: str = "solo"  # a test module sets WORKER_POOL = "prefork" to run on production's pool

    def start_worker(self) -> WorkerProcess:
        n = len(self.started)
        self.worker = start_worker(self.settings, self.logs / f"worker-{n}.log", name=f"faults{n}", pool=self.pool)
        self.started.append(self.worker)
        return self.worker

    def start_beat(self) -> None:
        with open(self.logs / "beat.log", "a") as log:
            self.beat = subprocess.Popen(
                [sys.executable, "-m", "worker.cli", "beat"], cwd=self.logs, env=settings_env(self.settings),
                stdout=log, stderr=subprocess.STDOUT,
            )

    def worker_logs(self) -> str:
        return "\n".join(f"--- {w.log_path.name}\n{w.log_path.read_text()[-4000:]}" for w in self.started)


@pytest.fixture(scope="module")
def fault_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
                models, pg_admin: str) -> Iterator[FaultStack]:
    base = tmp_path_factory.mktemp("faults")
    (base / "redis").mkdir()
    s3 = S3Server(devservices.free_port())
    s3.start()
    try:
        s3.create_bucket(BUCKET)
        with devservices.redis_server(base / "redis") as redis_server, \
                devservices.fresh_pg_database(pg_admin) as db_url:
            upgrade(db_url)
            settings = Settings(
                data_dir=base / "data", database_url=db_url, broker_url=redis_server.url,
                storage_url=f"s3://{BUCKET}", s3_endpoint_url=s3.endpoint, s3_access_key_id="test",
                s3_secret_access_key="test", secret_key=secrets.token_urlsafe(32),
                # a module that sets WORKER_METRICS = True reads its worker's /metrics
                metrics_port=devservices.free_port() if getattr(request.module, "WORKER_METRICS", False) else 0,
                item_lease_seconds=LEASE_SECONDS, sweep_interval_seconds=SWEEP_SECONDS, log_level="INFO",
                gate_attempts=1,  # one render per item: the quality gate's retries are not under test
            )
            from worker.cli.serve import make_api

            server = make_server("127.0.0.1", devservices.free_port(), make_api(settings), threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            stack = FaultStack(settings, redis_server, s3, make_sessionmaker(make_engine(db_url)),
                               open_storage(settings), f"http://127.0.0.1:{server.server_port}", base,
                               pool=getattr(request.module, "WORKER_POOL", "solo"))
            try:
                stack.start_beat()
                stack.start_worker()
                yield stack
            finally:
                if stack.worker is not None:
                    stack.worker.stop()
                if stack.beat is not None:
                    stack.beat.terminate()
                    stack.beat.wait(30)
                server.shutdown()
                stack.sessions.kw["bind"].dispose()
    finally:
        s3.stop()


@pytest.fixture(scope="module")
def fault_voice(fault_stack: FaultStack, models) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """A tenant with a write key and a ready voice on a verified consent: (tenant_id, key, voice_id).

    The voice's state is a stock Kokoro voice (as in tests/worker/test_jobs.py): enrolling one
    through the worker costs a minute and is covered by the end-to-end test; these tests are
    about delivering batch items, and synthesis still checks the consent on every item.
    """
    from worker import stock_voices

    state = stock_voices.stock_state(models)
    with fault_stack.sessions.begin() as s:
        tenant = create_tenant(s, f"faults-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, tenant, "write")
        return tenant.id, secret, stock_voices.install(s, fault_stack.storage, tenant.id, state)
