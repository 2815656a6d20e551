"""Beat's nightly fine-tune check reads each tenant's own hour, zone and switch from its row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from shared.db import make_engine, make_sessionmaker
from shared.models import Batch, Feedback, FinetuneRun, FinetuneStatus, Item, Tenant, Voice, VoiceStatus
from shared.settings import Settings
from worker.context import WorkerContext
from worker.jobs.finetune import start_due_finetunes


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def tenant_with_history(sessions, name: str, last_run: datetime, correction: datetime,  # type: ignore[no-untyped-def]
                        **schedule) -> str:
    """A tenant whose last run and last accepted correction happened at the given instants."""
    with sessions.begin() as s:
        tenant = Tenant(name=name, **schedule)
        s.add(tenant)
        s.flush()
        voice = Voice(tenant_id=tenant.id, name="v", language="zh", status=VoiceStatus.ready.value)
        batch = Batch(tenant_id=tenant.id, total=1, status="succeeded")
        s.add_all([voice, batch])
        s.flush()
        item = Item(batch_id=batch.id, tenant_id=tenant.id, seq=0, text="请联系曾经理。", voice_id=voice.id,
                    status="succeeded")
        s.add(item)
        s.flush()
        s.add(Feedback(tenant_id=tenant.id, item_id=item.id, span_start=3, span_end=6, word="曾经理",
                       reading="zeng1 jing1 li3", state="applied", created_at=correction))
        s.add(FinetuneRun(tenant_id=tenant.id, version=1, trigger="nightly", status=FinetuneStatus.promoted.value,
                          metrics={}, created_at=last_run, finished_at=last_run))
        return tenant.id


def test_beat_queues_each_tenant_at_its_own_local_hour(scratch_pg_url: str, settings: Settings) -> None:
    ctx = WorkerContext(settings.with_(database_url=scratch_pg_url, finetune_hour_utc=2))  # no app: sends nothing
    sessions = make_sessionmaker(make_engine(scratch_pg_url))
    # each ran after its slot of the 28th (Berlin 02:00 UTC, Shanghai 01:00 UTC, default 02:00 UTC)
    last_night, correction = utc(2026, 3, 28, 2, 5), utc(2026, 3, 28, 12)
    # 2026-03-29 is the spring-forward night in Berlin: 03:00 CEST is 01:00 UTC.
    berlin = tenant_with_history(sessions, "berlin", last_night, correction, finetune_hour=3,
                                 finetune_timezone="Europe/Berlin")
    shanghai = tenant_with_history(sessions, "shanghai", last_night, correction, finetune_hour=9,
                                   finetune_timezone="Asia/Shanghai")  # 01:00 UTC as well
    default = tenant_with_history(sessions, "default", last_night, correction)  # 02:00 UTC
    tenant_with_history(sessions, "off", last_night, correction, finetune_hour=3, finetune_timezone="Europe/Berlin",
                        finetune_enabled=False)

    def queued(now: datetime) -> set[str]:
        ids = start_due_finetunes(ctx, now=now)
        with sessions() as s:
            return set(s.scalars(select(FinetuneRun.tenant_id).where(FinetuneRun.id.in_(ids))))

    assert queued(utc(2026, 3, 29, 0, 55)) == set()
    assert queued(utc(2026, 3, 29, 1, 0)) == {berlin, shanghai}
    assert queued(utc(2026, 3, 29, 1, 30)) == set()  # queued already: one run a night
    assert queued(utc(2026, 3, 29, 2, 0)) == {default}
    assert queued(utc(2026, 3, 29, 23, 0)) == set()  # the disabled tenant, never
    with sessions() as s:
        assert s.scalar(select(Tenant).where(Tenant.name == "off")).finetune_enabled is False
        assert not s.scalars(select(FinetuneRun).join(Tenant, Tenant.id == FinetuneRun.tenant_id).where(
            Tenant.name == "off", FinetuneRun.version > 1)).all()
