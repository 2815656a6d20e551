"""Reviewers' feedback and the versioned lexicon through the HTTP API."""

from __future__ import annotations

import io
import re
import uuid

import pytest
import requests
from sqlalchemy import func, select

from shared.models import (
    AuditEvent,
    Batch,
    Feedback,
    Item,
    LexiconVersion,
    Voice,
    VoiceStatus,
)
from shared.tenants import create_key, create_tenant
from tests.helpers import assert_problem as problem
from tests.helpers import render_batch

TEXT = "我在银行工作，用Xiaomi手机。"  # 银行 = [2, 4], Xiaomi = [8, 14]



def rendered_items(sessions, tenant_id: str, texts: list[str], status: str = "succeeded") -> tuple[str, str, list[str]]:  # type: ignore[no-untyped-def]
    """A ready voice and a batch of items recorded as rendered: (voice_id, batch_id, item ids)."""
    with sessions.begin() as s:
        voice = Voice(tenant_id=tenant_id, name="v", language="zh", status=VoiceStatus.ready.value)
        s.add(voice)
        s.flush()
        batch = Batch(tenant_id=tenant_id, total=len(texts), status="succeeded")
        s.add(batch)
        s.flush()
        items = [Item(batch_id=batch.id, tenant_id=tenant_id, seq=n, text=t, voice_id=voice.id, status=status)
                 for n, t in enumerate(texts)]
        s.add_all(items)
        s.flush()
        return voice.id, batch.id, [i.id for i in items]


@pytest.fixture
def tenant_items(sessions, tenant_key):  # type: ignore[no-untyped-def]
    return rendered_items(sessions, tenant_key[0], [TEXT, "Nike的鞋。"])


def post_feedback(client, auth, item_id: str, span: list[int], reading: str | None = None, **extra):  # type: ignore[no-untyped-def]
    return client.post("/v1/feedback", headers=auth, json={"item_id": item_id, "span": span, "reading": reading,
                                                           "reviewer": "ana", **extra})


def test_feedback_is_validated_and_nothing_is_stored(client, auth, sessions, tenant_key, tenant_items) -> None:  # type: ignore[no-untyped-def]
    _, _, (item_id, _) = tenant_items
    problem(post_feedback(client, auth, item_id, [2, 4], "yin2"), 422, "1 syllables for 2 characters")
    problem(post_feedback(client, auth, item_id, [2, 4], "yin2 hang9"), 422, "pinyin")
    problem(post_feedback(client, auth, item_id, [8, 14], "SH AW9 M IY0"), 422, "ARPAbet")
    problem(post_feedback(client, auth, item_id, [8, 14], "show me"), 422, "~")
    problem(post_feedback(client, auth, item_id, [4, 4]), 422, "non-empty")
    problem(post_feedback(client, auth, item_id, [10, 99]), 422, "within")
    problem(post_feedback(client, auth, item_id, [6, 9]), 422, "mixes Chinese")
    problem(post_feedback(client, auth, item_id, "2-4"), 422, "span")  # type: ignore[arg-type]
    problem(post_feedback(client, auth, str(uuid.uuid4()), [2, 4]), 404, "no item")
    problem(client.post("/v1/feedback", headers=auth, data="x"), 415)
    _, _, (queued,) = rendered_items(sessions, tenant_key[0], ["银行"], status="queued")
    problem(post_feedback(client, auth, queued, [0, 2], "yin2 hang2"), 409, "rendered")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Feedback).where(Feedback.tenant_id == tenant_key[0])) == 0


def test_accepting_a_reading_adds_a_lexicon_entry_in_a_new_version(client, auth, sessions, tenant_key, tenant_items) -> None:  # type: ignore[no-untyped-def]
    _, _, (item_id, _) = tenant_items
    r = post_feedback(client, auth, item_id, [2, 4], "yin2 xing2", note="not a bank here")
    assert r.status_code == 201, r.text
    fb = r.get_json()
    assert fb["word"] == "银行" and fb["language"] == "zh" and fb["state"] == "open"
    r = client.post(f"/v1/feedback/{fb['id']}/accept", headers=auth, json={"reading": "yin2 hang2"})
    assert r.status_code == 200, r.text
    accepted = r.get_json()
    assert accepted["state"] == "applied" and accepted["reading"] == "yin2 hang2" and accepted["lexicon_entry_id"]
    lex = client.get("/v1/lexicon", headers=auth).get_json()
    assert lex["version"] == 1
    assert [(e["word"], e["reading"], e["id"]) for e in lex["entries"]] == [
        ("银行", "yin2 hang2", accepted["lexicon_entry_id"])]
    problem(client.post(f"/v1/feedback/{fb['id']}/accept", headers=auth), 409, "applied")
    problem(client.post(f"/v1/feedback/{fb['id']}/reject", headers=auth), 409)
    r = client.post(f"/v1/feedback/{fb['id']}/verify", headers=auth)
    assert r.status_code == 200 and r.get_json()["state"] == "verified"
    with sessions() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.target_id == fb["id"])))
    assert {"feedback.created", "feedback.accepted", "feedback.applied", "feedback.verified"} <= actions


def test_accept_without_a_reading_and_reject(client, auth, tenant_items) -> None:  # type: ignore[no-untyped-def]
    _, _, (item_id, _) = tenant_items
    plain = post_feedback(client, auth, item_id, [8, 14]).get_json()
    r = client.post(f"/v1/feedback/{plain['id']}/accept", headers=auth)
    assert r.status_code == 200 and r.get_json()["state"] == "accepted" and r.get_json()["lexicon_entry_id"] is None
    problem(client.post(f"/v1/feedback/{plain['id']}/accept", headers=auth, json={"reading": "SH AW1"}), 409)
    other = post_feedback(client, auth, item_id, [8, 14], "~show me").get_json()
    assert other["reading"] == "~show me"
    problem(client.post(f"/v1/feedback/{other['id']}/accept", headers=auth, json={"reading": "yin2"}), 422)
    r = client.post(f"/v1/feedback/{other['id']}/reject", headers=auth, json={"note": "it is right"})
    assert r.status_code == 200 and r.get_json()["state"] == "rejected"
    assert client.get("/v1/lexicon", headers=auth).get_json()["entries"] == []


def test_filters_and_paging(client, auth, sessions, tenant_key, tenant_items) -> None:  # type: ignore[no-untyped-def]
    voice_id, batch_id, (first, second) = tenant_items
    other_voice, other_batch, (third,) = rendered_items(sessions, tenant_key[0], ["银行关门了。"])
    ids = [post_feedback(client, auth, first, [2, 4], "yin2 hang2").get_json()["id"],
           post_feedback(client, auth, second, [0, 4], "N AY1 K IY0").get_json()["id"],
           post_feedback(client, auth, third, [0, 2]).get_json()["id"]]
    client.post(f"/v1/feedback/{ids[2]}/reject", headers=auth)

    def listed(query: str) -> list[str]:
        r = client.get(f"/v1/feedback?{query}", headers=auth)
        assert r.status_code == 200, r.text
        return [f["id"] for f in r.get_json()["feedback"]]

    assert listed("") == ids
    assert listed(f"voice_id={voice_id}") == ids[:2] and listed(f"voice_id={other_voice}") == ids[2:]
    assert listed(f"batch_id={batch_id}") == ids[:2] and listed(f"batch_id={other_batch}") == ids[2:]
    assert listed("word=银行") == [ids[0], ids[2]] and listed("word=Nike") == [ids[1]]
    assert listed("state=rejected") == [ids[2]] and listed("state=open") == ids[:2]
    page = client.get("/v1/feedback?limit=2", headers=auth).get_json()
    assert [f["id"] for f in page["feedback"]] == ids[:2] and page["next_cursor"] == 2
    assert listed("limit=2&cursor=2") == ids[2:]
    problem(client.get("/v1/feedback?state=done", headers=auth), 422, "state")
    assert client.get(f"/v1/feedback/{ids[1]}", headers=auth).get_json()["word"] == "Nike"


def test_tenants_see_only_their_own_feedback_and_lexicon(client, auth, sessions, tenant_items) -> None:  # type: ignore[no-untyped-def]
    _, _, (item_id, _) = tenant_items
    fb = post_feedback(client, auth, item_id, [2, 4], "yin2 hang2").get_json()
    client.post("/v1/lexicon", headers=auth, json={"word": "Nike", "reading": "N AY1 K IY0"})
    with sessions.begin() as s:
        other = create_tenant(s, f"other-{uuid.uuid4().hex[:8]}")
        _, secret = create_key(s, other, "write")
    them = {"Authorization": f"Bearer {secret}"}
    problem(post_feedback(client, them, item_id, [2, 4]), 404)
    problem(client.get(f"/v1/feedback/{fb['id']}", headers=them), 404)
    problem(client.post(f"/v1/feedback/{fb['id']}/accept", headers=them), 404)
    assert client.get("/v1/feedback", headers=them).get_json()["feedback"] == []
    assert client.get("/v1/lexicon", headers=them).get_json() == {"version": 0, "total": 0, "entries": [],
                                                                   "next_cursor": None}
    entry_id = client.get("/v1/lexicon", headers=auth).get_json()["entries"][0]["id"]
    problem(client.delete(f"/v1/lexicon/{entry_id}", headers=them), 404)
    assert client.get(f"/v1/feedback/{fb['id']}", headers=auth).get_json()["state"] == "open"


def test_lexicon_entries_versions_and_search(client, auth, tenant_items) -> None:  # type: ignore[no-untyped-def]
    voice_id, _, _ = tenant_items
    r = client.post("/v1/lexicon", headers=auth, json={"word": "银行", "reading": "yin2 hang2"})
    assert r.status_code == 201 and r.get_json()["version"] == 1
    assert client.post("/v1/lexicon", headers=auth, json={"word": "银行", "reading": "yin2 hang2"}).status_code == 200
    r = client.post("/v1/lexicon", headers=auth, json={"word": "银行", "reading": "yin2 xing2", "voice_id": voice_id})
    assert r.status_code == 201 and r.get_json()["version"] == 2
    r = client.post("/v1/lexicon", headers=auth, json={"word": "银行", "reading": "yin2 xing2"})  # replaces v1's
    assert r.get_json()["version"] == 3
    problem(client.post("/v1/lexicon", headers=auth, json={"word": "银行", "reading": "yin2"}), 422, "syllables")
    problem(client.post("/v1/lexicon", headers=auth, json={"word": "Nike", "reading": "N AY1", "language": "zh"}),
            422, "English")
    problem(client.post("/v1/lexicon", headers=auth, json={"word": "Nike", "reading": "N AY1 K IY0",
                                                           "voice_id": str(uuid.uuid4())}), 404, "voice")
    nike = client.post("/v1/lexicon", headers=auth, json={"word": "Nike", "reading": "N AY1 K IY0"}).get_json()
    assert nike["version"] == 4
    r = client.delete(f"/v1/lexicon/{nike['entry']['id']}", headers=auth)
    assert r.status_code == 200 and r.get_json()["version"] == 5
    problem(client.delete(f"/v1/lexicon/{nike['entry']['id']}", headers=auth), 404, "deleted")
    current = client.get("/v1/lexicon", headers=auth).get_json()
    assert current["version"] == 5 and sorted((e["reading"], e["voice_id"] or "") for e in current["entries"]) == [
        ("yin2 xing2", ""), ("yin2 xing2", voice_id)]
    v1 = client.get("/v1/lexicon?version=1", headers=auth).get_json()
    assert [(e["word"], e["reading"]) for e in v1["entries"]] == [("银行", "yin2 hang2")]
    assert [e["word"] for e in client.get("/v1/lexicon?version=4&q=nik", headers=auth).get_json()["entries"]] == ["Nike"]
    assert client.get("/v1/lexicon?q=xing2", headers=auth).get_json()["total"] == 2
    problem(client.get("/v1/lexicon?version=9", headers=auth), 404, "newest is 5")
    versions = client.get("/v1/lexicon/versions", headers=auth).get_json()["versions"]
    assert [v["version"] for v in versions] == [5, 4, 3, 2, 1]
    assert "deleted Nike" in versions[0]["summary"] and "replaced 银行" in versions[2]["summary"]


def test_csv_import_export_round_trip_and_bad_lines(client, auth, sessions, tenant_key, tenant_items) -> None:  # type: ignore[no-untyped-def]
    voice_id, _, _ = tenant_items
    csv_text = ("word,reading,language,voice_id\n银行,yin2 hang2,zh,\nXiaomi,SH AW1 M IY0,en,\n"
                f"行长,hang2 zhang3,,{voice_id}\nNike,~nykee,,\n")
    r = client.post("/v1/lexicon/import", headers=auth,
                    data={"file": (io.BytesIO(csv_text.encode()), "lexicon.csv")})
    assert r.status_code == 200, r.text
    assert r.get_json() == {"version": 1, "changed": True, "added": 4, "replaced": 0, "unchanged": 0}
    exported = client.get("/v1/lexicon/export", headers=auth)
    assert exported.mimetype == "text/csv" and exported.headers["X-Lexicon-Version"] == "1"
    lines = exported.get_data(as_text=True).splitlines()
    assert lines[0] == "word,reading,language,voice_id" and len(lines) == 5
    assert f"行长,hang2 zhang3,zh,{voice_id}" in lines
    # The export imports again as no change at all: no new version.
    r = client.post("/v1/lexicon/import", headers={**auth, "Content-Type": "text/csv"}, data=exported.get_data())
    assert r.get_json() == {"version": 1, "changed": False, "added": 0, "replaced": 0, "unchanged": 4}

    bad = (f"word,reading,language,voice_id\n银行,yin2 xing2,,\n银行,yin2,,\nXiaomi,SHOW ME,,\n"
           f"好,hao3,,{uuid.uuid4()}\nok,~okay,,\n")
    r = client.post("/v1/lexicon/import", headers={**auth, "Content-Type": "text/csv"}, data=bad.encode())
    body = problem(r, 422, "line 3", "line 4", "line 5", "nothing was imported")
    assert [e["line"] for e in body["errors"]] == [3, 4, 5]
    problem(client.post("/v1/lexicon/import", headers={**auth, "Content-Type": "text/csv"}, data=b"a,b\n1,2\n"),
            422, "header")
    with sessions() as s:
        assert s.scalar(select(func.max(LexiconVersion.version)).where(LexiconVersion.tenant_id == tenant_key[0])) == 1
    assert client.get("/v1/lexicon/export", headers=auth).get_data() == exported.get_data()


# --- end to end, with the real worker -----------------------------------------------------


@pytest.mark.slow
def test_feedback_fixes_the_next_render(api_url, worker_process, auth, sessions, stock_voice) -> None:  # type: ignore[no-untyped-def]
    text = "请到银行办理。"  # 银行 = [2, 4]; the frontend reads it yin2 hang2

    def render() -> dict:
        (item,) = render_batch(api_url, auth, stock_voice, [text], timeout=300)
        assert item["status"] in ("succeeded", "needs_review"), item
        with sessions() as s:
            row = s.get(Item, item["id"])
            return {"id": row.id, "readings": row.readings, "lexicon_version": row.lexicon_version,
                    "content_hash": row.content_hash, "reused": row.reused}

    first = render()
    assert first["readings"]["pinyin"].split()[2:4] == ["yin2", "hang2"] and first["lexicon_version"] == 0
    r = requests.post(f"{api_url}/v1/feedback", headers=auth, timeout=10,
                      json={"item_id": first["id"], "span": [2, 4], "reading": "yin2 xing2", "reviewer": "ana"})
    assert r.status_code == 201, r.text
    fb = r.json()
    r = requests.post(f"{api_url}/v1/feedback/{fb['id']}/accept", headers=auth, timeout=10)
    assert r.status_code == 200 and r.json()["state"] == "applied", r.text

    second = render()
    assert second["readings"]["pinyin"].split()[2:4] == ["yin2", "xing2"]
    assert second["lexicon_version"] == 1 and not second["reused"]
    assert second["content_hash"] != first["content_hash"]
    assert [f["entry_id"] for f in second["readings"]["forced"]] == [r.json()["lexicon_entry_id"]]
    state = requests.get(f"{api_url}/v1/feedback/{fb['id']}", headers=auth, timeout=10).json()["state"]
    assert state == "verified"


def test_every_feedback_and_lexicon_route_is_in_the_openapi_document(app, client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/v1/openapi.json").get_json()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/v1/feedback", "/v1/lexicon")):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <uuid:entry_id> → {entry_id}
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in spec["paths"][path], (method, path)


def test_a_batch_with_a_bad_inline_override_is_refused_before_anything_is_stored(  # type: ignore[no-untyped-def]
        client, auth, sessions, tenant_key, tenant_items) -> None:
    voice_id, _, _ = tenant_items
    for text, reason in (("去{银行|yin2}取钱", "1 syllables for 2 characters"),
                         ("Buy a {Xiaomi|show me} phone", "respelling after '~'")):
        r = client.post("/v1/batches", headers=auth, json={"voice_id": voice_id, "items": [{"text": text}]})
        problem(r, 422, "items[0].text", reason)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch).where(Batch.tenant_id == tenant_key[0])) == 1
