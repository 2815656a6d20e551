"""Submitting batches as streamed CSV/JSONL uploads: accepted at once (the source is stored,
a worker plans it), refused before anything is stored when it cannot be a batch."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from shared import storage_keys
from shared.models import Batch, Item, Voice, VoiceStatus
from shared.storage import open_storage
from tests.helpers import assert_problem as problem


@pytest.fixture
def voice(tenant_key, sessions) -> str:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        row = Voice(tenant_id=tenant_key[0], name="v", language="zh", status=VoiceStatus.ready.value)
        s.add(row)
        s.flush()
        return row.id



def stored(settings, tenant_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(open_storage(settings).list(storage_keys.tenant_prefix(tenant_id)))


@pytest.mark.parametrize("content_type, body", [
    ("text/csv", "id,text\np1,第一条。\np2,第二条。\n"),
    ("application/x-ndjson", '{"text": "第一条。", "id": "p1"}\n{"text": "第二条。", "id": "p2"}\n'),
])
def test_a_raw_upload_is_stored_and_accepted(client, auth, voice, settings, sessions, tenant_key,  # type: ignore[no-untyped-def]
                                             content_type: str, body: str) -> None:
    r = client.post(f"/v1/batches?voice_id={voice}&name=catalog&zip=true", headers={**auth, "Content-Type": content_type},
                    data=body.encode())
    assert r.status_code == 202, r.get_data(as_text=True)
    batch = r.get_json()
    assert batch["source_format"] in ("csv", "jsonl") and batch["params"] == {"speed": 1.0, "zip": True,
                                                                              "voice_id": voice}
    with sessions() as s:
        row = s.get(Batch, batch["id"])
        assert row is not None and row.source_key and row.source_key.startswith(storage_keys.tenant_prefix(tenant_key[0]))
        assert open_storage(settings).get(row.source_key) == body.encode()
    client.post(f"/v1/batches/{batch['id']}/cancel", headers=auth)


def test_a_multipart_jsonl_file_is_accepted(client, auth, voice) -> None:  # type: ignore[no-untyped-def]
    lines = "\n".join(json.dumps({"text": f"第{n}条。", "voice_id": voice}) for n in range(3)) + "\n"
    r = client.post("/v1/batches", headers=auth, data={"file": (io.BytesIO(lines.encode()), "items.jsonl")})
    assert r.status_code == 202 and r.get_json()["source_format"] == "jsonl"
    client.post(f"/v1/batches/{r.get_json()['id']}/cancel", headers=auth)


def test_a_big_json_batch_goes_the_streamed_way(client, auth, voice, sessions) -> None:  # type: ignore[no-untyped-def]
    body = {"voice_id": voice, "items": [{"text": f"第{n}条。"} for n in range(1500)]}
    r = client.post("/v1/batches", headers=auth, json=body)
    assert r.status_code == 202
    with sessions() as s:
        row = s.get(Batch, r.get_json()["id"])
        assert row is not None and row.source_format == "jsonl"
    client.post(f"/v1/batches/{r.get_json()['id']}/cancel", headers=auth)


def test_uploads_that_cannot_be_a_batch_store_nothing(client, auth, voice, settings, sessions,  # type: ignore[no-untyped-def]
                                                      tenant_key) -> None:
    csv = {**auth, "Content-Type": "text/csv"}
    problem(client.post(f"/v1/batches?voice_id={voice}", headers=csv, data=b""), 422, "no items")
    problem(client.post(f"/v1/batches?voice_id={voice}", headers=csv, data=b"name,price\nx,1\n"), 422, "'text' column")
    problem(client.post("/v1/batches?voice_id=nope", headers=csv, data=b"text\na\n"), 404, "nope")
    problem(client.post(f"/v1/batches?voice_id={voice}&zip=maybe", headers=csv, data=b"text\na\n"), 422, "'zip'")
    problem(client.post(f"/v1/batches?voice_id={voice}&speed=fast", headers=csv, data=b"text\na\n"), 422, "'speed'")
    assert stored(settings, tenant_key[0]) == []
    with sessions() as s:
        for model in (Batch, Item):
            assert s.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_key[0])) == 0


@pytest.mark.parametrize("content_type, body", [
    ("text/csv", "id,text\np1,第一条。\np2,去{银行|yin2}取钱\n"),
    ("application/x-ndjson", '{"text": "第一条。"}\n\n{"text": "去{银行|yin2}取钱"}\n'),
])
def test_a_bad_inline_override_in_a_line_is_refused_at_upload_as_in_json(  # type: ignore[no-untyped-def]
        client, auth, voice, settings, sessions, tenant_key, content_type: str, body: str) -> None:
    """The same problem+json as a JSON batch's (the item's index, not its line), nothing stored."""
    as_json = client.post("/v1/batches", headers=auth,
                          json={"voice_id": voice, "items": [{"text": "第一条。"}, {"text": "去{银行|yin2}取钱"}]})
    problem(as_json, 422, "items[1].text", "1 syllables for 2 characters")
    r = client.post(f"/v1/batches?voice_id={voice}", headers={**auth, "Content-Type": content_type},
                    data=body.encode())
    problem(r, 422, "items[1].text", "1 syllables for 2 characters")
    assert r.get_json() == as_json.get_json()
    assert stored(settings, tenant_key[0]) == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch).where(Batch.tenant_id == tenant_key[0])) == 0
