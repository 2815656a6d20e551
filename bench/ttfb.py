"""Time to first audio byte of ``POST /v1/audio/speech``, from the client's side.

The real ``openai`` client asks for ``pcm`` over HTTP and times its first audio byte, 20
requests per text (a 10-character and a 60-character Chinese sentence), warm, in both modes:

- embedded: the API on SQLite with the worker in its own process (a thread renders);
- distributed: PostgreSQL, Redis, the S3 server, and a Celery worker process reading
  ``interactive``; the API relays what the worker publishes on Redis.

Each request's engine part is what the worker recorded on the stream's item
(``quality.first_audio_ms``: frontend, voice load and the first chunk's render and
watermark); the transport part is the rest of the client's TTFB (the request, the item's
row, the queue, the channel, the relay). The machine's load is recorded beside them. The
stall is what a player starting at the first byte would wait for: the longest time by which
audio arrived later than the audio before it had taken to play.

    .venv/bin/python bench/speed.py --ttfb --redis redis://127.0.0.1:6379/N
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
from werkzeug.serving import make_server

from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.models import Item
from shared.settings import Settings
from shared.tenants import create_key, create_tenant
from tests.support import devservices
from worker.cli.serve import make_api

TEXTS = {
    "short_10": "今天的天气真的非常好。",
    "long_60": "今天的天气真的非常好，我们一起去公园散步吧。公园里的花都开了，红的黄的白的都有，大家看了都很开心，拍了很多照片。",
    # one long first sentence: what follows the opening phrase must arrive before it has played
    "first_sentence_54": "这款全新升级的智能扫地机器人采用激光导航技术，可以自动规划清扫路线，续航时间长达三个小时，适合大户型家庭使用。",
}
REQUESTS = 20
VOICE = "zf_xiaoxiao"
PCM_BYTES_PER_S = 24_000 * 2  # pcm: 24 kHz, 16-bit mono


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[str, str]]:
    """The API over HTTP on a local port and a tenant key: (url, key)."""
    app = make_api(settings)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions.begin() as s:
        tenant = create_tenant(s, f"bench-{uuid.uuid4().hex[:8]}")
        _, key = create_key(s, tenant, "write")
    server = make_server("127.0.0.1", devservices.free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", key
    finally:
        server.shutdown()


def measure(url: str, key: str, settings: Settings, load_1m: Any, requests: int = REQUESTS) -> dict[str, Any]:
    client = openai.OpenAI(api_key=key, base_url=f"{url}/v1", max_retries=0)
    sessions = make_sessionmaker(make_engine(settings.database_url))

    def one(text: str) -> tuple[float, float, str]:
        """(TTFB ms, stall ms, item id) of one request."""
        started = time.perf_counter()
        first, received, stall = None, 0, 0.0
        with client.audio.speech.with_streaming_response.create(model="narrator-1", input=text, voice=VOICE,
                                                                response_format="pcm") as response:
            for chunk in response.iter_bytes():
                now = time.perf_counter() - started
                if chunk and first is None:
                    first = now
                elif chunk:
                    stall = max(stall, now - first - received / PCM_BYTES_PER_S)
                received += len(chunk)
        return 1000 * (first or 0.0), 1000 * stall, response.headers["x-item-id"]

    def engine_ms(item_id: str) -> float:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with sessions() as s:
                item = s.get(Item, item_id)
                if item is not None and item.quality and "first_audio_ms" in item.quality:
                    return float(item.quality["first_audio_ms"])
            time.sleep(0.05)
        raise RuntimeError(f"item {item_id} never recorded its first audio")

    for text in TEXTS.values():  # warm: models loaded, voice cached, connections open
        one(text)
        one(text)
    out: dict[str, Any] = {}
    for name, text in TEXTS.items():
        ttfb, stalls, engine = [], [], []
        for _ in range(requests):
            ms, stall, item_id = one(text)
            ttfb.append(ms)
            stalls.append(stall)
            engine.append(engine_ms(item_id))
        transport = [t - e for t, e in zip(ttfb, engine, strict=True)]
        out[name] = {
            "chars": len(text), "requests": requests,
            "ttfb_p50_ms": round(statistics.median(ttfb), 1), "ttfb_p95_ms": round(percentile(ttfb, 0.95), 1),
            "engine_p50_ms": round(statistics.median(engine), 1), "engine_p95_ms": round(percentile(engine, 0.95), 1),
            "transport_p50_ms": round(statistics.median(transport), 1),
            "transport_p95_ms": round(percentile(transport, 0.95), 1),
            "stall_p50_ms": round(statistics.median(stalls), 1), "stall_max_ms": round(max(stalls), 1),
            "load_1m": load_1m(),
        }
    return out


def print_table(result: dict[str, Any]) -> None:
    print(f"{'mode':12s} {'text':18s} {'TTFB p50/p95 ms':>16s} {'engine p50':>11s} {'transport p50':>14s} "
          f"{'stall p50/max ms':>17s} {'load':>5s}")
    for mode in ("embedded", "distributed"):
        for name, row in result.get(mode, {}).items():
            print(f"{mode:12s} {name:18s} {row['ttfb_p50_ms']:>7.0f} / {row['ttfb_p95_ms']:<6.0f} "
                  f"{row['engine_p50_ms']:>11.0f} {row['transport_p50_ms']:>14.0f} "
                  f"{row['stall_p50_ms']:>8.0f} / {row['stall_max_ms']:<6.0f} {row['load_1m']:>5}")


def embedded(load_1m: Any, requests: int = REQUESTS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key=secrets.token_hex(32))
        upgrade(settings.database_url)
        with serving(settings) as (url, key):
            return measure(url, key, settings, load_1m, requests)


def distributed(redis_url: str, pg_admin: str, load_1m: Any, requests: int = REQUESTS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, devservices.fresh_pg_database(pg_admin) as pg, \
            devservices.s3_server("narrator-bench") as s3:
        upgrade(pg)
        settings = Settings(data_dir=Path(tmp), database_url=pg, broker_url=redis_url, storage_url="s3://narrator-bench",
                            s3_endpoint_url=s3, s3_access_key_id="bench", s3_secret_access_key="bench",
                            secret_key=secrets.token_hex(32))
        worker = devservices.start_worker(settings, Path(tmp) / "worker.log")
        try:
            with serving(settings) as (url, key):
                return measure(url, key, settings, load_1m, requests)
        finally:
            worker.stop()
