"""Request budgets per client address, for callers no valid API key vouches for: failed
authentication, the console's pages and signed downloads (``/v1/files``).

The per-key limit (``api.auth``) cannot stop key guessing: every guess names another key, or
none. So failed authentications (API and console sign-in alike: both go through
``api.auth.key_for_secret``) are counted per client address, and once an address has spent
its budget every credentialed request from it is refused with a 429 *before* its key is
checked — the answer then no longer tells a right guess from a wrong one. Tokens come back
evenly over the window, as for the per-key limit.

The address is the peer's (``request.remote_addr``). Behind a reverse proxy that is the
proxy's unless the deployment has the app trust the proxy's forwarding header; then every
client behind it shares one budget.
"""

from __future__ import annotations

from flask import Flask, request

from api.context import ctx
from shared.errors import RateLimited

ADDRESS_LIMITED = ("console", "files")  # blueprints that answer before (or without) an API key


def client_address() -> str:
    return request.remote_addr or "unknown"


def refuse_if_failing() -> None:
    """429 if this address has used up its failed-authentication budget (takes no token)."""
    c = ctx()
    decision = c.failures.hit(f"authfail:{client_address()}", cost=0)
    if not decision.allowed:
        raise RateLimited(f"too many failed authentications from this address (more than "
                          f"{c.settings.auth_failure_limit} per {c.settings.rate_limit_window_seconds} s); "
                          f"retry in {decision.retry_after} s", retry_after=decision.retry_after)


def count_failure() -> None:
    """One failed authentication from this address."""
    ctx().failures.hit(f"authfail:{client_address()}")


def init_app(app: Flask) -> None:
    @app.before_request
    def _per_address() -> None:
        if request.blueprint not in ADDRESS_LIMITED or request.endpoint == "console.static":
            return
        c = ctx()
        decision = c.address_limiter.hit(f"addr:{request.blueprint}:{client_address()}")
        if not decision.allowed:
            raise RateLimited(f"this address is over its limit of {c.settings.address_rate_limit_requests} requests "
                              f"per {c.settings.rate_limit_window_seconds} s to /{request.blueprint}; retry in "
                              f"{decision.retry_after} s", retry_after=decision.retry_after)
