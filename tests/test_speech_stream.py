"""Stock voices and the streaming speech endpoint, distributed: the API over HTTP relays what
a real Celery worker process publishes on Redis; clients are the real ``openai`` package and
``curl --no-buffer``. Nothing is faked.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import zipfile
from datetime import UTC, datetime

import numpy as np
import openai
import pytest
import requests
import soundfile as sf
from sqlalchemy import update

from shared.models import Consent, Item
from shared.settings import Settings
from tests.helpers import wait_until
from tests.support.devservices import WorkerProcess
from worker.tts.synthesis.watermark import detect, item_payload, watermark_key

pytestmark = pytest.mark.slow
SHORT_ZH = "今天天气很好。"
LONG_ZH = "今天天气很好，我们一起去公园散步吧。公园里的花都开了，红的黄的白的，非常漂亮，大家都很开心。"


def client(api_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{api_url}/v1", max_retries=0)


def speak(api_url: str, key: str, **request: object) -> tuple[bytes, float, str]:
    """Body, seconds to the first audio byte, and the item id, through the openai client."""
    started = time.perf_counter()
    first_at = None
    body = bytearray()
    with client(api_url, key).audio.speech.with_streaming_response.create(**request) as response:
        item_id = response.headers["x-item-id"]
        for chunk in response.iter_bytes():
            if chunk and first_at is None:
                first_at = time.perf_counter() - started
            body.extend(chunk)
    return bytes(body), first_at or 0.0, item_id


def test_stock_catalogue_lists_packs_with_language_gender_and_preview(
        api_url: str, tenant_key: tuple[str, str], worker_process: WorkerProcess) -> None:
    auth = {"Authorization": f"Bearer {tenant_key[1]}"}
    voices = requests.get(f"{api_url}/v1/voices?kind=stock", headers=auth, timeout=10).json()["voices"]
    by_name = {v["name"]: v for v in voices}
    assert by_name["zf_xiaoxiao"] == {"name": "zf_xiaoxiao", "kind": "stock", "language": "zh", "locale": "zh-CN",
                                      "gender": "female", "preview_url": "/v1/voices/stock/zf_xiaoxiao/preview"}
    assert by_name["am_adam"]["gender"] == "male" and by_name["bf_emma"]["locale"] == "en-GB"
    assert not [n for n in by_name if n[0] not in "zab"], "only languages the frontend reads are offered"
    preview = requests.get(f"{api_url}{by_name['zf_xiaoxiao']['preview_url']}", headers=auth, timeout=120)
    assert preview.status_code == 200 and preview.headers["content-type"] == "audio/wav"
    audio, sr = sf.read(io.BytesIO(preview.content))
    assert sr == 24000 and len(audio) > 2 * sr
    # the tenant had no consent at all: the stock voice is its own now, listed beside its clones
    mine = requests.get(f"{api_url}/v1/voices", headers=auth, timeout=10).json()["voices"]
    assert [v["name"] for v in mine] == ["zf_xiaoxiao"] and mine[0]["consent_id"] is None


def test_openai_client_streams_wav_from_a_stock_voice_watermarked_and_metered(
        api_url: str, tenant_key: tuple[str, str], worker_process: WorkerProcess, settings: Settings,
        sessions) -> None:  # type: ignore[no-untyped-def]
    body, _, item_id = speak(api_url, tenant_key[1], model="narrator-1", input=LONG_ZH, voice="zf_xiaoxiao",
                                response_format="wav")
    assert body[:4] == b"RIFF" and body[40:44] == b"\xff\xff\xff\xff", "a streaming header: length unknown"
    pcm = np.frombuffer(body[44:], dtype="<i2").astype(np.float32) / 32768
    assert 4.0 < len(pcm) / 24000 < 15.0
    # metered like every render: the item row has the duration the client received (recorded
    # once the last chunk has gone out)
    def finished() -> Item | None:
        with sessions() as s:
            row = s.get(Item, item_id)
            return row if row.status != "running" else None

    item = wait_until(finished, 30, "the stream's item to finish")
    assert item.status == "succeeded" and item.tenant_id == tenant_key[0]
    assert abs(item.duration_s - len(pcm) / 24000) < 0.01
    assert item.quality["gate"] == "skipped: streamed"
    # watermarked: each chunk carries the item id under the deployment's key, laid out from where
    # it lies in the stream, so the whole stream as the client recorded it reads as one mark
    found = detect(pcm, 24000, watermark_key(settings.secret_key))
    assert found.payload == item_payload(item_id), found


@pytest.mark.parametrize(("fmt", "content_type"), [("mp3", "audio/mpeg"), ("flac", "audio/flac")])
def test_a_batch_is_delivered_in_its_output_format_watermarked(
        api_url: str, tenant_key: tuple[str, str], worker_process: WorkerProcess, settings: Settings,
        fmt: str, content_type: str) -> None:
    """A catalogue for the web wants MP3, an archive FLAC: each item is stored in the batch's
    output_format, with its extension and type, in the ZIP too, and its watermark survives the codec
    (over 4 s of speech: README, bench/watermark.py)."""
    auth = {"Authorization": f"Bearer {tenant_key[1]}"}
    sent = requests.post(f"{api_url}/v1/batches", headers=auth, timeout=30, json={
        "voice_id": "zf_xiaoxiao", "items": [{"text": LONG_ZH}], "output_format": fmt, "zip": True})
    assert sent.status_code == 202 and sent.json()["params"]["output_format"] == fmt, sent.text
    batch_url = f"{api_url}/v1/batches/{sent.json()['id']}"
    batch = wait_until(lambda: (b := requests.get(batch_url, headers=auth, timeout=10).json())["finished_at"] and b,
                       300, "the batch to finish")
    [item] = requests.get(f"{batch_url}/items", headers=auth, timeout=10).json()["items"]
    extension = fmt
    assert item["status"] in ("succeeded", "needs_review") and f"/items/0.{extension}" in item["url"]
    served = requests.get(item["url"], timeout=30)
    assert served.headers["Content-Type"] == content_type
    audio, sr = sf.read(io.BytesIO(served.content), dtype="float32")
    assert sr == 24000 and abs(len(audio) / sr - item["duration_s"]) < 0.1
    found = detect(audio, sr, watermark_key(settings.secret_key))
    assert found.payload == item_payload(item["id"]), found
    with zipfile.ZipFile(io.BytesIO(requests.get(batch["zip_url"], timeout=30).content)) as zf:
        assert zf.read(f"audio/000000.{extension}") == served.content


def test_stream_sends_audio_before_the_render_ends(api_url: str, tenant_key: tuple[str, str],
                                                  worker_process: WorkerProcess, sessions) -> None:  # type: ignore[no-untyped-def]
    """The first bytes reach the client while the worker is still rendering the rest: they
    arrive seconds before the worker records the item finished (a clock shared with the
    database on this machine; robust to how loaded the box is, unlike a ratio of times)."""
    first_at = None
    with client(api_url, tenant_key[1]).audio.speech.with_streaming_response.create(
            model="tts-1", input=LONG_ZH * 2, voice="zf_xiaoxiao", response_format="pcm") as response:
        assert response.headers["content-type"] == "audio/pcm"
        item_id = response.headers["x-item-id"]
        size, probe_s = 0, None
        for chunk in response.iter_bytes(4800):
            if first_at is None:
                first_at = datetime.now(UTC)
                # the stream holds one thread: the liveness probe is answered meanwhile
                probe_started = time.perf_counter()
                assert requests.get(f"{api_url}/healthz", timeout=5).status_code == 200
                probe_s = time.perf_counter() - probe_started
            size += len(chunk)
    assert size % 2 == 0 and size / 48000 > 8
    assert probe_s is not None and probe_s < 1.0

    def finished() -> datetime | None:
        with sessions() as s:
            row = s.get(Item, item_id)
            return row.finished_at if row.finished_at is not None else None

    finished_at = wait_until(finished, 30, "the stream's item to finish")
    assert first_at is not None and (finished_at - first_at).total_seconds() > 1.0, (first_at, finished_at)


@pytest.mark.attack
def test_a_line_cannot_make_the_voice_say_phonemes_its_text_does_not_show(
        api_url: str, tenant_key: tuple[str, str], worker_process: WorkerProcess) -> None:
    """The English G2P reads ``[word](/phonemes/)`` as "say these phonemes". Sent as text, that
    would put forty syllables of anything under the word "hello", past the checks inline readings
    get and unseen by a reviewer reading the text; the frontend reads a link as its text, so the
    line renders as long as the plain one."""
    def seconds(text: str) -> float:
        body, _, _ = speak(api_url, tenant_key[1], model="narrator-1", input=text, voice="af_heart", response_format="wav")
        audio, sr = sf.read(io.BytesIO(body))
        return len(audio) / sr

    plain = seconds("Please say hello now.")
    injected = seconds("Please say [hello](/" + "bˈɑ " * 40 + "/) now.")
    assert abs(injected - plain) < 0.3, (plain, injected)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac"])
def test_compressed_formats_decode(api_url: str, tenant_key: tuple[str, str], worker_process: WorkerProcess,
                                   fmt: str) -> None:
    body, _, _ = speak(api_url, tenant_key[1], model="narrator-1", input="Good morning. The shop opens at nine.",
                       voice="af_heart", response_format=fmt)
    audio, sr = sf.read(io.BytesIO(body))
    assert sr in (24000, 48000) and 1.5 < len(audio) / sr < 8


def test_curl_no_buffer(api_url: str, tenant_key: tuple[str, str], worker_process: WorkerProcess) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        [curl, "--no-buffer", "-sS", "-f", f"{api_url}/v1/audio/speech", "-H", f"Authorization: Bearer {tenant_key[1]}",
         "-H", "Content-Type: application/json",
         "-d", '{"model": "narrator-1", "input": "你好，世界。", "voice": "zm_yunxi", "response_format": "wav"}'],
        capture_output=True, timeout=120, check=True).stdout
    audio, sr = sf.read(io.BytesIO(out))
    assert sr == 24000 and len(audio) > 0.5 * sr


def test_refusals_come_before_the_first_byte_as_problem_json(
        api_url: str, tenant_key: tuple[str, str], worker_process: WorkerProcess, stock_voice: str,
        sessions) -> None:  # type: ignore[no-untyped-def]
    """Bad requests and a cloned voice whose consent is revoked are refused with a status and
    a problem body, never a 200 with a broken stream; a stock voice needs no consent."""
    url, auth = f"{api_url}/v1/audio/speech", {"Authorization": f"Bearer {tenant_key[1]}"}
    good = {"model": "narrator-1", "input": SHORT_ZH, "voice": "zf_xiaoxiao", "response_format": "wav"}
    for change, status, field in [({"voice": "xx_nobody"}, 404, None), ({"response_format": "aac"}, 422, "response_format"),
                                  ({"speed": 3.0}, 422, "speed"), ({"model": "whisper-1"}, 422, "model"),
                                  ({"input": ""}, 422, "input")]:
        r = requests.post(url, json={**good, **change}, headers=auth, timeout=30)
        assert r.status_code == status, (change, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert r.json().get("field") == field, r.json()
    assert requests.post(url, json=good, headers={"Authorization": "Bearer nope"}, timeout=30).status_code == 401
    with pytest.raises(openai.APIStatusError) as refused:
        client(api_url, tenant_key[1]).audio.speech.create(model="narrator-1", input=SHORT_ZH, voice="nobody")
    assert refused.value.status_code == 404
    # the tenant's consented voice (a stock pack installed as an enrollment leaves it) streams
    ok = requests.post(url, json={**good, "voice": stock_voice}, headers=auth, timeout=120)
    assert ok.status_code == 200 and len(ok.content) > 24000
    with sessions.begin() as s:
        s.execute(update(Consent).where(Consent.tenant_id == tenant_key[0]).values(revoked_at=Consent.created_at))
    r = requests.post(url, json={**good, "voice": stock_voice}, headers=auth, timeout=30)
    assert r.status_code == 409 and r.json()["type"].endswith("consent_required"), r.text


def test_embedded_mode_streams_through_the_same_path_in_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No broker: the API runs the stream's task on a thread of its own process and relays
    its chunks from memory; the item is recorded in the embedded SQLite database."""
    from shared.db import make_engine, make_sessionmaker
    from shared.migrate import upgrade
    from shared.tenants import create_key, create_tenant
    from worker.cli.serve import make_api

    settings = Settings(data_dir=tmp_path, secret_key="embedded-secret-" + "x" * 32)
    assert settings.embedded
    upgrade(settings.database_url)
    embedded_sessions = make_sessionmaker(make_engine(settings.database_url))
    with embedded_sessions.begin() as s:
        _, key = create_key(s, create_tenant(s, "embedded"), "write")
    http = make_api(settings).test_client()
    response = http.post("/v1/audio/speech", headers={"Authorization": f"Bearer {key}"}, buffered=False,
                         json={"model": "narrator-1", "input": SHORT_ZH, "voice": "zf_xiaoxiao",
                               "response_format": "wav"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = b"".join(response.response)
    audio, sr = sf.read(io.BytesIO(body))
    assert sr == 24000 and len(audio) > 0.5 * sr

    def finished() -> Item | None:
        with embedded_sessions() as s:
            row = s.get(Item, response.headers["X-Item-Id"])
            return row if row is not None and row.status == "succeeded" else None

    assert wait_until(finished, 60, "the embedded stream's item").duration_s > 0.5
