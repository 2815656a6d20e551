"""API keys of the caller's tenant: list, create, rotate, revoke (admin scope).

A secret leaves the server once, in the answer that creates it; listings never carry it or
its hash. These POSTs take no Idempotency-Key: replaying an answer would mean storing the
secret it carries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from api.auth import owned, require
from api.context import ctx
from api.schema import Body, Choice, json_body, list_of, operation
from shared.audit import canonical_time
from shared.errors import Conflict, InvalidInput
from shared.models import ApiKey
from shared.security import SCOPES
from shared.tenants import MAX_GRACE_SECONDS, create_key, find_tenant, key_usable, revoke_key, rotate_key

bp = Blueprint("keys", __name__, url_prefix="/v1/keys")
CREATE_REQUEST = Body({"scope": Choice(values=SCOPES, required=True)}, required=("scope",))


def _time(value: datetime | None) -> str | None:
    return None if value is None else canonical_time(value)


def key_view(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "prefix": key.prefix, "scope": key.scope, "active": key_usable(key),
            "created_at": _time(key.created_at), "revoked_at": _time(key.revoked_at),
            "expires_at": _time(key.expires_at)}


def _with_secret(key: ApiKey, secret: str) -> ResponseReturnValue:
    body = {**key_view(key), "secret": secret}
    return jsonify(body), 201, {"Cache-Control": "no-store"}


def _actor() -> str:
    return f"key:{g.key_prefix}"


@operation("The tenant's API keys (admin scope; never the secrets or their hashes)",
           {200: ("keys", list_of("keys", "ApiKey"))},
           errors=(401, 403))
@bp.get("")
@require("admin")
def list_keys() -> ResponseReturnValue:
    with ctx().sessions() as s:
        keys = s.scalars(select(ApiKey).where(ApiKey.tenant_id == g.tenant_id).order_by(ApiKey.created_at)).all()
        return jsonify({"keys": [key_view(k) for k in keys]})


@operation("Create a key for the tenant (admin scope); the secret is shown once",
           {201: ("created", "ApiKeyWithSecret")},
           errors=(401, 403, 409, 415, 422),
           body=CREATE_REQUEST)
@bp.post("")
@require("admin")
def create() -> ResponseReturnValue:
    scope = CREATE_REQUEST.read()["scope"]
    c = ctx()
    with c.sessions.begin() as s:
        tenant = find_tenant(s, g.tenant_id)
        s.refresh(tenant, with_for_update=True)  # concurrent creates count one after the other
        live = sum(key_usable(k) for k in s.scalars(select(ApiKey).where(ApiKey.tenant_id == g.tenant_id)))
        if live >= c.settings.max_keys_per_tenant:
            raise Conflict(f"this tenant already holds {live} live API keys, the most allowed "
                           f"({c.settings.max_keys_per_tenant}); revoke one first")
        key, secret = create_key(s, tenant, scope, actor=_actor())
        return _with_secret(key, secret)


def _grace_seconds() -> int:
    if not request.content_length:
        return 0
    value = json_body().get("grace_seconds", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("'grace_seconds' must be a whole number of seconds", field="grace_seconds")
    if not 0 <= value <= MAX_GRACE_SECONDS:
        raise InvalidInput(f"'grace_seconds' must be between 0 and {MAX_GRACE_SECONDS}", field="grace_seconds")
    return value


@operation(
    "A new key with the same scope; the old one is revoked now or after grace_seconds",
    {201: ("the new key", "ApiKeyWithSecret")},
    errors=(401, 403, 404, 409, 415, 422),
    body={
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"grace_seconds": {"type": "integer", "minimum": 0, "maximum": 2592000}},
                }
            }
        },
    },
)
@bp.post("/<key_id>/rotate")
@require("admin")
def rotate(key_id: str) -> ResponseReturnValue:
    grace = _grace_seconds()
    with ctx().sessions.begin() as s:
        old = owned(s, ApiKey, key_id, "API key")
        key, secret = rotate_key(s, old, actor=_actor(), grace_seconds=grace)
        return _with_secret(key, secret)


@operation("Revoke a key now",
           {200: ("revoked", "ApiKey")},
           errors=(401, 403, 404, 409))
@bp.post("/<key_id>/revoke")
@require("admin")
def revoke(key_id: str) -> ResponseReturnValue:
    with ctx().sessions.begin() as s:
        key = revoke_key(s, owned(s, ApiKey, key_id, "API key"), actor=_actor())
        return jsonify(key_view(key))
