"""Webhook deliveries a job's transaction wrote, sent once it has committed."""

from __future__ import annotations

from shared.dispatch import DELIVER_WEBHOOK
from worker.context import WorkerContext


def send_webhooks(ctx: WorkerContext, delivery_ids: list[str]) -> None:
    """Enqueue deliveries whose rows just committed (the sweeper covers a lost message)."""
    for delivery_id in delivery_ids:
        ctx.queue.send(DELIVER_WEBHOOK, delivery_id)
