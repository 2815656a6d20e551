"""The suite owns its services: without NARRATOR_TEST_PG / NARRATOR_TEST_REDIS it runs on a
PostgreSQL and a Redis it started itself (temporary data directories, free ports) and removes
them at the end; with a variable set it uses exactly the server that variable names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.support import devservices

ROOT = Path(__file__).resolve().parents[2]


def test_private_postgres_lives_in_a_temporary_directory_and_is_removed() -> None:
    with devservices.postgres_server() as server:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            data_dir = conn.execute("SHOW data_directory").fetchone()[0]
            sockets = conn.execute("SHOW unix_socket_directories").fetchone()[0]
        assert Path(data_dir).parent == server.directory
        assert server.directory.parent == Path(tempfile.gettempdir())
        assert sockets == str(server.directory)  # never /var/run/postgresql, the machine's
        with devservices.fresh_pg_database(server.admin_url) as url:
            assert f":{server.port}/narrator_test_" in url
    assert not server.directory.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.admin_url, connect_timeout=2)


def test_session_services_are_the_configured_or_private_ones(pg_admin: str, redis_url: str) -> None:
    """Prints what it found (JSON) for the test below, which runs it without the variables."""
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    redis_dir = redis.Redis.from_url(redis_url).config_get("dir")["dir"]
    if os.environ.get("NARRATOR_TEST_PG"):
        assert pg_admin == os.environ["NARRATOR_TEST_PG"]
    else:
        assert Path(data_dir).parent.name.startswith("narrator-pg-"), data_dir
        assert Path(data_dir).is_relative_to(tempfile.gettempdir())
    if os.environ.get("NARRATOR_TEST_REDIS"):
        assert redis_url == os.environ["NARRATOR_TEST_REDIS"]
    else:
        assert Path(redis_dir).is_relative_to(tempfile.gettempdir()), redis_dir
    print("SERVICES " + json.dumps({"pg": pg_admin, "pg_dir": data_dir, "redis": redis_url}))


@pytest.mark.slow
def test_without_variables_the_suite_starts_and_removes_its_own_servers() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NARRATOR_TEST_PG", "NARRATOR_TEST_REDIS")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         f"{__file__}::test_session_services_are_the_configured_or_private_ones"],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if "SERVICES " in x)
    found = json.loads(line.split("SERVICES ", 1)[1])
    pg, broker = urlsplit(found["pg"]), urlsplit(found["redis"])
    assert pg.port != 5432 and broker.port != 6379  # not the machine's servers
    # torn down: the cluster's directory is gone and nothing answers on either port
    assert not Path(found["pg_dir"]).exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(found["pg"], connect_timeout=2)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(found["redis"], socket_connect_timeout=2).ping()
