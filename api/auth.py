"""Bearer API keys → the caller's tenant. Every route but the probes and docs needs one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, g, request
from sqlalchemy import select

from api import throttle
from api.context import ctx
from shared import logs
from shared.errors import Forbidden, NotFound, RateLimited, Unauthorized
from shared.models import ApiKey
from shared.security import allows, matches, parse_prefix
from shared.tenants import key_usable

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def init_app(app: Flask) -> None:
    @app.before_request
    def _reset() -> None:
        g.tenant_id = None
        g.scope = None


def authenticate() -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    key = key_for_secret(header.removeprefix("Bearer ").strip())
    g.tenant_id, g.scope, g.key_prefix = key.tenant_id, key.scope, key.prefix
    c = ctx()
    logs.bind(tenant_id=g.tenant_id)
    decision = c.limiter.hit(g.key_prefix)
    if not decision.allowed:
        raise RateLimited(f"this API key is over its limit of {c.settings.rate_limit_requests} requests per "
                          f"{c.settings.rate_limit_window_seconds} s; retry in {decision.retry_after} s",
                          retry_after=decision.retry_after)


@dataclass(frozen=True)
class KeyIdentity:
    """Who a valid key speaks for, as read from its row on this request."""

    id: str
    prefix: str
    tenant_id: str
    scope: str


def key_for_secret(secret: str) -> KeyIdentity:
    """The key a secret belongs to, if it is known, live and the secret matches; else 401.
    The API (per request) and the console's sign-in both check keys here, so failures of
    both count against the client address's budget (429 once spent: ``api.throttle``)."""
    throttle.refuse_if_failing()  # before the check: once refused, no answer tells a right guess
    prefix = parse_prefix(secret)
    if prefix is None:
        throttle.count_failure()
        raise Unauthorized("the API key is malformed")
    with ctx().sessions() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if key is None or not key_usable(key) or not matches(secret, key.key_hash):
            throttle.count_failure()
            raise Unauthorized("the API key is unknown, revoked or expired")
        return KeyIdentity(key.id, key.prefix, key.tenant_id, key.scope)


def require(scope: str) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            authenticate()
            if not allows(g.scope, scope):
                raise Forbidden(f"this API key has scope {g.scope!r}; the request needs {scope!r}")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def owned(session, model: type[T], row_id: str, what: str) -> T:  # type: ignore[no-untyped-def]
    """The caller's own row, or 404 — another tenant's row is indistinguishable from no row."""
    row = session.get(model, row_id)
    if row is None or row.tenant_id != g.tenant_id:  # type: ignore[attr-defined]
        raise NotFound(f"no {what} {row_id!r}")
    return row
