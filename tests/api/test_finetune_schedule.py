"""A tenant's nightly fine-tune schedule through the API: read, set, refuse bad input without
storing it, audit the change, and keep each tenant to its own schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shared.finetune import next_slot
from shared.models import AuditEvent, Tenant
from shared.tenants import create_key
from tests.helpers import assert_problem as problem

URL = "/v1/finetune/schedule"


def changes(sessions, tenant_id: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return [e.details for e in s.scalars(select(AuditEvent).where(
            AuditEvent.tenant_id == tenant_id, AuditEvent.action == "finetune.schedule_changed",
        ).order_by(AuditEvent.id))]


def stored(sessions, tenant_id: str) -> tuple[int | None, str | None, bool]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        t = s.get(Tenant, tenant_id)
        return t.finetune_hour, t.finetune_timezone, t.finetune_enabled


def key_of(sessions, tenant_id: str, scope: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with sessions.begin() as s:
        _, secret = create_key(s, s.get(Tenant, tenant_id), scope)
    return {"Authorization": f"Bearer {secret}"}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_new_tenant_has_the_deployment_default(client, auth, settings) -> None:  # type: ignore[no-untyped-def]
    before = datetime.now(UTC)
    r = client.get(URL, headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert {k: body[k] for k in ("hour", "timezone", "enabled", "default")} == {
        "hour": settings.finetune_hour_utc, "timezone": "UTC", "enabled": True, "default": True}
    upcoming = instant(body["next_run_at"])
    assert upcoming in (next_slot(before, settings.finetune_hour_utc), next_slot(datetime.now(UTC),
                                                                                  settings.finetune_hour_utc))
    assert before < upcoming <= before + timedelta(days=1)
    assert instant(body["next_run_local"]) == upcoming


def test_put_sets_the_local_hour_and_zone_and_is_audited(client, auth, sessions, tenant_key) -> None:  # type: ignore[no-untyped-def]
    r = client.put(URL, headers=auth, json={"hour": 3, "timezone": "Europe/Berlin", "enabled": True})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert {k: body[k] for k in ("hour", "timezone", "enabled", "default")} == {
        "hour": 3, "timezone": "Europe/Berlin", "enabled": True, "default": False}
    local = datetime.fromisoformat(body["next_run_local"])
    assert (local.hour, local.minute) == (3, 0) and local.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert instant(body["next_run_at"]) == local
    assert stored(sessions, tenant_key[0]) == (3, "Europe/Berlin", True)
    assert client.get(URL, headers=auth).get_json() == body
    assert changes(sessions, tenant_key[0]) == [{
        "before": {"hour": None, "timezone": None, "enabled": True},
        "after": {"hour": 3, "timezone": "Europe/Berlin", "enabled": True}}]

    # the same schedule again changes nothing and records nothing
    assert client.put(URL, headers=auth, json={"hour": 3, "timezone": "Europe/Berlin"}).status_code == 200
    assert len(changes(sessions, tenant_key[0])) == 1

    # off: no next run; the hour and zone are kept
    off = client.put(URL, headers=auth, json={"hour": 3, "timezone": "Europe/Berlin", "enabled": False}).get_json()
    assert off["enabled"] is False and off["next_run_at"] is None and off["next_run_local"] is None
    assert stored(sessions, tenant_key[0]) == (3, "Europe/Berlin", False)

    # an empty body is the default schedule again (PUT replaces the whole schedule)
    reset = client.put(URL, headers=auth, json={}).get_json()
    assert reset["default"] is True and reset["timezone"] == "UTC" and reset["enabled"] is True
    assert stored(sessions, tenant_key[0]) == (None, None, True)
    assert len(changes(sessions, tenant_key[0])) == 3


def test_an_hour_without_a_zone_is_utc(client, auth) -> None:  # type: ignore[no-untyped-def]
    body = client.put(URL, headers=auth, json={"hour": 23}).get_json()
    assert (body["hour"], body["timezone"], body["default"]) == (23, "UTC", False)
    assert instant(body["next_run_at"]).hour == 23


@pytest.mark.parametrize(("payload", "words"), [
    ({"hour": 24, "timezone": "UTC"}, ("'hour'", "0 to 23")),
    ({"hour": -1}, ("'hour'", "0 to 23")),
    ({"hour": "3"}, ("'hour'", "whole number")),
    ({"hour": 3.5}, ("'hour'", "whole number")),
    ({"hour": True}, ("'hour'", "whole number")),
    ({"hour": 3, "timezone": "Mars/Olympus"}, ("'timezone'", "IANA", "Mars/Olympus")),
    ({"hour": 3, "timezone": "Europe"}, ("'timezone'", "IANA")),
    ({"hour": 3, "timezone": ""}, ("'timezone'", "IANA")),
    ({"hour": 3, "timezone": "../../etc/passwd"}, ("'timezone'", "IANA")),
    ({"hour": 3, "timezone": 1}, ("'timezone'", "string")),
    ({"hour": 3, "timezone": "A" * 65}, ("'timezone'", "64")),
    ({"timezone": "Europe/Berlin"}, ("'timezone'", "needs an 'hour'")),
    ({"hour": 3, "enabled": "yes"}, ("'enabled'", "true or false")),
    ({"hour": 3, "enabled": None}, ("'enabled'", "true or false")),
    ({"hour": 3, "minute": 30}, ("unknown field", "'minute'")),
    ({"hour": 3, "timezone": "UTC", "tz": "UTC", "at": 1}, ("unknown field", "'at'", "'tz'")),
])
def test_bad_input_is_a_problem_and_stores_nothing(client, auth, sessions, tenant_key, payload, words) -> None:  # type: ignore[no-untyped-def]
    assert client.put(URL, headers=auth, json={"hour": 4, "timezone": "Asia/Shanghai"}).status_code == 200
    problem(client.put(URL, headers=auth, json=payload), 422, *words, code="invalid_input")
    assert stored(sessions, tenant_key[0]) == (4, "Asia/Shanghai", True)
    assert len(changes(sessions, tenant_key[0])) == 1


def test_a_body_that_is_not_a_json_object_is_refused(client, auth, sessions, tenant_key) -> None:  # type: ignore[no-untyped-def]
    problem(client.put(URL, headers=auth, data="hour=3"), 415, "JSON")
    problem(client.put(URL, headers=auth, json=[3, "UTC"]), 422, "JSON object")
    problem(client.put(URL, headers=auth, data="{", content_type="application/json"), 422, "JSON object")
    assert stored(sessions, tenant_key[0]) == (None, None, True)
    assert changes(sessions, tenant_key[0]) == []


def test_a_read_key_sees_the_schedule_but_cannot_change_it(client, sessions, tenant_key) -> None:  # type: ignore[no-untyped-def]
    read = key_of(sessions, tenant_key[0], "read")
    assert client.get(URL, headers=read).status_code == 200
    problem(client.put(URL, headers=read, json={"hour": 3}), 403, "scope")
    problem(client.get(URL), 401, "API key")
    assert stored(sessions, tenant_key[0]) == (None, None, True)


def test_each_tenant_sees_and_changes_only_its_own_schedule(client, auth, sessions, tenant_key,  # type: ignore[no-untyped-def]
                                                            admin_key) -> None:
    other = {"Authorization": f"Bearer {admin_key[1]}"}
    mine = client.put(URL, headers=auth, json={"hour": 5, "timezone": "America/New_York"}).get_json()
    assert client.get(URL, headers=other).get_json()["default"] is True
    theirs = client.put(URL, headers=other, json={"hour": 1, "timezone": "Asia/Shanghai", "enabled": False})
    assert theirs.status_code == 200
    assert client.get(URL, headers=auth).get_json() == mine
    assert stored(sessions, tenant_key[0]) == (5, "America/New_York", True)
    assert stored(sessions, admin_key[0]) == (1, "Asia/Shanghai", False)
    assert len(changes(sessions, tenant_key[0])) == 1 and len(changes(sessions, admin_key[0])) == 1


def test_the_console_fine_tune_page_shows_the_schedule(client, auth, tenant_key) -> None:  # type: ignore[no-untyped-def]
    client.put(URL, headers=auth, json={"hour": 4, "timezone": "Asia/Shanghai"})
    assert client.get("/console/sign-in").status_code == 200
    with client.session_transaction() as session:
        token = session["csrf"]
    signed_in = client.post("/console/sign-in", data={"api_key": tenant_key[1], "csrf_token": token})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    page = client.get("/console/finetune").get_data(as_text=True)
    assert "daily from 04:00 Asia/Shanghai" in page and "+08:00" not in page
    assert " 04:00 Asia/Shanghai (" in page and " 20:00 UTC)" in page  # the next slot, local and UTC
