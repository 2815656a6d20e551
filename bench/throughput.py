"""Batch throughput and the cost of running at scale, on this machine.

Starts private PostgreSQL and Redis servers (tests/support/devservices.py; NARRATOR_TEST_PG /
NARRATOR_BENCH_REDIS point it at existing ones instead), an S3 server and Redis-backed
Celery workers (solo pool: one task at a time each), makes a ready voice from a stock Kokoro voice, then measures:

1. items per minute for one batch (default 200 short items, each rendered and passed
   through the quality gate) with 1 worker × 1 thread, 1 worker × 2 threads and
   2 workers × 1 thread (NARRATOR_SYNTH_THREADS set per worker process);
2. the per-item overhead of queue + database + storage over the model's own work, in the
   1 worker × 1 thread batch: its span less every item's recorded model time
   (``run_batch``); beside it, database and storage alone, ``worker.jobs.render.synthesize_item``
   run in this process with its model calls timed and subtracted (``overhead_in_process``);
3. the wall time to accept (HTTP 202) a 100 000-line CSV, and to plan it into items
   (in this process, items inserted in chunks; peak traced memory reported).

Run: .venv/bin/python bench/throughput.py [--items 200] [--configs 1x1,1x2,2x1] [--accept-items 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import redis
import requests
from sqlalchemy import func, select

from shared import dispatch
from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.models import Batch, Item, Voice, VoiceStatus
from shared.queries import item_counts
from shared.services import create_batch
from shared.settings import Settings
from shared.tenants import create_key, create_tenant
from worker import delivery, stock_voices
from worker.context import WorkerContext
from worker.jobs.finish import after_item
from worker.jobs.plan import plan_batch
from worker.jobs.render import render_checked, synthesize_item

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support is not installed
from common import machine  # bench/common.py, beside this script

from tests.support import devservices

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "throughput.json"
# Short catalogue-like lines (about 1.5 s of speech each): a 200-item batch stays minutes long.
PHRASES = ["新品已到货。", "今日特价。", "支持七天无理由退货。", "库存充足。", "全场包邮。", "限时八折。"]


def texts(n: int) -> list[str]:
    """n catalogue lines, the same on every call. The digits (read one by one, like a SKU)
    give every line the same shape and length. Configurations are compared on the same
    lines, each with a voice of its own (``stock_voice``) so the render cache serves none:
    their renders are then identical, down to which lines the gate sends back for a second
    render (about 4 in 10 of these digit codes; see the README), and only the parallelism
    differs between them."""
    return [f"编号1000{i:03d}，{PHRASES[i % len(PHRASES)]}" for i in range(n)]


def run_batch(settings: Settings, tenant_id: str, voice_id: str, n: int) -> dict[str, float]:
    """Submit n items (``texts(n)``) and wait for all; returns the wall seconds, the seconds of audio
    delivered, and what the service added to each item.

    Each item records its model time (``quality.model_ms``: frontend, renders, gate). With
    one worker the items run one after another, so the span from the first claim to the
    last finish, less the model time of all items, is what queue, database, storage and
    the worker's own code added: per item, measured inside the same run as the renders,
    so machine load cannot open a gap the way it does between separate runs. The queue
    gap (one item's finish to the next item's claim: post-finish bookkeeping, the window
    top-up, acknowledging the message, receiving the next) is part of it."""
    sessions = make_sessionmaker(make_engine(settings.database_url))
    items = [{"text": t, "voice_id": voice_id} for t in texts(n)]
    with sessions.begin() as s:
        batch_id = create_batch(s, tenant_id, items, "bench", {"speed": 1.0}, "bench")
    started = time.monotonic()
    dispatch.CeleryQueue(dispatch.celery_client(settings)).send(
        dispatch.PLAN_BATCH, batch_id, queue=dispatch.synth_queue(n, settings.interactive_max_items))
    while True:
        with sessions() as s:
            batch = s.get(Batch, batch_id)
            if batch is not None and batch.finished_at is not None:
                counts = item_counts(s, batch_id)
                break
        time.sleep(0.05)
    wall = time.monotonic() - started
    if counts["failed"]:
        raise RuntimeError(f"{counts['failed']} items failed: {counts}")
    with sessions() as s:
        rows = s.execute(select(Item.started_at, Item.finished_at, Item.duration_s, Item.quality)
                         .where(Item.batch_id == batch_id).order_by(Item.started_at)).all()
    span = (max(r.finished_at for r in rows) - rows[0].started_at).total_seconds()
    model = sum(r.quality.get("model_ms", 0.0) for r in rows if r.quality) / 1000
    gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in itertools.pairwise(rows)]
    return {"wall_s": wall, "audio_s": float(sum(r.duration_s or 0.0 for r in rows)),
            "model_ms": 1000 * model / n, "service_ms": 1000 * (span - model) / n,
            "queue_gap_ms": 1000 * statistics.median(gaps) if gaps else 0.0}


def stock_voice(ctx: WorkerContext, tenant_id: str) -> str:
    """A new ready voice whose state is a stock Kokoro voice (its own speaker embedding for
    the gate), on a verified consent: rendering costs the same as for an enrolled voice, the
    bench does not spend minutes enrolling, and its version id keeps the render cache from
    serving renders made for another voice."""
    with ctx.sessions.begin() as s:
        return stock_voices.install(s, ctx.storage, tenant_id, stock_voices.stock_state(ctx.models), name="bench")


def overhead_in_process(ctx: WorkerContext, tenant_id: str, voice_id: str, n: int) -> dict[str, float]:
    """Database + storage time per item: ``worker.jobs.render.synthesize_item`` and ``after_item`` run
    in this process as the task runs them (claim, reads, render-cache probe, WAV upload,
    finish, the read after it; settling and top-ups on the background thread; no broker)
    with the model work inside it timed (frontend, render + quality gate) and subtracted.
    Both sides come from the same call, so machine load cannot open a gap between them the
    way it does between separate direct and managed runs.

    The upload (watermark, WAV encoding, PUT) runs while the gate checks the render
    (``worker.delivery``): only what it adds after the gate counts here; its own time is
    reported beside (``upload_ms``)."""
    model_s: list[float] = []
    upload_s: list[float] = []

    def timed(fn, into):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                into.append(time.perf_counter() - started)
        return wrapper

    frontend = ctx.models.frontend
    render = timed(render_checked, model_s)  # handed to the render job: its model time, gate included
    saved = delivery.ItemUpload._put
    delivery.ItemUpload._put = timed(saved, upload_s)  # type: ignore[method-assign]
    frontend.analyze = timed(frontend.analyze, model_s)  # type: ignore[method-assign]
    items = [{"text": t, "voice_id": voice_id} for t in texts(n)]
    with ctx.sessions.begin() as s:
        batch_id = create_batch(s, tenant_id, items, "bench-overhead", {"speed": 1.0}, "bench")
    with ctx.sessions() as s:
        item_ids = list(s.scalars(select(Item.id).where(Item.batch_id == batch_id).order_by(Item.seq)))
    walls, models, uploads = [], [], []
    try:
        for item_id in item_ids:
            model_s.clear()
            upload_s.clear()
            started = time.perf_counter()
            synthesize_item(ctx, item_id, render=render)
            after_item(ctx, item_id, lambda item, queue: None, defer=ctx.defer)  # as the task does
            walls.append(time.perf_counter() - started)
            models.append(sum(model_s))
            uploads.append(sum(upload_s))
    finally:
        delivery.ItemUpload._put = saved  # type: ignore[method-assign]
        del frontend.analyze
    rest = statistics.median(w - m for w, m in zip(walls, models))
    model = statistics.median(models)
    return {"items": n, "model_ms": round(1000 * model, 1), "db_storage_overhead_ms": round(1000 * rest, 1),
            "db_storage_overhead_pct": round(100 * rest / model, 2),
            "upload_ms": round(1000 * statistics.median(uploads), 1)}


def accept_csv(settings: Settings, n: int) -> dict[str, Any]:
    """POST an n-line CSV to a real API server; time the 202, then plan it here (no worker)."""
    from werkzeug.serving import make_server

    from api import create_app

    ctx = WorkerContext(settings)
    with ctx.sessions.begin() as s:
        tenant = create_tenant(s, f"accept-{uuid.uuid4().hex[:6]}")
        _, secret = create_key(s, tenant, "write")
        voice = Voice(tenant_id=tenant.id, name="accept", language="zh", status=VoiceStatus.ready.value)
        s.add(voice)
        s.flush()
        voice_id = voice.id
    body = ("id,text\n" + "".join(f"sku-{i},第{i}号商品今日特价，欢迎选购。\n" for i in range(n))).encode()
    port = devservices.free_port()
    # The API's plan message goes to an in-memory broker: no worker picks this batch up, the bench plans it below.
    quiet = dispatch.CeleryQueue(dispatch.celery_client(settings.with_(broker_url="memory://localhost/")))
    server = make_server("127.0.0.1", port, create_app(settings, lambda _settings, _channels: quiet), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        r = requests.post(f"http://127.0.0.1:{port}/v1/batches", params={"voice_id": voice_id}, data=body,
                          headers={"Authorization": f"Bearer {secret}", "Content-Type": "text/csv"}, timeout=120)
        accept_s = time.monotonic() - started
    finally:
        server.shutdown()
    if r.status_code != 202:
        raise RuntimeError(f"accept failed: {r.status_code} {r.text[:500]}")
    batch_id = r.json()["id"]
    # Plan in this process: stream the source back, insert in chunks (dispatching to nowhere).
    tracemalloc.start()
    started = time.monotonic()
    plan_batch(ctx, batch_id, lambda item_id, queue: None)
    plan_s = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    with ctx.sessions() as s:
        total = s.scalar(select(func.count()).select_from(Item).where(Item.batch_id == batch_id))
    return {"lines": n, "bytes": len(body), "accept_s": round(accept_s, 2), "plan_s": round(plan_s, 1),
            "items_planned": total, "plan_peak_traced_mib": round(peak / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--configs", default="1x1,1x2,2x1", help="WORKERSxTHREADS, comma separated")
    parser.add_argument("--overhead-items", type=int, default=20)
    parser.add_argument("--accept-items", type=int, default=100000)
    args = parser.parse_args()
    load_before = machine()
    rows, extra = [], {}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        pg_admin = os.environ.get("NARRATOR_TEST_PG") or stack.enter_context(devservices.postgres_server()).admin_url
        broker = os.environ.get("NARRATOR_BENCH_REDIS")
        if broker:
            redis.Redis.from_url(broker).flushdb()
        else:
            (Path(tmp) / "redis").mkdir()
            broker = stack.enter_context(devservices.redis_server(Path(tmp) / "redis")).url
        db = stack.enter_context(devservices.fresh_pg_database(pg_admin))
        endpoint = stack.enter_context(devservices.s3_server("bench"))
        upgrade(db)
        configs = [c for c in args.configs.split(",") if c]
        base = Settings(data_dir=Path(tmp), database_url=db, broker_url=broker, storage_url="s3://bench",
                        secret_key=secrets.token_urlsafe(32),
                        s3_endpoint_url=endpoint, s3_access_key_id="bench", s3_secret_access_key="bench",
                        metrics_port=0, max_batch_items=max(100000, args.accept_items))
        if args.accept_items:
            extra["accept"] = accept_csv(base, args.accept_items)
            print("accept:", extra["accept"], flush=True)
        ctx = WorkerContext(base.with_(synth_threads=1))
        with ctx.sessions.begin() as s:
            tenant_id = create_tenant(s, "bench").id
        if args.overhead_items:
            overhead_in_process(ctx, tenant_id, stock_voice(ctx, tenant_id), 2)  # load every model before timing
            extra["in_process"] = overhead_in_process(ctx, tenant_id, stock_voice(ctx, tenant_id), args.overhead_items)
            print("in-process:", extra["in_process"], flush=True)
        for spec in configs:
            k, threads = (int(x) for x in spec.split("x"))
            settings = base.with_(synth_threads=threads)
            procs = [devservices.start_worker(settings, Path(tmp) / f"w{spec}-{i}.log", name=f"bench{spec}-{i}")
                     for i in range(k)]
            try:
                run_batch(settings, tenant_id, stock_voice(ctx, tenant_id), 2 * k)  # warm every worker's models
                run = run_batch(settings, tenant_id, stock_voice(ctx, tenant_id), args.items)
            finally:
                for p in procs:
                    p.stop()
            wall = run["wall_s"]
            rows.append({"config": spec, "workers": k, "threads_each": threads, "items": args.items,
                         "wall_s": round(wall, 1), "items_per_min": round(60 * args.items / wall, 1),
                         "ms_per_item": round(1000 * wall / args.items, 1),
                         "audio_s_per_wall_s": round(run["audio_s"] / wall, 2),
                         "model_ms_per_item": round(run["model_ms"], 1),
                         **({"service_ms_per_item": round(run["service_ms"], 1),
                             "queue_gap_ms": round(run["queue_gap_ms"], 1)} if k == 1 else {})})
            print(rows[-1], flush=True)
    one = next((r for r in rows if r["config"] == "1x1"), None)
    two = next((r for r in rows if r["config"] == "2x1"), None)
    if one:
        # queue + database + storage + the worker's own code, from the 1 × 1 run (see run_batch)
        extra["per_item_overhead_ms"] = one["service_ms_per_item"]
        extra["per_item_overhead_pct"] = round(100 * one["service_ms_per_item"] / one["model_ms_per_item"], 2)
    if one and two:
        extra["speedup_2x1_over_1x1"] = round(two["items_per_min"] / one["items_per_min"], 2)
    result = {"machine_before": load_before, "machine_after": machine(), "rows": rows, **extra}
    print(f"\nthroughput on {load_before['cores']} cores, load {load_before['load_avg']} → "
          f"{result['machine_after']['load_avg']} (each item: render + quality gate, best of 2)")
    print(f"{'config':>6} {'workers':>7} {'threads':>7} {'items':>5} {'wall s':>7} {'items/min':>9} {'ms/item':>8}")
    for r in rows:
        print(f"{r['config']:>6} {r['workers']:>7} {r['threads_each']:>7} {r['items']:>5} {r['wall_s']:>7} "
              f"{r['items_per_min']:>9} {r['ms_per_item']:>8}")
    print(json.dumps(extra, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
