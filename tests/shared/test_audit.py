"""The audit trail is a hash chain: it verifies, shows where a row was tampered with, and on
PostgreSQL the application's own connection cannot change or remove a row."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from shared.audit import GENESIS, record, verify
from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.models import AuditEvent
from worker.cli import main

CONSENT = {"speaker_name": "林小雨", "company_name": "星光电器", "agreement_version": "2026-11",
           "agreement_text": "The speaker agrees.", "signature": "林小雨", "language": "zh"}


def run_verify(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    monkeypatch.setenv("NARRATOR_DATABASE_URL", database_url)
    code = main(["audit", "verify"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def write_events(sessions, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):
        with sessions.begin() as s:
            ids.append(record(s, "t-1", "test", "consent.given", "consent", f"c-{i}", n=i, note="说明").id)
    return ids


def test_chain_verifies_after_api_actions(client, sessions, admin_key, settings, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {admin_key[1]}"}
    assert client.post("/v1/consents", headers=headers, json=CONSENT).status_code == 201
    created = client.post("/v1/keys", headers=headers, json={"scope": "read"}).get_json()
    rotated = client.post(f"/v1/keys/{created['id']}/rotate", headers=headers, json={"grace_seconds": 60})
    assert rotated.status_code == 201
    assert client.post(f"/v1/keys/{rotated.get_json()['id']}/revoke", headers=headers).status_code == 200

    with sessions() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.tenant_id == admin_key[0])
                            .order_by(AuditEvent.id)).all()
        result = verify(s)
        rows = s.scalar(select(func.count()).select_from(AuditEvent))
        head = s.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    assert actions == ["tenant.created", "key.created", "consent.given", "key.created", "key.rotated", "key.revoked"]
    assert result.ok and result.rows == rows and result.head == head

    code, out = run_verify(settings.database_url, monkeypatch, capsys)
    assert code == 0 and out["ok"] is True and out["rows"] >= rows and "first_broken_id" not in out


def test_concurrent_appends_stay_one_chain(sessions) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for i in range(8):
                with sessions.begin() as s:
                    record(s, None, f"thread-{worker}", "batch.submitted", "batch", f"b-{worker}-{i}")
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with sessions() as s:
        assert verify(s).ok
        links = s.execute(select(AuditEvent.prev_hash, AuditEvent.hash).order_by(AuditEvent.id)).all()
    assert links[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(links))


def test_the_apps_connection_cannot_update_or_delete_audit_rows(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        event_id = record(s, None, "test", "voice.deleted", "voice", "v-1").id
    for statement in (update(AuditEvent).where(AuditEvent.id == event_id).values(actor="someone else"),
                      delete(AuditEvent).where(AuditEvent.id == event_id),
                      text("TRUNCATE audit_events")):
        with pytest.raises(DBAPIError, match="audit_events is append-only"), sessions.begin() as s:
            s.execute(statement)
    with sessions() as s:
        assert s.get(AuditEvent, event_id).actor == "test"  # type: ignore[union-attr]


def test_tampering_by_a_dba_is_reported_at_the_row(scratch_pg_url, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    sessions = make_sessionmaker(make_engine(scratch_pg_url))
    ids = write_events(sessions, 6)
    code, out = run_verify(scratch_pg_url, monkeypatch, capsys)
    assert code == 0 and out["ok"] is True and out["rows"] == 6

    dsn = scratch_pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as dba:  # the superuser, going around the trigger
        dba.execute("SET session_replication_role = replica")
        dba.execute("UPDATE audit_events SET details = %s WHERE id = %s", ('{"n": 99, "note": "说明"}', ids[2]))
    code, out = run_verify(scratch_pg_url, monkeypatch, capsys)
    assert code == 1
    assert out["ok"] is False and out["first_broken_id"] == ids[2] and "modified" in out["reason"]
    assert out["rows"] == 3

    with psycopg.connect(dsn, autocommit=True) as dba:  # put it back, then remove a row instead
        dba.execute("SET session_replication_role = replica")
        dba.execute("UPDATE audit_events SET details = %s WHERE id = %s", ('{"n": 2, "note": "说明"}', ids[2]))
        assert run_verify(scratch_pg_url, monkeypatch, capsys)[0] == 0
        dba.execute("ALTER TABLE audit_events DISABLE TRIGGER USER")
        dba.execute("DELETE FROM audit_events WHERE id = %s", (ids[4],))
        dba.execute("ALTER TABLE audit_events ENABLE TRIGGER USER")
    code, out = run_verify(scratch_pg_url, monkeypatch, capsys)
    assert code == 1 and out["first_broken_id"] == ids[5] and "prev_hash" in out["reason"]


def test_sqlite_chain_and_existing_rows_chained_by_the_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'narrator.db'}"
    upgrade(url, "0004")
    engine = make_engine(url)
    with engine.begin() as conn:  # rows written before the chain existed
        for i in range(3):
            conn.execute(text("INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, details, "
                              "created_at) VALUES ('t', 'cli', 'voice.created', 'voice', :v, :d, :at)"),
                         {"v": f"v-{i}", "d": json.dumps({"i": i}), "at": f"2026-11-0{i + 1} 10:00:00.000000"})
    upgrade(url)
    sessions = make_sessionmaker(engine)
    ids = write_events(sessions, 3)
    with sessions() as s:
        result = verify(s)
    assert result.ok and result.rows == 6

    with engine.begin() as conn:  # SQLite has no trigger: the chain is what notices
        conn.execute(text("UPDATE audit_events SET actor = 'someone' WHERE id = :id"), {"id": ids[0]})
    with sessions() as s:
        result = verify(s)
    assert not result.ok and result.first_broken_id == ids[0]
