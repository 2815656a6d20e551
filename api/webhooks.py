"""Webhook endpoints: where a tenant is told that its voices and batches settled.

The signing secret is shown once, when the endpoint is created or its secret rotated; it
is never listed again, and these POSTs take no Idempotency-Key (a replay would mean
storing the secret a second time). Deliveries (one per event and endpoint) form the delivery log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api.auth import owned, require
from api.context import ctx
from api.schema import Body, Choice, Field, list_of, operation
from shared import webhooks
from shared.audit import record
from shared.errors import InvalidInput
from shared.models import WebhookDelivery, WebhookEndpoint, utcnow

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")
DELIVERY_STATUS = Choice(values=("pending", "delivered", "failed"))
# Checked by shared.webhooks: the URL against the deployment's allow-list, the events against EVENTS.
WEBHOOK_REQUEST = Body({
    "url": Field({"type": "string", "maxLength": 2000}, description="an http:// or https:// URL"),
    "events": Field({"type": "array", "minItems": 1, "items": {"enum": list(webhooks.EVENTS)}}),
}, name="WebhookRequest", required=("url", "events"))
PAGE_MAX = 200


def endpoint_json(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id, "url": endpoint.url, "events": endpoint.events,
        "created_at": endpoint.created_at.isoformat(),
        "previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat()
        if endpoint.previous_secret and endpoint.previous_secret_expires_at else None,
    }
    if secret is not None:
        body["secret"] = secret
    return body


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id, "event_id": d.event_id, "event": d.event, "status": d.status, "attempts": d.attempts,
        "last_status_code": d.last_status_code, "last_error": d.last_error,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at and d.status == "pending" else None,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None, "payload": d.payload,
    }


@operation(
    "Register an endpoint for events; the signing secret is shown once. Deliveries are POSTs with Narrator-Timestamp and Narrator-Signature: t=<ts>,v1=<hex HMAC-SHA256(secret, '<ts>.<body>')> (two v1 during a rotation's grace)",
    {201: ("registered", "WebhookWithSecret")},
    errors=(401, 403, 415, 422),
    body=WEBHOOK_REQUEST,
)
@bp.post("")
@require("write")
def create_endpoint() -> ResponseReturnValue:
    body = WEBHOOK_REQUEST.read()
    url = webhooks.validate_url(body.get("url"), ctx().settings.webhook_allow_list)
    events = webhooks.validate_events(body.get("events"))
    secret = webhooks.new_secret()
    with ctx().sessions.begin() as s:
        endpoint = WebhookEndpoint(tenant_id=g.tenant_id, url=url, events=events, secret=secret)
        s.add(endpoint)
        s.flush()
        record(s, g.tenant_id, f"key:{g.key_prefix}", "webhook.created", "webhook", endpoint.id, url=url,
               events=events)
        result = endpoint_json(endpoint, secret)
    return jsonify(result), 201, {"Location": url_for("webhooks.list_deliveries", webhook_id=result["id"])}


@operation("The tenant's webhook endpoints (never their secrets)",
           {200: ("endpoints", list_of("webhooks", "Webhook"))},
           errors=(401,))
@bp.get("")
@require("read")
def list_endpoints() -> ResponseReturnValue:
    with ctx().sessions() as s:
        rows = s.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == g.tenant_id)
                         .order_by(WebhookEndpoint.created_at)).all()
        return jsonify(webhooks=[endpoint_json(e) for e in rows])


@operation("Remove an endpoint and its delivery log",
           {204: "removed"},
           errors=(401, 403, 404))
@bp.delete("/<webhook_id>")
@require("write")
def delete_endpoint(webhook_id: str) -> ResponseReturnValue:
    """The endpoint and its delivery log go; pending deliveries are dropped with it."""
    with ctx().sessions.begin() as s:
        endpoint = owned(s, WebhookEndpoint, webhook_id, "webhook")
        record(s, g.tenant_id, f"key:{g.key_prefix}", "webhook.deleted", "webhook", webhook_id, url=endpoint.url)
        s.delete(endpoint)
    return "", 204


@operation("A new signing secret, shown once; the old one also signs for the grace period",
           {200: ("rotated", "WebhookWithSecret")},
           errors=(401, 403, 404))
@bp.post("/<webhook_id>/rotate-secret")
@require("write")
def rotate_secret(webhook_id: str) -> ResponseReturnValue:
    """A new secret, shown once. Deliveries carry a signature with the new and one with the
    old secret until the grace period ends, so the receiver can switch without a gap."""
    c = ctx()
    secret = webhooks.new_secret()
    with c.sessions.begin() as s:
        endpoint = owned(s, WebhookEndpoint, webhook_id, "webhook")
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utcnow() + timedelta(seconds=c.settings.webhook_secret_grace_seconds)
        endpoint.secret = secret
        record(s, g.tenant_id, f"key:{g.key_prefix}", "webhook.secret_rotated", "webhook", webhook_id,
               previous_valid_until=endpoint.previous_secret_expires_at.isoformat())
        result = endpoint_json(endpoint, secret)
    return jsonify(result)


@operation(
    "The delivery log, newest first: status, attempts, last response",
    {200: ("deliveries", list_of("deliveries", "WebhookDelivery"))},
    errors=(401, 404, 422),
    query={
        "status": DELIVERY_STATUS,
        "limit": Field({"type": "integer", "minimum": 1, "maximum": PAGE_MAX}),
    },
)
@bp.get("/<webhook_id>/deliveries")
@require("read")
def list_deliveries(webhook_id: str) -> ResponseReturnValue:
    """The delivery log, newest first."""
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError as exc:
        raise InvalidInput("'limit' must be an integer", field="limit") from exc
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"'limit' must be between 1 and {PAGE_MAX}", field="limit")
    status = DELIVERY_STATUS.read(request.args, "status")
    with ctx().sessions() as s:
        owned(s, WebhookEndpoint, webhook_id, "webhook")
        query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == webhook_id)
        if status:
            query = query.where(WebhookDelivery.status == status)
        rows = s.scalars(query.order_by(WebhookDelivery.created_at.desc()).limit(limit)).all()
        return jsonify(deliveries=[delivery_json(d) for d in rows])
