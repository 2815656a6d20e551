"""Schedules through the API and the beat task: a due schedule becomes a batch, once."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from shared import schedule_runs, storage_keys
from shared.dispatch import RUN_DUE_SCHEDULES
from shared.models import AuditEvent, Batch, Consent, Item, Schedule, Voice, VoiceStatus, utcnow


@pytest.fixture
def ready_voice(sessions, tenant_key) -> str:  # type: ignore[no-untyped-def]
    """A voice row in the ready state on a verified consent: what scheduling and batch creation
    check. Nothing here renders, so no enrollment is run for it."""
    with sessions.begin() as s:
        consent = Consent(tenant_id=tenant_key[0], speaker_name="林小雨", company_name="星光电器",
                          agreement_version="2026-11", agreement_sha256="0" * 64, signature="林小雨",
                          statement="…", status="verified", verified_at=utcnow())
        s.add(consent)
        s.flush()
        voice = Voice(tenant_id=tenant_key[0], name="scheduled", language="zh", status=VoiceStatus.ready.value,
                      consent_id=consent.id)
        s.add(voice)
        s.flush()
        return voice.id


def create(client, auth, **fields):  # type: ignore[no-untyped-def]
    return client.post("/v1/schedules", json=fields, headers=auth)


def valid(voice_id: str, **changes) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": "nightly course", "cron": "0 3 * * *", "timezone": "Europe/Berlin", "voice_id": voice_id,
            "source": {"items": [{"text": "第一课。", "id": "l1"}, {"text": "第二课。", "id": "l2"}]},
            "missed_policy": "skip"}
    body.update(changes)
    return body


def run(sessions, settings, storage, now: datetime) -> list[str]:  # type: ignore[no-untyped-def]
    return schedule_runs.run_due_schedules(sessions, storage, settings, now=now)


def batches_of(sessions, schedule_id: str) -> list[Batch]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        rows = s.scalars(select(Batch).order_by(Batch.created_at)).all()
        return [b for b in rows if (b.params or {}).get("schedule_id") == schedule_id]


def schedule_row(sessions, schedule_id: str) -> Schedule:  # type: ignore[no-untyped-def]
    with sessions() as s:
        row = s.get(Schedule, schedule_id)
        assert row is not None
        s.expunge(row)
        return row


@pytest.mark.parametrize("changes, field_", [
    ({"cron": "0 3 * *"}, "cron"),
    ({"cron": "0 25 * * *"}, "cron"),
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"missed_policy": "all"}, "missed_policy"),
    ({"paused": "no"}, "paused"),
    ({"name": ""}, "name"),
    ({"source": {}}, "source"),
    ({"source": {"items": [], "object_key": "x.csv"}}, "source"),
    ({"source": {"items": []}}, "items"),
    ({"source": {"items": [{"text": ""}]}}, "items[0].text"),
    ({"source": {"object_key": "tenants/someone-else/catalogue.csv"}}, "source.object_key"),
])
def test_bad_schedule_input_is_422_and_stores_nothing(client, auth, ready_voice, changes, field_) -> None:  # type: ignore[no-untyped-def]
    r = create(client, auth, **valid(ready_voice, **changes))
    assert r.status_code == 422, r.get_json()
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.get_json()["field"] == field_
    assert client.get("/v1/schedules", headers=auth).get_json() == {"schedules": []}


def test_unknown_or_unready_voice(client, auth, sessions, ready_voice) -> None:  # type: ignore[no-untyped-def]
    assert create(client, auth, **valid("0" * 36)).status_code == 404
    with sessions.begin() as s:
        s.get(Voice, ready_voice).status = VoiceStatus.pending.value
    assert create(client, auth, **valid(ready_voice)).status_code == 409


def test_missing_catalogue_object_is_422(client, auth, tenant_key, ready_voice) -> None:  # type: ignore[no-untyped-def]
    key = storage_keys.tenant_prefix(tenant_key[0]) + "catalogues/absent.csv"
    r = create(client, auth, **valid(ready_voice, source={"object_key": key}))
    assert r.status_code == 422 and r.get_json()["field"] == "source.object_key"


def test_lifecycle_pause_resume_delete_audited(client, auth, sessions, ready_voice) -> None:  # type: ignore[no-untyped-def]
    r = create(client, auth, **valid(ready_voice))
    assert r.status_code == 201, r.get_json()
    sc = r.get_json()
    assert sc["cron"] == "0 3 * * *" and sc["paused"] is False
    # 03:00 in Berlin is 01:00 or 02:00 UTC
    assert datetime.fromisoformat(sc["next_run_at"]).astimezone().utcoffset() is not None
    assert datetime.fromisoformat(sc["next_run_at"]).hour in (1, 2)
    assert client.get(f"/v1/schedules/{sc['id']}", headers=auth).get_json()["id"] == sc["id"]
    paused = client.post(f"/v1/schedules/{sc['id']}/pause", headers=auth)
    assert paused.status_code == 200 and paused.get_json()["paused"] is True
    assert paused.get_json()["next_run_at"] is None
    assert client.post(f"/v1/schedules/{sc['id']}/pause", headers=auth).status_code == 409
    resumed = client.post(f"/v1/schedules/{sc['id']}/resume", headers=auth).get_json()
    assert resumed["paused"] is False and resumed["next_run_at"]
    other = client.get("/v1/schedules", headers={"Authorization": "Bearer " + other_key(sessions)}).get_json()
    assert other == {"schedules": []}
    assert client.delete(f"/v1/schedules/{sc['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/schedules/{sc['id']}", headers=auth).status_code == 404
    with sessions() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.target_id == sc["id"])
                            .order_by(AuditEvent.id)).all()
    assert actions == ["schedule.created", "schedule.paused", "schedule.resumed", "schedule.deleted"]


def other_key(sessions) -> str:  # type: ignore[no-untyped-def]
    import uuid

    from shared.tenants import create_key, create_tenant

    with sessions.begin() as s:
        return create_key(s, create_tenant(s, f"tenant-{uuid.uuid4().hex[:8]}"), "write")[1]


def test_due_schedule_becomes_one_batch_and_advances(app, client, auth, sessions, settings, ready_voice) -> None:  # type: ignore[no-untyped-def]
    storage = app.extensions["narrator"].storage
    sc = create(client, auth, **valid(ready_voice, cron="*/10 * * * *", timezone="UTC")).get_json()
    fire = datetime.fromisoformat(sc["next_run_at"])
    run(sessions, settings, storage, fire - timedelta(seconds=1))
    assert batches_of(sessions, sc["id"]) == []

    started = run(sessions, settings, storage, fire + timedelta(seconds=20))
    (batch,) = batches_of(sessions, sc["id"])
    assert batch.id in started and batch.total == 2 and batch.params["fire_time"] == fire.isoformat()
    with sessions() as s:
        items = s.scalars(select(Item).where(Item.batch_id == batch.id).order_by(Item.seq)).all()
        assert [(i.text, i.external_id, i.voice_id, i.status) for i in items] == [
            ("第一课。", "l1", ready_voice, "queued"), ("第二课。", "l2", ready_voice, "queued")]
        assert "schedule.run" in s.scalars(select(AuditEvent.action).where(AuditEvent.target_id == sc["id"])).all()
    row = schedule_row(sessions, sc["id"])
    assert row.last_run_at == fire and row.last_batch_id == batch.id and row.next_run_at == fire + timedelta(minutes=10)

    # the same tick again, or a later one before the next fire time: nothing new
    run(sessions, settings, storage, fire + timedelta(seconds=40))
    assert len(batches_of(sessions, sc["id"])) == 1
    assert client.get(f"/v1/schedules/{sc['id']}", headers=auth).get_json()["last_batch_id"] == batch.id


@pytest.mark.parametrize("policy, expected", [("skip", 0), ("catch_up_once", 1)])
def test_missed_runs_follow_the_policy(app, client, auth, sessions, settings, ready_voice, policy, expected) -> None:  # type: ignore[no-untyped-def]
    storage = app.extensions["narrator"].storage
    sc = create(client, auth, **valid(ready_voice, cron="*/10 * * * *", timezone="UTC", missed_policy=policy)).get_json()
    fire = datetime.fromisoformat(sc["next_run_at"])
    later = fire + timedelta(hours=5, minutes=3)  # beat was down: 30 fire times missed, the last 3 min ago
    run(sessions, settings, storage, later + timedelta(seconds=settings.schedule_misfire_grace_seconds))
    made = batches_of(sessions, sc["id"])
    assert len(made) == expected
    if made:
        assert made[0].params["fire_time"] == (fire + timedelta(hours=5)).isoformat()
    row = schedule_row(sessions, sc["id"])
    assert row.next_run_at > later


def test_paused_and_locked_schedules_do_not_run(app, client, auth, sessions, settings, ready_voice) -> None:  # type: ignore[no-untyped-def]
    storage = app.extensions["narrator"].storage
    paused = create(client, auth, **valid(ready_voice, cron="*/10 * * * *", timezone="UTC", paused=True)).get_json()
    locked = create(client, auth, **valid(ready_voice, cron="*/10 * * * *", timezone="UTC")).get_json()
    fire = datetime.fromisoformat(locked["next_run_at"])
    with sessions.begin() as holder:  # another beat tick holds this schedule's row
        holder.execute(select(Schedule).where(Schedule.id == locked["id"]).with_for_update())
        run(sessions, settings, storage, fire + timedelta(seconds=5))
        assert batches_of(sessions, locked["id"]) == []
    assert batches_of(sessions, paused["id"]) == []
    run(sessions, settings, storage, fire + timedelta(seconds=5))
    assert len(batches_of(sessions, locked["id"])) == 1


def test_catalogue_object_is_read_at_each_run(app, client, auth, sessions, settings, tenant_key, ready_voice) -> None:  # type: ignore[no-untyped-def]
    storage = app.extensions["narrator"].storage
    key = storage_keys.tenant_prefix(tenant_key[0]) + "catalogues/course.csv"
    storage.put(key, "id,text\nc1,第一课。\nc2,\n".encode(), "text/csv")
    sc = create(client, auth, **valid(ready_voice, cron="*/10 * * * *", timezone="UTC",
                                      source={"object_key": key})).get_json()
    assert sc["source"] == {"object_key": key}
    fire = datetime.fromisoformat(sc["next_run_at"])
    run(sessions, settings, storage, fire + timedelta(seconds=5))
    (batch,) = batches_of(sessions, sc["id"])
    with sessions() as s:
        items = s.scalars(select(Item).where(Item.batch_id == batch.id).order_by(Item.seq)).all()
        assert [(i.external_id, i.status) for i in items] == [("c1", "queued"), ("c2", "failed")]
        assert "text" in items[1].error

    # the catalogue vanished: the next run fails with a reason, and the schedule moves on
    storage.delete(key)
    run(sessions, settings, storage, fire + timedelta(minutes=10, seconds=5))
    assert len(batches_of(sessions, sc["id"])) == 1
    row = schedule_row(sessions, sc["id"])
    assert "does not exist" in row.last_error and row.next_run_at == fire + timedelta(minutes=20)
    with sessions() as s:
        assert "schedule.run_failed" in s.scalars(select(AuditEvent.action)
                                                 .where(AuditEvent.target_id == sc["id"])).all()


@pytest.mark.slow
def test_beat_task_on_the_real_worker_starts_and_renders_the_batch(  # type: ignore[no-untyped-def]
        app, api_url, shared_tenant_key, enrolled_voice, sessions) -> None:
    headers = {"Authorization": f"Bearer {shared_tenant_key[1]}"}
    r = requests.post(f"{api_url}/v1/schedules", headers=headers, timeout=10, json=valid(
        enrolled_voice["id"], cron="* * * * *", timezone="Asia/Shanghai",
        source={"items": [{"text": "定时任务测试。"}]}))
    assert r.status_code == 201, r.text
    sc = r.json()
    # make it due now (as if created a minute earlier), then let the worker's beat task run it
    with sessions.begin() as s:
        row = s.get(Schedule, sc["id"])
        row.checked_at, row.next_run_at = utcnow() - timedelta(seconds=70), utcnow() - timedelta(seconds=10)
    app.extensions["narrator"].queue.send(RUN_DUE_SCHEDULES)

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        batch_id = requests.get(f"{api_url}/v1/schedules/{sc['id']}", headers=headers, timeout=10).json()[
            "last_batch_id"]
        if batch_id:
            batch = requests.get(f"{api_url}/v1/batches/{batch_id}", headers=headers, timeout=10).json()
            if batch["finished_at"]:
                break
        time.sleep(1)
    else:
        raise AssertionError("the scheduled batch did not finish")
    assert batch["status"] in ("succeeded", "partial") and batch["total"] == 1
    assert requests.delete(f"{api_url}/v1/schedules/{sc['id']}", headers=headers, timeout=10).status_code == 204
