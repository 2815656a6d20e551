"""Webhooks: signed POSTs to a tenant's endpoints when its voices and batches settle.

Outbox pattern: :func:`emit` writes one :class:`WebhookDelivery` row per subscribed
endpoint in the same transaction as the state change it reports, so an event exists if
and only if the change committed. The caller enqueues the returned ids after commit; a
delivery whose message is lost (crash between commit and enqueue, a worker dying
mid-attempt) is found again by :func:`overdue` from the beat sweeper.

Signing: ``Narrator-Signature: t=<ts>,v1=<hex>`` where each ``v1`` is
``HMAC-SHA256(secret, f"{ts}.{body}")`` and ``Narrator-Timestamp: <ts>``. After a secret
rotation, for ``webhook_secret_grace_seconds``, the header carries a ``v1`` for the new
secret and one for the previous, so a receiver may switch secrets at its own pace; it
accepts the request if any ``v1`` matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shared import egress
from shared.egress import AllowList, Resolver
from shared.errors import InvalidInput
from shared.models import (
    Batch,
    BatchStatus,
    DeliveryStatus,
    Voice,
    VoiceStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_id,
    utcnow,
)
from shared.settings import Settings

log = logging.getLogger(__name__)

EVENTS = tuple(e.value for e in WebhookEvent)
SECRET_PREFIX = "whsec_"
USER_AGENT = "narrator-webhooks/1"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(24)


def validate_url(value: Any, allow: AllowList, resolve: Resolver = egress.system_resolver) -> str:
    """An absolute http(s) URL whose host resolves only to public (or allow-listed) addresses.

    A host that does not resolve yet is accepted: nothing can be sent to it, and each delivery
    resolves and checks again (:func:`attempt`), so pointing it inside later does not help."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("'url' is required: the http(s) address that receives the events", field="url")
    url = value.strip()
    if len(url) > 2000:
        raise InvalidInput("'url' is longer than 2000 characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number or out of range)
    except ValueError as exc:
        raise InvalidInput("'url' must be an absolute http:// or https:// URL", field="url") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("'url' must be an absolute http:// or https:// URL", field="url")
    if parts.username or parts.password:
        raise InvalidInput("'url' must not carry credentials; verify the signature instead", field="url")
    try:
        egress.check(url, allow, resolve)
    except egress.EgressRefused as exc:
        raise InvalidInput(f"'url' is refused: {exc}", field="url") from exc
    except egress.EgressFailed:
        pass
    return url


def validate_events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"'events' must be a non-empty list of: {', '.join(EVENTS)}", field="events")
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        raise InvalidInput(f"unknown event(s) {unknown!r}; the events are: {', '.join(EVENTS)}", field="events")
    return sorted(set(value))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets_: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets_)])


def verify(secret: str, header: str, body: bytes, tolerance: int, now: int) -> bool:
    """The receiver's side, for clients and tests: any v1 matches and the timestamp is fresh."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in fields if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance:
        return False
    expected = signature(secret, int(stamps[0]), body)
    return any(hmac.compare_digest(expected, v) for k, v in fields if k == "v1")


def emit(session: Session, tenant_id: str, event: WebhookEvent, data: dict[str, Any]) -> list[str]:
    """Record the event for each of the tenant's endpoints subscribed to it; returns the
    delivery ids for the caller to enqueue once the transaction has committed."""
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)).all()
    event_id, now = new_id(), utcnow()
    payload = {"id": event_id, "type": event.value, "created_at": now.isoformat(), "data": data}
    ids = []
    for endpoint in endpoints:
        if event.value not in endpoint.events:
            continue
        delivery = WebhookDelivery(endpoint_id=endpoint.id, tenant_id=tenant_id, event_id=event_id,
                                   event=event.value, payload=payload, next_attempt_at=now)
        session.add(delivery)
        session.flush()
        ids.append(delivery.id)
    return ids


def emit_batch_finished(session: Session, batch: Batch, counts: dict[str, int]) -> list[str]:
    """``batch.completed`` for a batch that finished succeeded or partial, ``batch.failed``
    for one that failed; a cancelled batch was the tenant's own doing and sends nothing."""
    event = {BatchStatus.succeeded.value: WebhookEvent.batch_completed,
             BatchStatus.partial.value: WebhookEvent.batch_completed,
             BatchStatus.failed.value: WebhookEvent.batch_failed}.get(batch.status)
    if event is None:
        return []
    params = batch.params or {}
    return emit(session, batch.tenant_id, event, {
        "batch_id": batch.id, "name": batch.name, "status": batch.status, "total": batch.total,
        "counts": dict(counts), "schedule_id": params.get("schedule_id"),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
    })


def emit_voice_settled(session: Session, voice: Voice) -> list[str]:
    """``voice.ready`` or ``voice.failed`` (with the reason) for a voice that just settled."""
    if voice.status == VoiceStatus.ready.value:
        event = WebhookEvent.voice_ready
    elif voice.status == VoiceStatus.failed.value:
        event = WebhookEvent.voice_failed
    else:
        return []
    return emit(session, voice.tenant_id, event, {
        "voice_id": voice.id, "name": voice.name, "status": voice.status, "error": voice.error,
        "version_id": voice.current_version_id,
    })


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: exponential, capped, with
    jitter so endpoints that failed together do not all retry at the same instant."""
    base = min(settings.webhook_backoff_max_seconds, settings.webhook_backoff_seconds * 2 ** (attempts - 1))
    return base * (0.5 + random.random() / 2)


def _claim(sessions: sessionmaker[Session], settings: Settings, delivery_id: str) -> dict[str, Any] | None:
    """Take the delivery for one attempt, atomically: a due, pending row has its next attempt
    pushed past the attempt's timeout, so a duplicate message (or the sweeper) finds it not
    due and leaves it alone, and a worker that dies mid-attempt leaves it due again."""
    now = utcnow()
    lease = now + timedelta(seconds=settings.webhook_timeout_seconds + 30)
    with sessions.begin() as s:
        claimed = s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == DeliveryStatus.pending.value,
                   WebhookDelivery.next_attempt_at <= now)
            .values(next_attempt_at=lease, attempts=WebhookDelivery.attempts + 1)
        ).rowcount
        if not claimed:
            return None
        delivery = s.get(WebhookDelivery, delivery_id)
        endpoint = s.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
        if delivery is None or endpoint is None:
            return None
        signing = [endpoint.secret]
        if endpoint.previous_secret and endpoint.previous_secret_expires_at and \
                endpoint.previous_secret_expires_at > now:
            signing.append(endpoint.previous_secret)
        return {"url": endpoint.url, "secrets": signing, "payload": delivery.payload, "attempts": delivery.attempts,
                "event": delivery.event}


def attempt(sessions: sessionmaker[Session], settings: Settings, delivery_id: str,
            now: datetime | None = None, resolve: Resolver = egress.system_resolver) -> float | None:
    """POST the delivery once and record the outcome on its row.

    Returns the seconds until the next attempt when one is scheduled, else None (delivered,
    given up, or not ours to attempt now)."""
    job = _claim(sessions, settings, delivery_id)
    if job is None:
        return None
    body = json.dumps(job["payload"], ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int((now or utcnow()).timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Narrator-Event": job["event"],
        "Narrator-Delivery": delivery_id,
        "Narrator-Timestamp": str(timestamp),
        "Narrator-Signature": signature_header(job["secrets"], timestamp, body),
    }
    code: int | None = None
    error: str | None = None
    try:
        # Resolved and checked again now, and the connection made to the address checked:
        # the name may point elsewhere than at registration (DNS rebinding).
        destination = egress.check(job["url"], settings.webhook_allow_list, resolve)
        answer = egress.post(destination, body, headers, settings.webhook_timeout_seconds,
                             settings.webhook_max_response_bytes)
        code = answer.status
        if not 200 <= code < 300:
            error = f"the endpoint answered HTTP {code}"
    except egress.EgressRefused as exc:
        # Policy, not a fault of the receiver: retrying cannot help, and the log must not
        # become a probe of what answers on internal addresses.
        return _record(sessions, settings, delivery_id, job["attempts"], None, f"refused: {exc}", final=True)
    except egress.EgressFailed as exc:
        error = str(exc)[:400]
    return _record(sessions, settings, delivery_id, job["attempts"], code, error)


def _record(sessions: sessionmaker[Session], settings: Settings, delivery_id: str, attempts: int,
            code: int | None, error: str | None, final: bool = False) -> float | None:
    with sessions.begin() as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return None  # the endpoint was deleted meanwhile
        delivery.last_status_code, delivery.last_error = code, error
        if error is None:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                DeliveryStatus.delivered.value, utcnow(), None)
            log.info("webhook delivery %s delivered (attempt %d)", delivery_id, attempts)
            return None
        if final or attempts >= settings.webhook_max_attempts:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.failed.value, None
            log.warning("webhook delivery %s failed after %d attempts: %s", delivery_id, attempts, error)
            return None
        delay = backoff(settings, attempts)
        delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
        log.info("webhook delivery %s attempt %d failed (%s); next in %.1f s", delivery_id, attempts, error, delay)
        return delay


def overdue(sessions: sessionmaker[Session], older_than: timedelta, limit: int = 500) -> list[str]:
    """Pending deliveries whose attempt is overdue by more than ``older_than``: their message
    was never sent or was lost. Re-enqueueing one is harmless; the claim admits one attempt."""
    cutoff = utcnow() - older_than
    with sessions() as s:
        return list(s.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == DeliveryStatus.pending.value, WebhookDelivery.next_attempt_at <= cutoff)
            .order_by(WebhookDelivery.next_attempt_at).limit(limit)
        ))
