"""``WorkerContext.defer``: an item's settling and window top-up run off the task's path in a
worker, in order, and now in embedded mode."""

from __future__ import annotations

import logging
import threading

from shared import logs
from shared.settings import Settings
from worker.context import WorkerContext


def test_deferred_work_runs_in_order_on_the_background_thread_and_drain_waits_for_it(settings: Settings) -> None:
    ctx = WorkerContext(settings)
    release = threading.Event()
    ran: list[tuple[str, str]] = []
    ctx.defer(lambda: (release.wait(10), ran.append(("first", threading.current_thread().name))))
    ctx.defer(lambda: ran.append(("second", threading.current_thread().name)))
    assert ran == [], "the caller does not wait for deferred work"
    release.set()
    ctx.drain()
    assert [what for what, _ in ran] == ["first", "second"]
    assert all(thread.startswith("after-item") for _, thread in ran)


def test_a_failure_is_logged_with_the_tasks_context_and_later_work_still_runs(  # type: ignore[no-untyped-def]
        settings: Settings, caplog) -> None:
    ctx = WorkerContext(settings)
    ran: list[str] = []

    def broken() -> None:
        ran.append(logs.current_ids().get("item_id", "none"))
        raise RuntimeError("storage said no")

    caplog.set_level(logging.ERROR, logger="worker.context")
    with logs.log_context(item_id="item-7"):
        ctx.defer(broken)
    ctx.defer(lambda: ran.append("next"))
    ctx.drain()
    assert ran == ["item-7", "next"]
    (record,) = [r for r in caplog.records if r.name == "worker.context"]
    assert "a sweeper will redo it" in record.getMessage() and "storage said no" in (record.exc_text or "")


def test_embedded_mode_runs_deferred_work_now(settings: Settings) -> None:
    ctx = WorkerContext(settings.with_(broker_url=""))
    ran: list[str] = []
    ctx.defer(lambda: ran.append(threading.current_thread().name))
    assert ran == [threading.current_thread().name]
