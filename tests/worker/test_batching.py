"""Big batches in ``worker.jobs.plan`` and ``worker.jobs.window``, in-process against PostgreSQL and the S3 server:
a streamed source read into items (bad lines failing alone), the dispatch window,
and the manifest and ZIP a finished batch leaves in storage. No model is loaded."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared import storage_keys
from shared.models import Batch, Item, ItemStatus, Voice, VoiceStatus, new_id, utcnow
from shared.services import create_batch, create_sourced_batch, finish_batch_if_done
from shared.tenants import create_tenant
from worker.context import WorkerContext
from worker.jobs import finish, plan, sweep, window


@pytest.fixture(scope="module")
def ctx(settings) -> WorkerContext:  # type: ignore[no-untyped-def]
    return WorkerContext(settings.with_(batch_window=5, interactive_max_items=3))


@pytest.fixture
def tenant_voice(ctx: WorkerContext) -> tuple[str, str]:
    """A tenant with one ready voice and one pending voice: (tenant_id, ready voice id)."""
    with ctx.sessions.begin() as s:
        tenant_id = create_tenant(s, f"batching-{uuid.uuid4().hex[:8]}").id
        ready = Voice(tenant_id=tenant_id, name="ready", language="zh", status=VoiceStatus.ready.value)
        s.add(ready)
        s.flush()
        return tenant_id, ready.id


def sourced(ctx: WorkerContext, tenant_id: str, body: bytes, fmt: str, **params: object) -> str:
    batch_id = new_id()
    key = storage_keys.batch_source_key(tenant_id, batch_id, fmt)
    ctx.storage.put_file(key, io.BytesIO(body))
    with ctx.sessions.begin() as s:
        create_sourced_batch(s, tenant_id, batch_id, key, fmt, "t", {"speed": 1.0, **params}, "test", 0)
    return batch_id


def items_of(ctx: WorkerContext, batch_id: str) -> list[Item]:
    with ctx.sessions() as s:
        return list(s.scalars(select(Item).where(Item.batch_id == batch_id).order_by(Item.seq)))


def test_a_csv_source_is_planned_line_by_line_and_bad_lines_fail_alone(ctx, tenant_voice) -> None:  # type: ignore[no-untyped-def]
    tenant_id, voice_id = tenant_voice
    with ctx.sessions.begin() as s:
        pending = Voice(tenant_id=tenant_id, name="p", language="zh", status=VoiceStatus.pending.value)
        s.add(pending)
        s.flush()
        pending_id = pending.id
    long_text = "长" * (ctx.settings.max_text_chars + 1)
    body = ("\ufeffid,text,voice_id\n"
            "a,第一条。,\n"
            "b,,\n"                                  # no text
            f"c,第三条。,{pending_id}\n"              # voice not ready
            "d,第四条。,nope\n"                        # unknown voice
            f"e,{long_text},\n"                       # too long
            "\n"                                      # blank: skipped, not an item
            'f,"有逗号，也有""引号""。",\n'
            "g,多,出,来,的字段\n").encode()
    body += b"h,\xff\xfe broken,\n"                   # not UTF-8
    sent: list[tuple[str, str]] = []
    batch_id = sourced(ctx, tenant_id, body, "csv", voice_id=voice_id)
    assert plan.plan_batch(ctx, batch_id, lambda item_id, queue: sent.append((item_id, queue))) == 2

    items = items_of(ctx, batch_id)
    assert [it.external_id for it in items] == list("abcdefgh")
    by_id = {it.external_id: it for it in items}
    assert by_id["a"].status == by_id["f"].status == ItemStatus.queued.value
    assert by_id["f"].text == '有逗号，也有"引号"。' and by_id["a"].voice_id == voice_id
    reasons = {k: by_id[k].error for k in "bcdegh"}
    assert all(by_id[k].status == ItemStatus.failed.value for k in reasons)
    assert "line 3" in reasons["b"] and "'text' is required" in reasons["b"]
    assert "not ready" in reasons["c"] and "not found" in reasons["d"] and "longer than" in reasons["e"]
    assert "fields" in reasons["g"] and "UTF-8" in reasons["h"]
    with ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None and batch.status == "running" and batch.total == 8
    assert [q for _, q in sent] == ["synth", "synth"]  # 8 items > interactive_max_items


def test_jsonl_source_and_the_dispatch_window(ctx, tenant_voice) -> None:  # type: ignore[no-untyped-def]
    tenant_id, voice_id = tenant_voice
    lines = [json.dumps({"text": f"第{n}条。", "id": f"x{n}"}, ensure_ascii=False) for n in range(12)]
    lines.insert(4, "{not json")
    lines.insert(7, "[1, 2]")
    batch_id = sourced(ctx, tenant_id, ("\n".join(lines) + "\n").encode(), "jsonl", voice_id=voice_id)
    sent: list[str] = []
    assert plan.plan_batch(ctx, batch_id, lambda item_id, queue: sent.append(item_id)) == 5  # the window
    items = items_of(ctx, batch_id)
    assert len(items) == 14 and sum(it.status == "failed" for it in items) == 2
    assert "line 5" in items[4].error and "not JSON" in items[4].error
    assert [it.id for it in items if it.status == "queued"][:5] == sent
    # A full window sends nothing more; each finished item lets exactly one more through.
    assert window.dispatch_window(ctx, batch_id, lambda i, q: sent.append(i)) == 0
    finish.finish_item(ctx, sent[0], ItemStatus.failed, error="test: finished")
    finish.finish_item(ctx, sent[1], ItemStatus.failed, error="test: finished")
    assert window.dispatch_window(ctx, batch_id, lambda i, q: sent.append(i)) == 2
    assert len(sent) == len(set(sent)) == 7


def test_the_manifest_and_zip_of_a_finished_batch(ctx, tenant_voice) -> None:  # type: ignore[no-untyped-def]
    tenant_id, voice_id = tenant_voice
    body = "text,id\n一。,a\n二。,b\n,c\n".encode()
    batch_id = sourced(ctx, tenant_id, body, "csv", voice_id=voice_id, zip=True)
    plan.plan_batch(ctx, batch_id, lambda item_id, queue: None)
    items = items_of(ctx, batch_id)
    for it in items[:2]:
        key = storage_keys.item_key(tenant_id, batch_id, it.seq)
        ctx.storage.put(key, f"RIFF{it.seq}".encode(), "audio/wav")
        with ctx.sessions.begin() as s:
            row = s.get(Item, it.id)
            assert row is not None
            row.status, row.storage_key, row.finished_at, row.checksum = "succeeded", key, utcnow(), "c"
    finish_batch_if_done(ctx.sessions, ctx.storage, batch_id)
    with ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None and batch.status == "partial" and batch.manifest_key and batch.zip_key
        manifest_key, zip_key = batch.manifest_key, batch.zip_key
    manifest = [json.loads(line) for line in ctx.storage.get(manifest_key).decode().splitlines()]
    assert [(m["external_id"], m["status"]) for m in manifest] == [("a", "succeeded"), ("b", "succeeded"),
                                                                   ("c", "failed")]
    assert {"item_id", "text", "storage_key", "duration_s", "checksum", "voice_version_id", "error"} <= set(manifest[0])
    with zipfile.ZipFile(io.BytesIO(ctx.storage.get(zip_key))) as zf:
        assert sorted(zf.namelist()) == ["audio/000000.wav", "audio/000001.wav", "manifest.jsonl"]
        assert zf.read("audio/000001.wav") == b"RIFF1"
        assert zf.read("manifest.jsonl") == ctx.storage.get(manifest_key)


class PlannerDied(Exception):
    """Raised from a chunk callback: the planning task's process ends right after a commit."""


def test_a_batch_whose_planner_died_mid_source_is_planned_again_without_duplicates(ctx, tenant_voice) -> None:  # type: ignore[no-untyped-def]
    tenant_id, voice_id = tenant_voice
    body = ("text\n" + "".join(f"第{n}条。\n" for n in range(2 * plan.PLAN_CHUNK + 500))).encode()
    batch_id = sourced(ctx, tenant_id, body, "csv", voice_id=voice_id)

    def die() -> None:
        raise PlannerDied

    with pytest.raises(PlannerDied):
        plan.ingest_source(ctx, batch_id, on_chunk=die)
    assert len(items_of(ctx, batch_id)) == plan.PLAN_CHUNK
    # The session's database holds other tests' batches too: only this batch's fate is pinned.
    sent: list[tuple[str, str]] = []
    sweep.replan_stalled(ctx, lambda b, q: sent.append((b, q)))
    assert batch_id not in {b for b, _ in sent}  # its heartbeat is fresh
    with ctx.sessions.begin() as s:
        s.get(Batch, batch_id).planner_seen_at = utcnow() - timedelta(seconds=ctx.settings.plan_lease_seconds + 1)  # type: ignore[union-attr]
    sent.clear()
    sweep.replan_stalled(ctx, lambda b, q: sent.append((b, q)))
    assert (batch_id, "synth") in sent
    sent.clear()
    sweep.replan_stalled(ctx, lambda b, q: sent.append((b, q)))
    assert batch_id not in {b for b, _ in sent}  # the new planner gets a whole lease

    plan.plan_batch(ctx, batch_id, lambda item_id, queue: None)  # the re-sent message
    # The first planner was only slow, after all: its chunk is found stored and skipped.
    first = [{"text": "重复。", "voice_id": voice_id}] * plan.PLAN_CHUNK
    assert plan._store_chunk(ctx, batch_id, tenant_id, 0, first)
    items = items_of(ctx, batch_id)
    assert [it.seq for it in items] == list(range(2 * plan.PLAN_CHUNK + 500))
    assert items[0].text == "第0条。" and items[-1].text == f"第{2 * plan.PLAN_CHUNK + 499}条。"
    with ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None and batch.status == "running" and batch.total == len(items)


def test_a_small_batch_whose_plan_message_was_lost_is_sent_again_to_its_queue(ctx, tenant_voice) -> None:  # type: ignore[no-untyped-def]
    tenant_id, voice_id = tenant_voice
    with ctx.sessions.begin() as s:
        batch_id = create_batch(s, tenant_id, [{"text": "一。", "voice_id": voice_id}], "t", {}, "test")
        s.get(Batch, batch_id).created_at = utcnow() - timedelta(seconds=ctx.settings.plan_lease_seconds + 1)  # type: ignore[union-attr]
    sent: list[tuple[str, str]] = []
    sweep.replan_stalled(ctx, lambda b, q: sent.append((b, q)))
    assert (batch_id, "interactive") in sent
    plan.plan_batch(ctx, batch_id, lambda item_id, queue: None)
    with ctx.sessions() as s:
        assert s.get(Batch, batch_id).status == "running"  # type: ignore[union-attr]
