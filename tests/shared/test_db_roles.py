"""Two real PostgreSQL roles: the owner migrates, the services' role reads and writes rows and
nothing more; and signed checkpoints catch a rewrite of the audit chain that re-hashes it.

Each test makes its own two login roles (unique names: roles are cluster-wide) and a database
owned by the first, as a deployment does; the local server's trust authentication accepts
any role that exists, so the URLs need no password to connect.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from shared.audit import record, row_hash, verify
from shared.audit_anchor import signature, verify_anchored, write_checkpoint
from shared.db import make_engine, make_sessionmaker
from shared.db_roles import RoleSetupError
from shared.errors import Conflict
from shared.migrate import migrate
from shared.models import AuditCheckpoint, AuditEvent, utcnow
from shared.settings import Settings
from shared.tenants import create_key, create_tenant
from worker.cli import main

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

AUDIT_KEY = "audit-checkpoint-key-5b1f0c2e"


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str
    owner_url: str
    app_url: str


@pytest.fixture
def roles(tmp_path, pg_admin: str) -> Iterator[Roles]:  # type: ignore[no-untyped-def]
    suffix = uuid.uuid4().hex[:8]
    owner, app, database = f"narrator_owner_{suffix}", f"narrator_app_{suffix}", f"narrator_test_{suffix}"
    admin = make_url(pg_admin)

    def url(user: str, password: str | None) -> str:
        return admin.set(drivername="postgresql+psycopg", username=user, password=password,
                         database=database).render_as_string(hide_password=False)

    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN CREATEROLE')
        conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    try:
        # The services' role does not exist yet: `narrator migrate` creates it, as in the compose file.
        yield Roles(owner, app, url(owner, None), url(app, "app-password"))
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{app}"')
            conn.execute(f'DROP ROLE IF EXISTS "{owner}"')


def split_settings(roles: Roles, tmp_path, **extra) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path, database_url=roles.app_url, migration_database_url=roles.owner_url,
                    audit_hmac_key=AUDIT_KEY, **extra)


def refused(engine, statement: str) -> str:  # type: ignore[no-untyped-def]
    """Run ``statement`` in its own transaction; return PostgreSQL's refusal (fail if it ran)."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(statement))
    return str(caught.value.orig)


def write_events(sessions, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        with sessions.begin() as s:
            record(s, "t-1", "test", "consent.given", "consent", f"c-{i}", n=i)


def test_the_services_role_reads_and_writes_rows_but_cannot_touch_the_audit_trail(roles, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = migrate(split_settings(roles, tmp_path))
    assert done.services_role == roles.app
    app = make_engine(roles.app_url)
    with make_sessionmaker(app).begin() as s:  # the services' work: rows and audit appends
        tenant = create_tenant(s, "acme")
        create_key(s, tenant, "admin")
    with make_sessionmaker(app)() as s:
        assert verify(s).ok and verify(s).rows == 2
    with app.connect() as conn:
        attrs = conn.execute(text("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")).one()
        owned = conn.scalar(text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user"))
    assert tuple(attrs) == (False, False) and owned == 0

    for statement in ("UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events",
                      "TRUNCATE audit_events",
                      ("INSERT INTO audit_checkpoints (event_id, rows, head_hash, created_at, signature) "
                       "VALUES (1, 1, 'x', now(), 'x')"),
                      "DELETE FROM alembic_version"):
        assert "permission denied" in refused(app, statement), statement
    for statement in ("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                      "DROP TRIGGER audit_events_append_only ON audit_events",
                      "DROP FUNCTION audit_events_append_only() CASCADE",
                      "ALTER TABLE audit_events DROP CONSTRAINT uq_audit_events_prev_hash",
                      "DROP TABLE audit_events", "DROP TABLE tenants CASCADE"):
        assert "must be owner" in refused(app, statement), statement
    with make_sessionmaker(app)() as s:
        assert verify(s).ok and verify(s).rows == 2  # untouched
    app.dispose()


def test_a_rewrite_and_rehash_of_the_chain_is_caught_by_its_signed_checkpoint(  # type: ignore[no-untyped-def]
        roles, tmp_path, monkeypatch, capsys) -> None:
    settings = split_settings(roles, tmp_path)
    migrate(settings)
    app_sessions = make_sessionmaker(make_engine(roles.app_url))
    owner = make_engine(roles.owner_url)
    owner_sessions = make_sessionmaker(owner)
    write_events(app_sessions, 4)
    with owner_sessions.begin() as s:  # what `narrator audit checkpoint` does, as the owner
        checkpoint = write_checkpoint(s, AUDIT_KEY)
        assert checkpoint is not None and checkpoint.rows == 4
        anchored_id = checkpoint.event_id
    write_events(app_sessions, 2)
    with app_sessions() as s:
        assert verify_anchored(s, AUDIT_KEY).ok and verify_anchored(s, AUDIT_KEY).checkpoints == 1

    # Someone past the trigger (only the owner can be: the test above) rewrites row 2 and re-hashes
    # every row after it, so the chain alone is whole again.
    with owner.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        rows = conn.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).mappings().all()
        prev = rows[0]["hash"]
        for row in rows[1:]:
            fields = dict(row)
            if row is rows[1]:
                fields["actor"] = "key:forged"
            new_hash = row_hash(fields, prev)
            conn.execute(AuditEvent.__table__.update().where(AuditEvent.id == row["id"])
                         .values(actor=fields["actor"], prev_hash=prev, hash=new_hash))
            prev = new_hash
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    with app_sessions() as s:
        assert verify(s).ok  # the chain alone no longer sees it
        result = verify_anchored(s, AUDIT_KEY)
    assert not result.ok and result.first_broken_id == anchored_id and "checkpoint" in (result.reason or "")

    monkeypatch.setenv("NARRATOR_DATABASE_URL", roles.app_url)
    monkeypatch.setenv("NARRATOR_AUDIT_HMAC_KEY", AUDIT_KEY)
    assert main(["audit", "verify"]) == 1
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["ok"] is False and out["anchored"] is True and out["first_broken_id"] == anchored_id

    # Nor can a new checkpoint bless the rewritten chain without the key: the checkpointer
    # refuses a broken chain, and a checkpoint signed with another key is itself a failure.
    with owner_sessions.begin() as s, pytest.raises(Conflict, match="no checkpoint was written"):
        write_checkpoint(s, AUDIT_KEY)
    with owner_sessions.begin() as s:
        head = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
        now = utcnow()
        forged = AuditCheckpoint(event_id=head.id, rows=6, head_hash=head.hash, created_at=now,
                                 signature=signature("another-key-of-16-chars", head.id, 6, head.hash, now))
        s.add(forged)
        s.flush()
        forged_id = forged.id
    with app_sessions() as s:
        result = verify_anchored(s, AUDIT_KEY)
    assert not result.ok and f"checkpoint {forged_id} does not carry a valid signature" in (result.reason or "")
    owner.dispose()


def test_migrate_refuses_a_services_role_that_owns_the_tables(roles, tmp_path, pg_admin) -> None:  # type: ignore[no-untyped-def]
    """An older deployment ran everything as one role, which owns the tables: splitting the
    roles must not leave that role able to drop the trigger, so migrate stops and says what to do."""
    migrate(Settings(data_dir=tmp_path, database_url=roles.owner_url))  # one role, the old way
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{roles.app}" LOGIN')
    settings = Settings(data_dir=tmp_path, database_url=roles.owner_url.replace(roles.owner, roles.app),
                        migration_database_url=roles.owner_url)
    superuser = make_url(pg_admin).set(database=make_url(roles.owner_url).database)
    with psycopg.connect(superuser.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'ALTER TABLE tenants OWNER TO "{roles.app}"')  # as the single role had it
    with pytest.raises(RoleSetupError, match="owns tenants: run REASSIGN OWNED BY"):
        migrate(settings)
