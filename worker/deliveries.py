"""How many times each task message was delivered, so one that kills its worker is set aside.

Tasks acknowledge late and a worker lost mid-task gives its message back (``acks_late``,
``reject_on_worker_lost``; the Redis transport redelivers an unacknowledged message after the
visibility timeout). That is what makes a crash lose nothing, and also what made one hostile
message (an upload that decodes to gigabytes) kill every worker that took it, forever.

The count lives in Redis, keyed by the task id: a worker increments it when it starts the
task, and deletes it when the task returns in any way (success, failure, or a retry, which
Celery resends under the same id: Celery calls no ``after_return`` then, so the task's own
``finally`` clears it). Only a worker that died mid-task leaves it behind. A start
that finds the count past ``max_deliveries`` means that many workers died running this
message: the task is not run again; its row is failed with the reason (``worker.tasks``) and
the message is set aside on a Redis list (``DEAD_LETTERS``), newest first, for an operator
to read (``redis-cli LRANGE narrator:dead_letters 0 -1``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

log = logging.getLogger(__name__)

COUNT_KEY = "narrator:deliveries:{task_id}"
DEAD_LETTERS = "narrator:dead_letters"
COUNT_TTL_SECONDS = 7 * 86400  # a count outlives any redelivery; a lost one expires
DEAD_LETTERS_KEPT = 10_000


@dataclass
class Deliveries:
    client: redis.Redis
    max_deliveries: int

    def started(self, task_id: str) -> int:
        """Count one more delivery of ``task_id``; returns the count, this one included, or 0
        when Redis cannot be reached (the task then runs uncounted rather than not at all)."""
        key = COUNT_KEY.format(task_id=task_id)
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, COUNT_TTL_SECONDS)
        try:
            count, _ = pipe.execute()
        except redis.RedisError:
            log.warning("task %s: its delivery could not be counted (Redis unreachable)", task_id, exc_info=True)
            return 0
        return int(count)

    def finished(self, task_id: str) -> None:
        """The task returned: its worker survived it, whatever the outcome. A count left behind
        by an unreachable Redis expires; its message was acknowledged and is not delivered again."""
        try:
            self.client.delete(COUNT_KEY.format(task_id=task_id))
        except redis.RedisError:
            log.warning("task %s: its delivery count could not be cleared (Redis unreachable)", task_id)

    def poisoned(self, count: int) -> bool:
        """Did the ``count - 1`` deliveries before this one all die mid-task, ``max_deliveries`` of them?"""
        return count > self.max_deliveries

    def set_aside(self, task_name: str, task_id: str, args: list[Any], deliveries: int, reason: str) -> None:
        """Record the message on the dead-letter list; it is acknowledged and not run."""
        entry = {"task": task_name, "id": task_id, "args": args, "deliveries": deliveries, "reason": reason,
                 "at": datetime.now(UTC).isoformat()}
        pipe = self.client.pipeline()
        pipe.lpush(DEAD_LETTERS, json.dumps(entry, ensure_ascii=False, default=str))
        pipe.ltrim(DEAD_LETTERS, 0, DEAD_LETTERS_KEPT - 1)
        pipe.delete(COUNT_KEY.format(task_id=task_id))
        pipe.execute()
        log.error("task %s %s set aside after %d deliveries: %s", task_name, task_id, deliveries, reason)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.client.lrange(DEAD_LETTERS, 0, limit - 1)]
