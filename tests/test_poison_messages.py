"""A message that kills its worker is set aside after ``max_deliveries``, not redelivered forever.

Tasks acknowledge late, so the message of a worker killed mid-task goes back to the queue
and the next worker takes it. Before, a message that killed every worker (an upload that
decodes to gigabytes) kept doing so for ever, and since purges shared its queue, consent
revocations stopped for every tenant. Here a real ``narrator worker`` process is SIGKILLed
in the middle of an enrollment, as the out-of-memory killer would, ``max_deliveries`` times;
the next worker to receive the message does not run it: the voice fails with the reason, the
message lands on the dead-letter list, and a consent purge (on its own queue) still runs.

Own Redis (a private ``redis-server``: a short visibility timeout makes the broker redeliver
a killed worker's message within seconds), the session's PostgreSQL and S3 server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from shared import dispatch, storage_keys
from shared.models import Consent, ConsentStatus, Voice
from shared.services import register_voice
from shared.settings import Settings
from shared.storage import open_storage
from shared.tenants import create_tenant
from shared.withdrawal import revoke_consent
from tests.support import devservices
from worker.celery_app import make_celery
from worker.deliveries import COUNT_KEY, DEAD_LETTERS

pytestmark = [pytest.mark.slow, pytest.mark.attack]

ROOT = Path(__file__).resolve().parents[1]
VISIBILITY_SECONDS = 3
MAX_DELIVERIES = 3


def wait_for(fn: Callable[[], Any], timeout: float, what: str, logs: Callable[[], str] = lambda: "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = fn()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")


@pytest.fixture(scope="module")
def poison_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    directory = tmp_path_factory.mktemp("poison-redis")
    with devservices.redis_server(directory) as server:
        yield settings.with_(broker_url=server.url, broker_visibility_timeout_seconds=VISIBILITY_SECONDS,
                             max_deliveries=MAX_DELIVERIES, metrics_port=0)


def test_purges_are_routed_to_their_own_queue(settings: Settings) -> None:
    router = make_celery(settings).amqp.router
    assert router.route({}, dispatch.PURGE)["queue"].name == "purge"
    assert router.route({}, dispatch.ENROLL)["queue"].name == "enroll"


def test_a_message_that_keeps_killing_its_worker_is_set_aside(  # type: ignore[no-untyped-def]
        poison_settings: Settings, sessions, tmp_path: Path) -> None:
    storage = open_storage(poison_settings)
    with sessions.begin() as s:
        tenant_id = create_tenant(s, f"poison-{uuid.uuid4().hex[:8]}").id
        consent = Consent(tenant_id=tenant_id, speaker_name="林小雨", company_name="星光电器", agreement_version="1",
                          agreement_sha256="-", signature="林小雨", statement="-", language="zh",
                          status=ConsentStatus.verified.value)
        s.add(consent)
        s.flush()
        consent.recording_key = storage_keys.consent_recording_key(tenant_id, consent.id)
        storage.put(consent.recording_key, (ROOT / "examples" / "consent.wav").read_bytes(), "audio/wav")
        consent_id = consent.id
        voice_id = register_voice(s, storage, tenant_id, "poison", "zh", (ROOT / "examples" / "reference.wav")
                                  .read_bytes(), "audio/wav", "test", consent_id=consent_id)
    app = make_celery(poison_settings)
    broker = redis.Redis.from_url(poison_settings.broker_url)
    task_id = app.send_task(dispatch.ENROLL, args=[voice_id]).id
    count_key = COUNT_KEY.format(task_id=task_id)
    started: list[devservices.WorkerProcess] = []

    def logs() -> str:
        return "\n".join(f"--- {w.log_path.name}\n{w.log_path.read_text()[-3000:]}" for w in started)

    def worker() -> devservices.WorkerProcess:
        started.append(devservices.start_worker(poison_settings, tmp_path / f"worker-{len(started)}.log",
                                                name=f"poison{len(started)}"))
        return started[-1]

    try:
        for delivery in range(1, MAX_DELIVERIES + 1):
            current = worker()
            wait_for(lambda: int(broker.get(count_key) or 0) == delivery, 120,  # noqa: B023
                     f"delivery {delivery} to start", logs)
            current.proc.kill()  # SIGKILL mid-enrollment: no acknowledgement, no cleanup
            current.proc.wait(30)
            with sessions() as s:
                assert s.get(Voice, voice_id).status == "pending"  # type: ignore[union-attr]
            time.sleep(VISIBILITY_SECONDS + 0.5)  # the broker may hand the message out again

        last = worker()  # delivery MAX_DELIVERIES + 1: refused, not run

        def failed_voice() -> Voice | None:
            with sessions() as s:
                voice = s.get(Voice, voice_id)
                return voice if voice is not None and voice.status == "failed" else None

        voice = wait_for(failed_voice, 120, "the voice to fail", logs)
        assert voice.error.startswith("poison_message: the enroll_voice task stopped its worker on each of "
                                      f"{MAX_DELIVERIES} deliveries"), voice.error
        dead = app.narrator.deliveries.dead_letters()
        assert [(d["task"], d["id"], d["args"], d["deliveries"]) for d in dead] == \
               [(dispatch.ENROLL, task_id, [voice_id], MAX_DELIVERIES)]
        assert broker.get(count_key) is None
        assert broker.llen("enroll") == 0 and broker.hlen("unacked") == 0, "the message is acknowledged"

        # The worker lives on and purges still run, from their own queue.
        with sessions.begin() as s:
            revoke_consent(s, s.get(Consent, consent_id), keep_outputs=False, actor="test")
        app.send_task(dispatch.PURGE, args=["consent", consent_id, False])

        def purged() -> bool:
            with sessions() as s:
                return s.get(Consent, consent_id).purged_at is not None  # type: ignore[union-attr]

        wait_for(purged, 60, "the consent purge", logs)
        assert last.proc.poll() is None
        assert DEAD_LETTERS == "narrator:dead_letters"
    finally:
        for w in started:
            if w.proc.poll() is None:
                w.stop()
