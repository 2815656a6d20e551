"""Per-key rate limits: the request past the budget gets a 429 problem with Retry-After,
other keys are not affected, and the key works again once its tokens are back."""

from __future__ import annotations

import time

import pytest

from api.ratelimit import LocalRateLimiter, RedisRateLimiter

# One token every 2 s: slow enough that the few requests between a refusal and the check
# below cannot earn a second token on a busy CI host (at 1.5 tokens/s they once did).
LIMIT, WINDOW = 3, 6


def limited_app(settings):  # type: ignore[no-untyped-def]
    from worker.cli.serve import make_api

    return make_api(settings.with_(rate_limit_requests=LIMIT, rate_limit_window_seconds=WINDOW))


def get(client, secret: str):  # type: ignore[no-untyped-def]
    return client.get("/v1/voices", headers={"Authorization": f"Bearer {secret}"})


def assert_limit_enforced(client, secret: str, other_secret: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(LIMIT):
        assert get(client, secret).status_code == 200
    r = get(client, secret)
    assert r.status_code == 429 and r.mimetype == "application/problem+json"
    assert r.get_json()["code"] == "rate_limited" and f"per {WINDOW} s" in r.get_json()["detail"]
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW
    assert get(client, other_secret).status_code == 200  # another key has its own budget
    time.sleep(retry_after)
    assert get(client, secret).status_code == 200
    assert get(client, secret).status_code == 429  # one token came back, not the whole budget


@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_the_request_past_the_limit_is_refused_until_tokens_return(settings, tenant_key, admin_key, broker) -> None:  # type: ignore[no-untyped-def]
    app = limited_app(settings if broker == "redis" else settings.with_(broker_url=""))
    limiter = app.extensions["narrator"].limiter
    assert isinstance(limiter, RedisRateLimiter if broker == "redis" else LocalRateLimiter)
    assert_limit_enforced(app.test_client(), tenant_key[1], admin_key[1])


def test_api_processes_share_the_budget_through_redis(settings, tenant_key) -> None:  # type: ignore[no-untyped-def]
    first, second = limited_app(settings).test_client(), limited_app(settings).test_client()
    for _ in range(LIMIT):
        assert get(first, tenant_key[1]).status_code == 200
    assert get(second, tenant_key[1]).status_code == 429


def test_refused_requests_take_no_tokens() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(requests=2, window_seconds=10, clock=lambda: now[0])
    assert [limiter.hit("k").allowed for _ in range(2)] == [True, True]
    refused = limiter.hit("k")
    assert not refused.allowed and refused.retry_after == 5  # one token every 5 s
    now[0] = 4.0
    assert not limiter.hit("k").allowed
    now[0] = 5.0
    assert limiter.hit("k").allowed
    now[0] = 100.0  # a long pause refills to the burst size, no further
    assert [limiter.hit("k").allowed for _ in range(3)] == [True, True, False]


def test_the_default_limit_leaves_normal_use_alone(client, auth) -> None:  # type: ignore[no-untyped-def]
    assert all(client.get("/v1/voices", headers=auth).status_code == 200 for _ in range(20))
