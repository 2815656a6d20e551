"""Metrics and logs an operator can watch: series read back after a real batch, JSON log
lines carrying the ids they concern, and no secret in any of them."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
import requests

from shared.dispatch import QUEUES
from shared.logs import JsonFormatter

pytestmark = pytest.mark.slow


def series(text: str, name: str) -> list[tuple[str, float]]:
    out = []
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            labels, _, value = line.rpartition(" ")
            out.append((labels, float(value)))
    return out


def test_a_batch_shows_in_metrics_and_json_logs(api_url, shared_tenant_key, enrolled_voice, worker_process,
                                                settings) -> None:  # type: ignore[no-untyped-def]
    key = shared_tenant_key[1]
    headers = {"Authorization": f"Bearer {key}", "X-Request-ID": "req-observability-1"}
    api_log = io.StringIO()
    handler = logging.StreamHandler(api_log)
    handler.setFormatter(JsonFormatter())
    api_logger = logging.getLogger("narrator.api")
    api_logger.addHandler(handler)
    api_logger.setLevel(logging.INFO)
    try:
        r = requests.post(f"{api_url}/v1/batches", headers=headers, timeout=30,
                          json={"voice_id": enrolled_voice["id"], "items": [
                              {"text": "新品上市，限时八折。"}, {"text": "Free shipping today."},
                              {"text": "新品上市，限时八折。"}]})  # the repeat comes from the render cache
        assert r.status_code == 202 and r.headers["X-Request-ID"] == "req-observability-1"
        batch_id = r.json()["id"]
        deadline = time.monotonic() + 300
        while (batch := requests.get(f"{api_url}/v1/batches/{batch_id}", headers=headers,
                                     timeout=10).json())["finished_at"] is None:
            assert time.monotonic() < deadline, "batch did not finish"
            time.sleep(1)
    finally:
        api_logger.removeHandler(handler)

    worker_metrics = requests.get(worker_process.metrics_url, timeout=10).text
    delivered = sum(v for labels, v in series(worker_metrics, "narrator_items_total")
                    if 'status="succeeded"' in labels or 'status="needs_review"' in labels)
    assert delivered >= 3 and batch["reused"] == 1
    assert series(worker_metrics, "narrator_render_cache_hits_total")[0][1] >= 1
    assert series(worker_metrics, "narrator_synthesis_rtf_count")[0][1] >= 2
    assert series(worker_metrics, "narrator_enrollment_duration_seconds_count")[0][1] >= 1
    assert {labels for labels, _ in series(worker_metrics, "narrator_queue_depth")} == {
        f'narrator_queue_depth{{queue="{queue}"}}' for queue in QUEUES}

    api_metrics = requests.get(f"{api_url}/metrics", timeout=10).text
    assert any('route="/v1/batches"' in labels and 'method="POST"' in labels
               for labels, _ in series(api_metrics, "narrator_http_request_duration_seconds_count"))

    api_lines = [json.loads(line) for line in api_log.getvalue().splitlines()]
    post = next(line for line in api_lines if line["message"].startswith("POST /v1/batches"))
    assert post["request_id"] == "req-observability-1" and post["tenant_id"] == shared_tenant_key[0]

    worker_lines = []
    for line in worker_process.log_path.read_text().splitlines():
        if line.startswith("{"):
            worker_lines.append(json.loads(line))
    item_lines = [line for line in worker_lines if line.get("batch_id") == batch_id and "item_id" in line]
    assert len({line["item_id"] for line in item_lines}) == 3
    assert all(line["tenant_id"] == shared_tenant_key[0] for line in item_lines)

    everything = api_log.getvalue() + worker_process.log_path.read_text()
    for secret in (key, key.split("_", 2)[2], settings.s3_secret_access_key, settings.secret_key):
        assert secret not in everything
    assert "RIFF" not in everything  # no audio bytes
