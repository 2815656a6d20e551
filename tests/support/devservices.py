"""Local services for the test suite and the benchmarks: private PostgreSQL and Redis servers
(temporary data directories, free ports), a fresh PostgreSQL database, an S3 server (moto's
threaded server: a real HTTP server speaking S3), and worker processes.

The servers are started from the binaries Debian's ``postgresql`` and ``redis-server``
packages install (``scripts/setup.sh --test`` installs them when missing), so the suite needs
no service of the machine's and never touches one it did not create.

Test support, not product code: the suite (``tests/conftest.py``, ``tests/faults``) and the
benchmarks under ``bench/`` share this one copy.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import psycopg
import redis

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]  # the checkout: worker processes run from it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """Create a uniquely named database, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"narrator_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def s3_server(bucket: str) -> Iterator[str]:
    """Start an S3-compatible server on a free local port with ``bucket`` created; yield its URL."""
    # deferred: moto loads every service backend on import; only what needs S3 starts it
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                     region_name="us-east-1").create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a subprocess needs to see exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    for name in Settings.__dataclass_fields__:
        value = getattr(settings, name)
        if value is not None and value != "":
            env[f"NARRATOR_{name.upper()}"] = str(value)
    return env


@dataclass
class WorkerProcess:
    proc: subprocess.Popen
    log_path: Path
    metrics_url: str | None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def children(self) -> list[int]:
        """The pids of the worker's pool processes (prefork), read from /proc."""
        return child_pids(self.proc.pid)


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (Linux: from /proc/<pid>/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


def start_worker(settings: Settings, log_path: Path, name: str | None = None, timeout: float = 120,
                 pool: str = "solo") -> WorkerProcess:
    """Start ``narrator worker`` and wait until Celery says ready. The solo pool runs one task at
    a time in the worker process itself; ``prefork`` (production's) runs it in one child process."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "worker", "--pool", pool, "--concurrency", "1",
             "--hostname", f"{name or uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env=settings_env(settings), stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{log_path.read_text()[-3000:]}")
        if "ready." in log_path.read_text():
            metrics = f"http://127.0.0.1:{settings.metrics_port}/metrics" if settings.metrics_port else None
            return WorkerProcess(proc, log_path, metrics)
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"worker did not become ready:\n{log_path.read_text()[-3000:]}")


class RedisServer:
    """A private ``redis-server`` on a fixed local port, persisted like the deployed one
    (``--appendonly yes``, no RDB snapshots), so ``stop()`` then ``start()`` is a broker
    restart that keeps every queued message."""

    def __init__(self, port: int, directory: Path, binary: str | None = None) -> None:
        self.port, self.directory, self.binary = port, directory, binary or redis_bin()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> None:
        with open(self.directory / "redis.log", "a") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                 "--appendonly", "yes", "--save", "", "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{(self.directory / 'redis.log').read_text()[-2000:]}")
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout:.0f} s")

    def crash(self) -> None:
        """SIGKILL: Redis dies on the spot, as on an OOM kill or a node failure; only what it
        had already written to its append-only file survives."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits, as on an orderly restart."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@contextmanager
def redis_server(directory: Path, port: int | None = None) -> Iterator[RedisServer]:
    """A private Redis on a free port (never the machine's shared one), stopped afterwards."""
    server = RedisServer(port or free_port(), directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ServiceMissing(RuntimeError):
    """A server binary the suite needs is not installed; the message says how to install it."""


def postgres_bin(name: str) -> str:
    """The path of a PostgreSQL server program (``initdb``, ``postgres``): on PATH, else the newest
    of Debian's ``/usr/lib/postgresql/<major>/bin``, where the package keeps them off PATH."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if not candidates:
        raise ServiceMissing(f"PostgreSQL's {name} is not installed: run `scripts/setup.sh --test` (as root it "
                             "installs Debian's postgresql package), or point NARRATOR_TEST_PG at a server")
    return max(candidates, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)


def redis_bin() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise ServiceMissing("redis-server is not installed: run `scripts/setup.sh --test` (as root it installs "
                             "Debian's redis-server package), or point NARRATOR_TEST_REDIS at a server")
    return found


class PostgresServer:
    """A private PostgreSQL cluster: ``initdb`` into a temporary directory, ``postgres`` on a free
    127.0.0.1 port (and a Unix socket inside that directory, never /var/run/postgresql), trust
    authentication for the ``postgres`` role. ``stop()`` shuts it down and removes the directory.

    PostgreSQL refuses to run as root; under root the cluster belongs to, and the server runs as,
    the ``postgres`` system user the Debian package creates (else ``nobody``)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="narrator-pg-"))
        self.data = self.directory / "data"
        self.proc: subprocess.Popen | None = None
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict:
        return {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid} if self.user else {}

    def start(self, timeout: float = 60) -> None:
        log_path = self.directory / "postgres.log"
        if not self.data.exists():
            init = subprocess.run(
                [postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8", "--no-sync"],
                check=False, capture_output=True, text=True, timeout=300, cwd=self.directory,
                **self._run_as())
            if init.returncode != 0:
                raise RuntimeError(f"initdb failed:\n{init.stdout[-2000:]}{init.stderr[-2000:]}")
        with open(log_path, "a") as log:
            self.proc = subprocess.Popen(
                [postgres_bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                 "-k", str(self.directory), "-c", "fsync=off", "-c", "full_page_writes=off",
                 "-c", "synchronous_commit=off", "-c", "max_connections=300"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.directory, **self._run_as())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{log_path.read_text()[-2000:]}")
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"postgres on port {self.port} did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Fast shutdown (SIGINT: open sessions are ended), then the data directory is removed."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.directory, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL on a free port (never the machine's), removed afterwards."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


class S3Server:
    """moto's threaded S3 server on a fixed local port. Objects live in moto's in-process
    backend, not in the server thread, so ``stop()`` then ``start()`` on the same port is a
    storage outage (connections refused) that loses nothing."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server = None  # type: ignore[var-annotated]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # deferred: moto loads every service backend on import (see s3_server)
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def create_bucket(self, bucket: str) -> None:
        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                     region_name="us-east-1").create_bucket(Bucket=bucket)
