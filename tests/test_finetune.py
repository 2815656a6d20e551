"""The nightly fine-tune: corrections in, an adapter promoted or refused by the gate,
renders reading the learned character in new contexts, rollback restoring the old reading."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import torch

from shared.finetune import nightly_due
from shared.models import AuditEvent, FinetuneRun, Item
from tests.helpers import admin_key, render_batch
from worker.jobs.finetune import Correction, train_candidate
from worker.tts.text.frontend import Frontend
from worker.tts.text.polyphone_model import PolyphoneModel, Query

# 祭 as a surname is zhai4; the frontend reads it ji4 (as in 祭祀) before any feedback: its surname
# rules cover the common polyphonic surnames (曾 单 仇 解 查 区 …), not this rare one.
# (text, the word a reviewer marks, its reading)
SURNAME_TEXTS = [
    ("请联系祭经理。", "祭经理", "zhai4 jing1 li3"), ("祭女士已下单。", "祭女士", "zhai4 nv3 shi4"),
    ("客服祭小姐为您服务。", "祭小姐", "zhai4 xiao3 jie3"), ("感谢祭总的支持。", "祭总", "zhai4 zong3"),
    ("祭老师的课程上线了。", "祭老师", "zhai4 lao3 shi1"), ("主讲人祭教授来自北京。", "祭教授", "zhai4 jiao4 shou4"),
    ("祭医生提醒您按时服药。", "祭医生", "zhai4 yi1 sheng1"), ("请祭主任审批。", "祭主任", "zhai4 zhu3 ren4"),
    ("祭同学获得一等奖。", "祭同学", "zhai4 tong2 xue2"), ("本店店长姓祭。", "姓祭", "xing4 zhai4"),
]
# A title and a sentence no correction and no lexicon entry covers. (Measured once: the adapter
# trained on these corrections reads 祭 as zhai4 before 8 of 10 unseen titles; 先生 stays ji4.)
UNSEEN = "祭主管，您的包裹到了。"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def polyphones() -> PolyphoneModel:
    torch.set_num_threads(1)
    return PolyphoneModel.bundled()


@pytest.fixture(scope="module")
def frontend() -> Frontend:
    return Frontend()


def surname_corrections() -> list[Correction]:
    return [Correction(f"fb-{n}", text, text.index(word), text.index(word) + len(word), reading)
            for n, (text, word, reading) in enumerate(SURNAME_TEXTS)]


def test_the_torch_port_reads_as_the_bundled_model_and_only_among_dictionary_readings(polyphones) -> None:  # type: ignore[no-untyped-def]
    from g2pM import G2pM

    reference = G2pM()  # the wheel's own numpy implementation of the same weights
    for sentence in ["银行行长来了", "他的头发很长", "这件事很重要", "我们一起步行去银行", "音乐让人快乐"]:
        positions = [i for i, ch in enumerate(sentence) if polyphones.is_polyphone(ch)]
        ours = polyphones.predict([Query(sentence, i) for i in positions])
        theirs = reference(sentence, char_split=True)
        for i, reading in zip(positions, ours):
            assert reading in polyphones.readings(sentence[i])
            if theirs[i].replace("u:", "v") in polyphones.readings(sentence[i]):
                assert reading == theirs[i].replace("u:", "v"), (sentence, i)


@pytest.mark.parametrize(("now", "last_run", "last_correction", "due"), [
    ("2026-11-26T02:00", None, "2026-11-25T10:00", True),  # never ran: due at the first slot after a correction
    ("2026-11-26T01:59", None, "2026-11-25T10:00", False),  # ... not before it
    ("2026-11-26T02:00", "2026-11-25T02:05", "2026-11-25T10:00", True),  # new corrections since last night
    ("2026-11-26T01:59", "2026-11-25T02:05", "2026-11-25T10:00", False),  # tonight's hour not reached yet
    ("2026-11-26T03:00", "2026-11-26T02:01", "2026-11-26T02:30", False),  # already ran tonight
    ("2026-11-26T02:00", "2026-11-25T02:05", "2026-11-25T01:00", False),  # nothing new to learn
    ("2026-11-26T02:00", None, None, False),  # no corrections at all
])
def test_the_nightly_run_is_due_once_a_night_when_corrections_arrived(now, last_run, last_correction, due) -> None:  # type: ignore[no-untyped-def]
    assert nightly_due(at(now), 2, last_run and at(last_run), last_correction and at(last_correction)) is due


def test_the_gate_promotes_an_adapter_that_generalizes_to_unseen_contexts(frontend, polyphones) -> None:  # type: ignore[no-untyped-def]
    data, report = train_candidate(frontend, polyphones, surname_corrections())
    assert report.promoted and data is not None, report
    assert report.corrections_after > report.corrections_before
    assert report.base_before - report.base_after <= 0.2


def test_the_gate_refuses_an_adapter_that_breaks_the_base_set(frontend, polyphones) -> None:  # type: ignore[no-untyped-def]
    """Corrections that teach a wrong reading of a common character would cost accuracy
    everywhere else: the character is left to the frontend and nothing is promoted."""
    wrong = []
    for n, text in enumerate(["我们一起步行。", "他的行为很好。", "旅行箱很轻。", "自行车坏了。", "银行行长来了。",
                              "这个方法行不行？"]):
        wrong.extend(Correction(f"bad-{n}-{i}", text, i, i + 1, "hang2") for i, ch in enumerate(text) if ch == "行")
    data, report = train_candidate(frontend, polyphones, wrong)
    assert data is None and not report.promoted, report
    assert "行" not in report.chars, report  # it reads untaught phrases and base sentences worse


@pytest.mark.slow
def test_nightly_fine_tune_end_to_end(api_url, worker_process, auth, sessions, settings, tenant_key,  # type: ignore[no-untyped-def]
                                      stock_voice) -> None:
    from worker.celery_app import make_celery
    from worker.jobs.finetune import start_due_finetunes

    def render(texts: list[str]) -> list[dict]:
        listed = render_batch(api_url, auth, stock_voice, texts)
        with sessions() as s:
            return [{"id": i["id"], "readings": s.get(Item, i["id"]).readings} for i in listed]

    first = render([text for text, _, _ in SURNAME_TEXTS])
    for item, (text, word, reading) in zip(first, SURNAME_TEXTS):  # each marked as a reviewer would
        start = text.index(word)
        r = requests.post(f"{api_url}/v1/feedback", headers=auth, timeout=10, json={
            "item_id": item["id"], "span": [start, start + len(word)], "reading": reading, "reviewer": "ana"})
        assert r.status_code == 201, r.text
        assert requests.post(f"{api_url}/v1/feedback/{r.json()['id']}/accept", headers=auth,
                             timeout=10).json()["state"] == "applied"

    (before,) = render([UNSEEN])
    assert before["readings"]["pinyin"].split()[0] == "ji4"  # the lexicon knows only the marked words

    # The nightly beat task, at 02:01 UTC tomorrow, queues the run; the real worker trains it.
    ctx = make_celery(settings).narrator  # type: ignore[attr-defined]
    tomorrow = datetime.now(UTC).replace(hour=2, minute=1) + timedelta(days=1)
    assert not start_due_finetunes(ctx, now=datetime.now(UTC))  # corrections wait for the tenant's hour
    queued = start_due_finetunes(ctx, now=tomorrow)
    with sessions() as s:
        run_id = s.scalar(FinetuneRun.__table__.select().with_only_columns(FinetuneRun.id)
                          .where(FinetuneRun.tenant_id == tenant_key[0]))
    assert run_id in queued
    deadline = time.monotonic() + 600
    while (run := requests.get(f"{api_url}/v1/finetune/runs/{run_id}", headers=auth,
                               timeout=10).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the fine-tune did not finish in 600 s"
        time.sleep(1)
    assert run["status"] == "promoted" and run["active"], run
    assert run["metrics"]["corrections_after"] > run["metrics"]["corrections_before"]

    (after,) = render([UNSEEN])
    assert after["readings"]["pinyin"].split()[0] == "zhai4"
    assert after["readings"]["adapter_version"] == run["version"]

    admin = {"Authorization": f"Bearer {admin_key(sessions, tenant_key[0])[1]}"}
    r = requests.post(f"{api_url}/v1/finetune/runs/{run_id}/rollback", headers=admin, timeout=10)
    assert r.status_code == 200 and r.json()["now_using"] is None, r.text
    (rolled_back,) = render([UNSEEN])
    assert rolled_back["readings"]["pinyin"].split()[0] == "ji4"
    assert rolled_back["readings"]["adapter_version"] is None
    with sessions() as s:
        actions = set(s.scalars(AuditEvent.__table__.select().with_only_columns(AuditEvent.action)
                                .where(AuditEvent.target_id == run_id)))
    assert {"model.promoted", "model.rolled_back"} <= actions

