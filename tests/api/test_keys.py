"""API keys: an admin of a tenant lists, creates, rotates and revokes the tenant's keys; the
CLI rotates by prefix. Every change is audited; no answer but the creating one holds a secret."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from shared.models import ApiKey, AuditEvent
from worker.cli import main


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def works(client, secret: str) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/v1/voices", headers=bearer(secret)).status_code == 200


def audited(sessions, tenant_id: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return [(e.action, e.actor) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.tenant_id == tenant_id).order_by(AuditEvent.id))]


def test_admin_creates_lists_rotates_and_revokes_keys(client, sessions, admin_key) -> None:  # type: ignore[no-untyped-def]
    tenant_id, admin_secret = admin_key
    admin = bearer(admin_secret)
    r = client.post("/v1/keys", headers=admin, json={"scope": "write"})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    created = r.get_json()
    assert created["scope"] == "write" and created["secret"].startswith(f"nrt_{created['prefix']}_")
    assert works(client, created["secret"])

    listed = client.get("/v1/keys", headers=admin).get_json()["keys"]
    assert {k["id"] for k in listed} == {created["id"], *(k["id"] for k in listed if k["scope"] == "admin")}
    assert len(listed) == 2
    for k in listed:
        assert set(k) == {"id", "prefix", "scope", "active", "created_at", "revoked_at", "expires_at"}
    with sessions() as s:
        key_hash = s.scalar(select(ApiKey.key_hash).where(ApiKey.id == created["id"]))
    assert key_hash and key_hash not in client.get("/v1/keys", headers=admin).get_data(as_text=True)

    r = client.post(f"/v1/keys/{created['id']}/rotate", headers=admin)
    assert r.status_code == 201
    rotated = r.get_json()
    assert rotated["scope"] == "write" and rotated["id"] != created["id"]
    assert works(client, rotated["secret"]) and not works(client, created["secret"])
    assert client.post(f"/v1/keys/{created['id']}/rotate", headers=admin).status_code == 409

    r = client.post(f"/v1/keys/{rotated['id']}/revoke", headers=admin)
    assert r.status_code == 200 and r.get_json()["revoked_at"] and r.get_json()["active"] is False
    assert "secret" not in r.get_json()
    assert not works(client, rotated["secret"])
    assert client.post(f"/v1/keys/{rotated['id']}/revoke", headers=admin).status_code == 409

    actor = f"key:{admin_secret.split('_')[1]}"
    assert audited(sessions, tenant_id)[-3:] == [("key.created", actor), ("key.rotated", actor),
                                                 ("key.revoked", actor)]


def test_rotation_with_grace_keeps_the_old_key_working_until_it_expires(client, admin_key) -> None:  # type: ignore[no-untyped-def]
    admin = bearer(admin_key[1])
    old = client.post("/v1/keys", headers=admin, json={"scope": "read"}).get_json()
    r = client.post(f"/v1/keys/{old['id']}/rotate", headers=admin, json={"grace_seconds": 2})
    new = r.get_json()
    assert r.status_code == 201 and new["scope"] == "read"
    assert works(client, old["secret"]) and works(client, new["secret"])
    listed = {k["id"]: k for k in client.get("/v1/keys", headers=admin).get_json()["keys"]}
    assert listed[old["id"]]["expires_at"] and listed[old["id"]]["revoked_at"] is None
    assert client.post(f"/v1/keys/{old['id']}/rotate", headers=admin).status_code == 409  # rotate the new one
    time.sleep(2.2)
    assert not works(client, old["secret"]) and works(client, new["secret"])


def test_keys_need_admin_scope(client, admin_key, tenant_key) -> None:  # type: ignore[no-untyped-def]
    writer = bearer(tenant_key[1])
    assert client.get("/v1/keys", headers=writer).status_code == 403
    assert client.post("/v1/keys", headers=writer, json={"scope": "read"}).status_code == 403

    key = client.post("/v1/keys", headers=bearer(admin_key[1]), json={"scope": "read"}).get_json()
    for action in ("rotate", "revoke"):
        r = client.post(f"/v1/keys/{key['id']}/{action}", headers=writer)
        assert r.status_code == 403 and "admin" in r.get_json()["detail"]
    assert works(client, key["secret"])


def test_another_tenants_key_is_not_found(client, sessions, admin_key) -> None:  # type: ignore[no-untyped-def]
    from shared.tenants import create_key, create_tenant

    with sessions.begin() as s:
        b = create_tenant(s, f"tenant-b-{time.monotonic_ns()}")
        _, b_admin = create_key(s, b, "admin")
    mine = client.post("/v1/keys", headers=bearer(admin_key[1]), json={"scope": "read"}).get_json()
    for path in (f"/v1/keys/{mine['id']}/rotate", f"/v1/keys/{mine['id']}/revoke"):
        r = client.post(path, headers=bearer(b_admin))
        assert r.status_code == 404 and r.mimetype == "application/problem+json"
    assert mine["id"] not in {k["id"] for k in client.get("/v1/keys", headers=bearer(b_admin)).get_json()["keys"]}
    assert works(client, mine["secret"])


@pytest.mark.parametrize("body, field", [({"scope": "root"}, "scope"), ({}, "scope")])
def test_bad_scope_is_refused(client, admin_key, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/keys", headers=bearer(admin_key[1]), json=body)
    assert r.status_code == 422 and r.get_json()["field"] == field


def test_bad_grace_is_refused(client, admin_key) -> None:  # type: ignore[no-untyped-def]
    admin = bearer(admin_key[1])
    key = client.post("/v1/keys", headers=admin, json={"scope": "read"}).get_json()
    for grace in (-1, "soon", 10**9):
        r = client.post(f"/v1/keys/{key['id']}/rotate", headers=admin, json={"grace_seconds": grace})
        assert r.status_code == 422 and r.get_json()["field"] == "grace_seconds"
    assert works(client, key["secret"])  # nothing happened


def test_cli_rotates_and_revokes_by_prefix(client, settings, sessions, tenant_key, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NARRATOR_DATABASE_URL", settings.database_url)
    tenant_id, old_secret = tenant_key
    old_prefix = old_secret.split("_")[1]
    assert main(["admin", "rotate-key", old_prefix, "--grace", "60"]) == 0
    new_secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert works(client, new_secret) and works(client, old_secret)
    with sessions() as s:
        old = s.scalar(select(ApiKey).where(ApiKey.prefix == old_prefix))
        new = s.scalar(select(ApiKey).where(ApiKey.prefix == new_secret.split("_")[1]))
    assert old.expires_at is not None and new.scope == old.scope == "write" and new.tenant_id == tenant_id

    assert main(["admin", "revoke-key", old_prefix]) == 0
    assert not works(client, old_secret)
    assert main(["admin", "revoke-key", old_prefix]) == 2  # already revoked: a clear error, not a silent no-op
    assert [a for a, _ in audited(sessions, tenant_id)][-2:] == ["key.rotated", "key.revoked"]
