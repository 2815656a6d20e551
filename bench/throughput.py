"""Batch throughput with 1 and 2 worker processes on this machine (the capacity figures).

Starts a fresh PostgreSQL database, an S3 server, Redis-backed Celery workers (one task
at a time each, NARRATOR_SYNTH_THREADS = cores / workers), enrolls examples/reference.wav
once, warms every worker, then times a batch end to end: submit → every item delivered.
Run: .venv/bin/python bench/throughput.py [--items 16] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import func, select

from shared import devservices, jobs, keys
from shared.consent import create_consent, statement
from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.models import Batch, ConsentStatus, Item
from shared.queries import item_counts
from shared.services import create_batch, register_voice
from shared.settings import Settings
from shared.tenants import create_tenant
from worker import jobs as worker_jobs
from worker.celery_app import make_celery
from worker.context import WorkerContext

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "throughput.json"
PG_ADMIN = os.environ.get("NARRATOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("NARRATOR_BENCH_REDIS", "redis://127.0.0.1:6379/12")
TEXTS = [line.split(",", 1)[1].strip().strip('"') for line in
         (ROOT / "examples" / "catalog.csv").read_text(encoding="utf-8").splitlines()[1:]]


def run_batch(settings: Settings, tenant_id: str, voice_id: str, n: int) -> tuple[float, float]:
    """Submit n items and wait for all; returns (wall seconds, seconds of audio delivered)."""
    sessions = make_sessionmaker(make_engine(settings.database_url))
    # A fresh prefix per batch, so the render cache cannot serve any item: this times the model.
    run = uuid.uuid4().hex[:4]
    items = [{"text": f"编号{run}{i}。{TEXTS[i % len(TEXTS)]}", "voice_id": voice_id} for i in range(n)]
    with sessions.begin() as s:
        batch_id = create_batch(s, tenant_id, items, "bench", {"speed": 1.0}, "bench")
    started = time.monotonic()
    make_celery(settings).send_task(jobs.PLAN_BATCH, args=(batch_id,))
    while True:
        with sessions() as s:
            batch = s.get(Batch, batch_id)
            if batch is not None and batch.finished_at is not None:
                counts = item_counts(s, batch_id)
                break
        time.sleep(0.2)
    wall = time.monotonic() - started
    if counts["failed"]:
        raise RuntimeError(f"{counts['failed']} items failed: {counts}")
    with sessions() as s:
        audio = s.scalar(select(func.sum(Item.duration_s)).where(Item.batch_id == batch_id)) or 0.0
    return wall, float(audio)


def enroll_example(ctx: WorkerContext, tenant_id: str) -> str:
    """examples/reference.wav enrolled on its consent (examples/consent.wav), verified by the real job."""
    with ctx.sessions.begin() as s:
        consent = create_consent(s, tenant_id, speaker_name="林小雨", company_name="星光电器", agreement_version="bench",
                                 agreement_text="bench", signature="林小雨", language="zh", client_ip=None,
                                 user_agent="bench", actor="bench")
        consent.statement, consent.code = statement("zh", "林小雨", "星光电器", None), None
        consent.recording_key = keys.consent_recording_key(tenant_id, consent.id)
        ctx.storage.put(consent.recording_key, (ROOT / "examples" / "consent.wav").read_bytes())
        consent.status = ConsentStatus.verifying.value
        consent_id = consent.id
    worker_jobs.verify_consent(ctx, consent_id)
    with ctx.sessions.begin() as s:
        voice_id = register_voice(s, ctx.storage, tenant_id, "bench", "zh",
                                  (ROOT / "examples" / "reference.wav").read_bytes(), "audio/wav", "bench",
                                  consent_id=consent_id)
    worker_jobs.enroll_voice(ctx, voice_id)
    return voice_id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    with devservices.fresh_pg_database(PG_ADMIN) as db, devservices.s3_server("bench") as endpoint, \
            tempfile.TemporaryDirectory() as tmp:
        upgrade(db)
        redis.Redis.from_url(REDIS_URL).flushdb()
        base = Settings(data_dir=Path(tmp), database_url=db, broker_url=REDIS_URL, storage_url="s3://bench",
                        s3_endpoint_url=endpoint, s3_access_key_id="bench", s3_secret_access_key="bench",
                        metrics_port=0)
        ctx = WorkerContext(base)
        with ctx.sessions.begin() as s:
            tenant_id = create_tenant(s, "bench").id
        voice_id = enroll_example(ctx, tenant_id)
        for k in (int(x) for x in args.workers.split(",")):
            settings = base.with_(synth_threads=max(1, cores // k))
            procs = [devservices.start_worker(settings, Path(tmp) / f"w{k}-{i}.log", name=f"bench{k}-{i}")
                     for i in range(k)]
            try:
                run_batch(settings, tenant_id, voice_id, 2 * k)  # warm every worker's models
                wall, audio = run_batch(settings, tenant_id, voice_id, args.items)
            finally:
                for p in procs:
                    p.stop()
            rows.append({"workers": k, "threads_each": settings.synth_threads, "items": args.items,
                         "wall_s": round(wall, 1), "items_per_min": round(60 * args.items / wall, 1),
                         "audio_s_per_wall_s": round(audio / wall, 2)})
    machine = {"cpu": platform.processor() or platform.machine(), "cores": cores, "load_before": os.getloadavg()}
    print(f"\nthroughput on {cores} cores (each item: render + quality gate, best of 2)")
    print(f"{'workers':>7} {'threads':>7} {'items':>5} {'wall s':>7} {'items/min':>9} {'audio s/s':>9}")
    for r in rows:
        print(f"{r['workers']:>7} {r['threads_each']:>7} {r['items']:>5} {r['wall_s']:>7} "
              f"{r['items_per_min']:>9} {r['audio_s_per_wall_s']:>9}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
