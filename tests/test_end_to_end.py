"""The whole path, distributed: API over HTTP, a Celery worker process, PostgreSQL, Redis, S3.

And the same job on the embedded default through the CLI.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "examples" / "reference.wav"
ITEMS = [
    "这款iPhone 15 Pro手机售价¥7999，重量187g。",
    "The ThinkPad X1 Carbon weighs only 1.12 kg.",
    "本款保温杯容量500ml，保温时长12小时。",
    "限时折扣：原价¥399，现价¥299，立省25%。",
    "Nike Air Max 270跑鞋，三种配色可选。",
]

pytestmark = pytest.mark.slow


def check_speech_wav(data: bytes, text: str) -> float:
    """A valid 24 kHz mono 16-bit WAV, of plausible length for the text, and not silence."""
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    duration = len(audio) / 24000
    assert 0.04 * len(text) < duration < 0.5 * len(text) + 2, (duration, text)
    frames = audio[: len(audio) // 480 * 480].reshape(-1, 480)
    voiced = np.mean(np.sqrt(np.mean(frames**2, axis=1)) > 0.01)
    assert voiced > 0.4, f"mostly silence ({voiced:.0%} voiced frames)"
    return duration


def wait_for(fn, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = fn()
        if result is not None:
            return result
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_distributed_enroll_batch_and_download(api_url: str, shared_tenant_key: tuple[str, str],
                                               enrolled_voice: dict) -> None:
    http = requests.Session()
    http.headers.update({"Authorization": f"Bearer {shared_tenant_key[1]}"})
    assert http.get(f"{api_url}/readyz", timeout=10).json()["status"] == "ready"
    voice, voice_id = enrolled_voice, enrolled_voice["id"]
    assert voice["status"] == "ready", voice
    assert voice["version"]["version"] == 1 and voice["version"]["similarity"] > 0.5
    assert voice["reference_qa"]["decision"] in ("accept", "warn")
    # Enrollment tried a spectral conversion and says what it decided, with the guard's numbers;
    # a kept one is named in the version's method (and every render below goes through it).
    conversion = voice["version"]["conversion"]
    assert set(conversion["unconverted"]) == {"similarity", "error", "dnsmos_ovrl"}, conversion
    assert conversion["kept"] == (conversion.get("method") in voice["version"]["method"].split("+"))

    r = http.post(f"{api_url}/v1/batches", json={"voice_id": voice_id, "items": [{"text": t} for t in ITEMS]},
                  timeout=30)
    assert r.status_code == 202, r.text
    batch_id = r.json()["id"]

    def batch_done():  # type: ignore[no-untyped-def]
        b = http.get(f"{api_url}/v1/batches/{batch_id}", timeout=10).json()
        return b if b["finished_at"] else None

    batch = wait_for(batch_done, 600, "the batch")
    # Every item is delivered; the quality gate may flag some for review (with its reasons), never drop them.
    assert batch["status"] == "succeeded", batch
    assert batch["counts"]["succeeded"] + batch["counts"]["needs_review"] == len(ITEMS) and batch["progress"] == 1.0

    page = http.get(f"{api_url}/v1/batches/{batch_id}/items", params={"limit": 3}, timeout=10).json()
    rest = http.get(f"{api_url}/v1/batches/{batch_id}/items",
                    params={"cursor": page["next_cursor"], "limit": 3}, timeout=10).json()
    items = page["items"] + rest["items"]
    assert [it["seq"] for it in items] == list(range(len(ITEMS))) and rest["next_cursor"] is None
    for item in items:
        assert item["url"] and item["voice_version_id"] == voice["version"]["id"]
        assert item["quality"]["scores"]["similarity"] > 0.3 and item["quality"]["transcript"]
        assert item["quality"]["passed"] == (item["status"] == "succeeded")
        audio = requests.get(item["url"], timeout=30)  # presigned: no API key
        assert audio.status_code == 200
        check_speech_wav(audio.content, item["text"])

    manifest = requests.get(batch["manifest_url"], timeout=30).text.splitlines()
    assert [json.loads(line)["status"] for line in manifest] == [it["status"] for it in items]

    preview = http.post(f"{api_url}/v1/synthesize", json={"text": "欢迎光临，今天全场八折。", "voice_id": voice_id},
                        timeout=180)
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "audio/wav"
    check_speech_wav(preview.content, "欢迎光临，今天全场八折。")


def test_embedded_render_through_the_cli(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("id,text\n" + "".join(f"p{n},{t}\n" for n, t in enumerate(ITEMS)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    env["NARRATOR_DATA_DIR"] = str(tmp_path / "data")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "worker.cli", "render", str(catalog), "--reference", str(REFERENCE), "--out", str(out),
         "--consent", str(REFERENCE.with_name("consent.wav")), "--speaker", "林小雨", "--company", "星光电器"],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(m["status"] in ("succeeded", "needs_review") for m in manifest) and len(manifest) == len(ITEMS)
    for entry in manifest:
        check_speech_wav((out / entry["file"]).read_bytes(), entry["text"])
