"""Sending work: the task names and queues the API and the worker agree on, and ``TaskQueue``,
the one object that sends a task and knows whether it runs here.

Everything that sends work — a request handler, a job's follow-up, a sweeper, the CLI — holds
a ``TaskQueue`` and calls ``send``. Two kinds exist:

* ``CeleryQueue``: the message goes to the broker, routed by ``ROUTES`` (or the ``queue``
  given), and a worker process runs it.
* ``InProcessQueue``: the embedded mode (no broker). The task runs in the caller, now; a
  delayed send (a retry with a countdown) is not run inline, since it would block the caller,
  and waits for a later sweep. The task callables are handed to it by the worker (``run``):
  ``shared`` never imports the worker.

``runs_inline`` is the one answer to "are we embedded?": a job that keeps a window of items
in the broker, or defers bookkeeping to a background thread, asks its queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from celery import Celery
from kombu import Queue

from shared.settings import Settings

if TYPE_CHECKING:  # numpy and redis: the names here are read by processes that never stream
    from shared.speech_channel import Channels

log = logging.getLogger(__name__)

ENROLL = "narrator.enroll_voice"
VERIFY_CONSENT = "narrator.verify_consent"
PLAN_BATCH = "narrator.plan_batch"
SYNTHESIZE_ITEM = "narrator.synthesize_item"
FINETUNE = "narrator.finetune"
# A speech stream (POST /v1/audio/speech): args (item_id,), always on ``interactive``; its audio
# goes back on the stream's channel (shared.speech_channel), not to the item's batch.
STREAM_SPEECH = "narrator.stream_speech"
START_DUE_FINETUNES = "narrator.start_due_finetunes"
SWEEP = "narrator.sweep_stuck_items"
# Delete a revoked consent's (or a deleted voice's) audio and model state: args (scope, id, keep_outputs)
# where scope is "consent" or "voice". Purges have their own queue and worker: a withdrawal
# must not wait behind (or die with) an enrollment decoding a hostile upload.
PURGE = "narrator.purge_voice"
PURGES = "purge"
# Webhooks: light work (an HTTP POST) on their own queue, so a notification never waits
# behind a render.
DELIVER_WEBHOOK = "narrator.deliver_webhook"
WEBHOOKS = "webhooks"
# Beat's ticks (schedule runs, the webhook sweeper) have a queue of their own, read first by
# the webhooks worker: a flood of deliveries to slow receivers (tenants choose them) cannot
# delay another tenant's scheduled batch by more than one delivery's deadline.
SWEEP_WEBHOOKS = "narrator.sweep_webhooks"
RUN_DUE_SCHEDULES = "narrator.run_due_schedules"
HOUSEKEEPING = "housekeeping"

# ``interactive`` carries previews and small batches: it never holds more than a few items,
# so a worker reading it alongside ``synth`` reaches them within one item's render.
INTERACTIVE = "interactive"
SYNTH = "synth"
QUEUES = ("enroll", SYNTH, "finetune", INTERACTIVE, WEBHOOKS, HOUSEKEEPING, PURGES)

ROUTES = {
    ENROLL: {"queue": "enroll"},
    VERIFY_CONSENT: {"queue": "enroll"},
    PLAN_BATCH: {"queue": SYNTH},
    SYNTHESIZE_ITEM: {"queue": SYNTH},
    STREAM_SPEECH: {"queue": INTERACTIVE},
    FINETUNE: {"queue": "finetune"},
    START_DUE_FINETUNES: {"queue": "finetune"},
    SWEEP: {"queue": SYNTH},
    PURGE: {"queue": PURGES},
    DELIVER_WEBHOOK: {"queue": WEBHOOKS},
    SWEEP_WEBHOOKS: {"queue": HOUSEKEEPING},
    RUN_DUE_SCHEDULES: {"queue": HOUSEKEEPING},
}

Arg = str | bool
# Runs one task by name with its arguments, here and now (the worker's task registry).
RunTask = Callable[[str, Sequence[Arg]], object]
# Builds the queue a process sends through, given the channels its speech streams are read from:
# ``open_queue`` (the broker), or the embedded worker's ``worker.celery_app.in_process_queue``.
QueueFactory = Callable[[Settings, "Channels"], "TaskQueue"]


def synth_queue(batch_total: int, interactive_max_items: int) -> str:
    """Where a batch's items (and its planning) go: small batches and previews to
    ``interactive``, anything larger to ``synth``."""
    return INTERACTIVE if batch_total <= interactive_max_items else SYNTH


class TaskQueue(Protocol):
    """Where work is sent."""

    @property
    def runs_inline(self) -> bool:
        """Whether a sent task has run, in this process, by the time ``send`` returns."""

    def send(self, task: str, *args: Arg, queue: str | None = None, countdown: float | None = None) -> None:
        """Send ``task`` with ``args``; ``queue`` overrides its route, ``countdown`` delays it."""

    def start(self, task: str, *args: Arg, queue: str | None = None) -> None:
        """Send a task whose caller reads its output while it runs (a speech stream):
        the caller must not wait for it to finish."""

    def ping(self) -> str:
        """A readiness probe's word on the broker: ``ok…``; raises when it cannot be reached."""


def celery_conf(settings: Settings) -> dict[str, Any]:
    """What every Celery app of the deployment shares, sender or worker: queues and routes,
    and how messages are read off Redis."""
    return {
        "task_queues": [Queue(name) for name in QUEUES],
        "task_default_queue": SYNTH,
        "task_routes": ROUTES,
        # A worker reading several queues empties them in the order given to --queues
        # (``interactive`` first), instead of round robin: a preview waits for one item at most.
        "broker_transport_options": {"visibility_timeout": settings.broker_visibility_timeout_seconds,
                                     "queue_order_strategy": "priority"},
        "broker_connection_retry_on_startup": True,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
    }


@dataclass
class CeleryQueue:
    """Tasks sent through a Celery app's broker."""

    app: Celery
    runs_inline = False

    def send(self, task: str, *args: Arg, queue: str | None = None, countdown: float | None = None) -> None:
        self.app.send_task(task, args=args, countdown=countdown, **({"queue": queue} if queue else {}))

    def start(self, task: str, *args: Arg, queue: str | None = None) -> None:
        self.send(task, *args, queue=queue)

    def ping(self) -> str:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"


@dataclass
class InProcessQueue:
    """The embedded mode: tasks run in the caller, through ``run`` (the worker's registry)."""

    run: RunTask
    runs_inline = True

    def send(self, task: str, *args: Arg, queue: str | None = None, countdown: float | None = None) -> None:
        if countdown is not None:  # blocking the caller for a retry's delay helps nobody: a sweep redoes it
            log.info("in process: delayed %s%s left for a sweep", task, args)
            return
        self.run(task, args)

    def start(self, task: str, *args: Arg, queue: str | None = None) -> None:
        name = f"{task.removeprefix('narrator.')}-{str(args[0])[:8] if args else ''}"
        threading.Thread(target=self.run, args=(task, args), name=name, daemon=True).start()

    def ping(self) -> str:
        return "ok (embedded, in-process)"


@dataclass
class Unsent:
    """No queue: a context built by a script, a benchmark or a test sends nothing (a webhook
    delivery stays an outbox row that beat's sweeper sends later). ``runs_inline`` says
    how the jobs it is given should behave: as the embedded worker's, or a broker's."""

    runs_inline: bool = False

    def send(self, task: str, *args: Arg, queue: str | None = None, countdown: float | None = None) -> None:
        log.info("no task queue in this context: %s%s not sent", task, args)

    def start(self, task: str, *args: Arg, queue: str | None = None) -> None:
        self.send(task, *args, queue=queue)

    def ping(self) -> str:
        return "ok (nothing is sent)"


def unsent(settings: Settings) -> Unsent:
    """The queue of a context that was given none."""
    return Unsent(runs_inline=settings.embedded)


def celery_client(settings: Settings) -> Celery:
    """A Celery app that only sends (the API's): routed like the worker's, runs nothing."""
    app = Celery("narrator", broker=settings.broker_url)
    app.conf.update(celery_conf(settings))
    return app


def open_queue(settings: Settings, channels: Channels) -> TaskQueue:
    """The broker's queue, for a process that does not render (the API). Embedded there is no
    broker: whoever starts the process hands the API the worker's in-process queue instead
    (``worker.cli.serve.make_api``), since ``shared`` and ``api`` never import the worker."""
    if settings.embedded:
        raise ValueError("the embedded mode (no NARRATOR_BROKER_URL) runs its worker in the API's process: "
                         "start it with `narrator api`, or set NARRATOR_BROKER_URL")
    return CeleryQueue(celery_client(settings))
