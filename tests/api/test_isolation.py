"""Tenant isolation: another tenant's resources are indistinguishable from resources that do
not exist, and their audio cannot be reached.

Tenant A (the session's shared tenant, which owns the enrolled voice) holds one of every kind
of resource, made through the API. Tenant B, holding an admin key so that no scope check hides
a leak, then calls every operation of the served OpenAPI document whose path names an id —
with A's ids — and every list operation. Path parameters are mapped to A's ids by name; an
operation with a parameter the map does not know fails the test, so a new endpoint cannot
slip past it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from shared.finetune import create_run
from shared.models import FinetuneStatus, Item
from shared.settings import Settings
from shared.storage import open_storage
from tests.helpers import admin_key, wait_until, wav_bytes

pytestmark = pytest.mark.slow
PROBLEM = "application/problem+json"
ID_PARAM = re.compile(r"\{([^}]+)\}")
RENDERED = ("succeeded", "needs_review")



# Operations whose request body is required: the body B sends (given A's ids), valid in every
# respect but ownership, so that only the tenant check can answer.
BODIES: dict[tuple[str, str], Callable[[dict[str, str]], dict[str, Any]]] = {
    ("POST", "/v1/consents/{consent_id}/recording"): lambda ids: {
        "files": {"recording": ("consent.wav", wav_bytes(), "audio/wav")}},
    ("POST", "/v1/finetune/runs/{run_id}/rerender"): lambda ids: {"json": {"voice_id": ids["voice_id"]}},
}


@dataclass
class TenantA:
    tenant_id: str
    headers: dict[str, str]
    ids: dict[str, str]  # path-parameter name -> A's id
    secrets: list[str] = field(default_factory=list)  # A's words: names, texts — never in B's answers
    item_key: str = ""

    def leaks(self, text: str, allowed: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
        """A's identifiers and words found in ``text``, less those the caller sent itself."""
        found = [v for v in (*self.ids.values(), self.tenant_id) if v not in allowed and v in text]
        return found + [w for w in self.secrets if w in text]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def tenant_a(api_url: str, shared_tenant_key: tuple[str, str], enrolled_voice: dict,
             sessions) -> Iterator[TenantA]:  # type: ignore[no-untyped-def]
    tenant_id = shared_tenant_key[0]
    key_id, secret = admin_key(sessions, tenant_id)
    h = bearer(secret)
    voice_id = enrolled_voice["id"]
    marker = f"isolation-{uuid.uuid4().hex[:8]}"

    def post(path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        r = requests.post(f"{api_url}{path}", headers=h, json=body, timeout=30)
        assert r.status_code == status, (path, r.text)
        return r.json()

    batch = post("/v1/batches", {"name": marker, "voice_id": voice_id,
                                 "items": [{"text": "星光电器的新款台灯。", "id": marker}]}, 202)

    def rendered() -> dict[str, Any] | None:
        items = requests.get(f"{api_url}/v1/batches/{batch['id']}/items", headers=h, timeout=10).json()["items"]
        assert items[0]["status"] not in ("failed", "cancelled"), items[0]
        return items[0] if items[0]["status"] in RENDERED else None

    item = wait_until(rendered, 600, "the item to render")
    consent = post("/v1/consents", {"speaker_name": f"{marker} speaker", "company_name": "Acme",
                                    "agreement_version": "v1", "agreement_text": "I agree.",
                                    "signature": f"{marker} speaker", "language": "en"})
    webhook = post("/v1/webhooks", {"url": f"https://example.com/{marker}", "events": ["batch.completed"]})
    schedule = post("/v1/schedules", {"name": marker, "cron": "0 3 * * *", "timezone": "UTC", "voice_id": voice_id,
                                      "paused": True, "source": {"items": [{"text": "每天的问候。"}]}})
    feedback = post("/v1/feedback", {"item_id": item["id"], "span": [0, 2], "note": marker})
    entry = post("/v1/lexicon", {"word": "台灯", "reading": "tai2 deng1", "voice_id": voice_id})["entry"]
    a = TenantA(tenant_id=tenant_id, headers=h, ids={
        "voice_id": voice_id, "consent_id": enrolled_voice["consent_id"], "batch_id": batch["id"],
        "item_id": item["id"], "key_id": key_id, "webhook_id": webhook["id"], "schedule_id": schedule["id"],
        "feedback_id": feedback["id"], "entry_id": entry["id"], "pending_consent_id": consent["id"],
    }, secrets=[marker, "星光电器的新款台灯"])
    with sessions.begin() as s:
        # A fine-tune run as a row only: starting one through the API would train a model.
        run = create_run(s, tenant_id, "manual", "test")
        run.status, run.reason = FinetuneStatus.failed.value, "recorded without training"
        a.ids["run_id"] = run.id
        a.item_key = s.get(Item, item["id"]).storage_key
    yield a
    # Leave the shared tenant as it was for other tests: no live schedule or webhook.
    requests.delete(f"{api_url}/v1/schedules/{schedule['id']}", headers=h, timeout=10)
    requests.delete(f"{api_url}/v1/webhooks/{webhook['id']}", headers=h, timeout=10)


@pytest.fixture(scope="module")
def document(api_url: str) -> dict[str, Any]:
    r = requests.get(f"{api_url}/v1/openapi.json", timeout=10)
    assert r.status_code == 200
    return r.json()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, op


def request_kwargs(method: str, path: str, op: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    body = op.get("requestBody")
    if body and body.get("required"):
        assert (method, path) in BODIES, f"{method} {path} needs a body: add a valid one to BODIES"
        return BODIES[(method, path)](ids)
    return {}


def test_b_cannot_reach_any_of_as_resources_by_id(api_url: str, document: dict[str, Any], tenant_a: TenantA,
                                                   admin_key: tuple[str, str]) -> None:
    """Every operation with an id in its path answers B exactly as for an id that does not exist."""
    b = bearer(admin_key[1])
    ids = {**tenant_a.ids, "consent_id": tenant_a.ids["consent_id"]}
    checked, unmapped = [], []
    for method, path, op in operations(document):
        # A stock voice's name and a signed link's file key name no tenant's row: ids only.
        params = [p for p in ID_PARAM.findall(path) if p.endswith("_id")]
        if not params or path.startswith("/v1/operator/"):
            continue  # operator routes refuse every tenant key alike (tests/test_operator_review.py)
        if any(p not in ids for p in params):
            unmapped.append(f"{method} {path}: {[p for p in params if p not in ids]}")
            continue
        # The pending consent too: some consent operations only act on a consent in a given state.
        variants = [ids] + ([{**ids, "consent_id": ids["pending_consent_id"]}] if "consent_id" in params else [])
        for chosen in variants:
            url = path
            nobody = path
            sent = set()
            for p in params:
                url = url.replace(f"{{{p}}}", chosen[p])
                nobody = nobody.replace(f"{{{p}}}", str(uuid.uuid4()))
                sent.add(chosen[p])
            kwargs = request_kwargs(method, path, op, chosen)
            r = requests.request(method, f"{api_url}{url}", headers=b, timeout=30, **kwargs)
            label = f"{method} {url} as another tenant"
            assert r.status_code == 404, f"{label}: {r.status_code} {r.text[:300]}"
            assert r.headers["Content-Type"].startswith(PROBLEM), f"{label}: {r.headers['Content-Type']}"
            assert not tenant_a.leaks(r.text, allowed=sent), f"{label} leaks {tenant_a.leaks(r.text, sent)}"
            # Indistinguishable from no row at all: the same answer, but for the id itself.
            r0 = requests.request(method, f"{api_url}{nobody}", headers=b, timeout=30,
                                  **request_kwargs(method, path, op, chosen))
            mine = json.loads(_swap_ids(r.text, url, nobody))
            assert (r0.status_code, r0.json()) == (404, mine), f"{label} differs from a missing id: {r0.text}"
            checked.append(label)
    assert not unmapped, "path parameters with no id of tenant A mapped (add them to tenant_a.ids): " + "; ".join(
        unmapped)
    assert checked, "the document has no operation with an id in its path"
    _a_is_untouched(api_url, tenant_a)


def _swap_ids(text: str, url: str, nobody: str) -> str:
    for mine, missing in zip(url.split("/"), nobody.split("/"), strict=True):
        if mine != missing:
            text = text.replace(mine, missing)
    return text


def _a_is_untouched(api_url: str, a: TenantA) -> None:
    """B's calls changed nothing of A's: every resource is still there, in the same state."""
    def get(path: str) -> dict[str, Any]:
        r = requests.get(f"{api_url}{path}", headers=a.headers, timeout=10)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    assert get(f"/v1/voices/{a.ids['voice_id']}")["status"] == "ready"
    assert get(f"/v1/consents/{a.ids['consent_id']}")["status"] == "verified"
    assert get(f"/v1/consents/{a.ids['pending_consent_id']}")["status"] == "awaiting_recording"
    assert get(f"/v1/batches/{a.ids['batch_id']}")["status"] != "cancelled"
    assert get(f"/v1/schedules/{a.ids['schedule_id']}")["paused"] is True
    assert get(f"/v1/feedback/{a.ids['feedback_id']}")["state"] == "open"
    assert a.ids["webhook_id"] in json.dumps(get("/v1/webhooks"))
    assert a.ids["entry_id"] in json.dumps(get("/v1/lexicon"))
    assert get(f"/v1/finetune/runs/{a.ids['run_id']}")["status"] == "failed"
    keys = {k["id"]: k for k in get("/v1/keys")["keys"]}
    assert keys[a.ids["key_id"]]["active"] is True


def test_b_lists_none_of_as_resources(api_url: str, document: dict[str, Any], tenant_a: TenantA,
                                      admin_key: tuple[str, str]) -> None:
    """Every list (a GET without an id in its path) shows B nothing of A's — also when B filters
    by one of A's ids."""
    b = bearer(admin_key[1])
    listed = []
    for method, path, op in operations(document):
        if method != "GET" or ID_PARAM.search(path) or path.startswith("/v1/operator/"):
            continue  # operator routes refuse every tenant key alike (tests/test_operator_review.py)
        names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
        filters = {n: tenant_a.ids[n] for n in names if n in tenant_a.ids}
        for query in ({}, filters) if filters else ({},):
            r = requests.get(f"{api_url}{path}", params=query, headers=b, timeout=30)
            label = f"GET {path}?{query} as another tenant"
            assert r.status_code in (200, 404, 422), f"{label}: {r.status_code} {r.text[:300]}"
            if r.status_code != 200:
                assert r.headers["Content-Type"].startswith(PROBLEM), label
            assert not tenant_a.leaks(r.text, allowed=set(query.values())), \
                f"{label} shows {tenant_a.leaks(r.text, set(query.values()))}"
            listed.append(label)
    assert any("/v1/voices" in label for label in listed)


def test_b_cannot_use_as_ids_in_request_bodies(api_url: str, tenant_a: TenantA, admin_key: tuple[str, str]) -> None:
    """Naming A's voice, item or consent in a body is a 404 too: no batch, preview, feedback,
    schedule, lexicon entry or voice of B's is built on A's resources."""
    b = bearer(admin_key[1])
    ids = tenant_a.ids
    cases = [
        ("/v1/batches", {"json": {"items": [{"text": "你好。", "voice_id": ids["voice_id"]}]}}),
        ("/v1/synthesize", {"json": {"text": "你好。", "voice_id": ids["voice_id"]}}),
        ("/v1/feedback", {"json": {"item_id": ids["item_id"], "span": [0, 2]}}),
        ("/v1/schedules", {"json": {"name": "b", "cron": "0 3 * * *", "timezone": "UTC",
                                    "voice_id": ids["voice_id"], "source": {"items": [{"text": "你好。"}]}}}),
        ("/v1/lexicon", {"json": {"word": "台灯", "reading": "tai2 deng1", "voice_id": ids["voice_id"]}}),
        ("/v1/voices", {"data": {"name": "b", "language": "zh", "consent_id": ids["consent_id"]},
                        "files": {"reference": ("r.wav", wav_bytes(3.0), "audio/wav")}}),
    ]
    for path, kwargs in cases:
        r = requests.post(f"{api_url}{path}", headers=b, timeout=60, **kwargs)
        assert r.status_code == 404, f"POST {path} naming A's resource: {r.status_code} {r.text[:300]}"
        assert r.headers["Content-Type"].startswith(PROBLEM)
        assert not tenant_a.leaks(r.text, allowed=set(ids.values()) - {tenant_a.tenant_id}) and \
            tenant_a.tenant_id not in r.text
    for path in ("/v1/voices", "/v1/batches", "/v1/schedules", "/v1/lexicon", "/v1/feedback"):
        listing = requests.get(f"{api_url}{path}", headers=b, timeout=30)
        if listing.status_code == 200:
            assert not tenant_a.leaks(listing.text), f"GET {path} as B after the attempts"


def _signed(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


@pytest.fixture
def local_storage_settings(settings: Settings, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    """The same database, with the local-folder storage whose signed URLs the API itself checks."""
    return settings.with_(storage_url=(tmp_path / "storage").as_uri())


def _local_app(local_settings: Settings, tenant_a: TenantA, settings: Settings):  # type: ignore[no-untyped-def]
    from worker.cli.serve import make_api

    # A's rendered audio, copied to the same key in the local folder.
    open_storage(local_settings).put(tenant_a.item_key, open_storage(settings).get(tenant_a.item_key), "audio/wav")
    return make_api(local_settings)


def _item_url(client, a: TenantA) -> str:  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/batches/{a.ids['batch_id']}/items", headers=a.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["items"][0]["url"]


def test_local_signed_urls_resist_tampering(tenant_a: TenantA, settings: Settings, local_storage_settings: Settings,
                                            admin_key: tuple[str, str]) -> None:
    client = _local_app(local_storage_settings, tenant_a, settings).test_client()
    path, query = _signed(_item_url(client, tenant_a))
    assert int(query["expires"]) - time.time() == pytest.approx(settings.presign_ttl_seconds, abs=60)
    audio = client.get(path, query_string=query)
    assert audio.status_code == 200 and audio.data[:4] == b"RIFF"
    other = admin_key[0]
    tampered = [
        (path.replace(tenant_a.tenant_id, other), query),  # the same link for another tenant's key
        (path.replace(".wav", ".npz"), query),
        (path, {**query, "signature": query["signature"][::-1]}),
        (path, {**query, "expires": str(int(query["expires"]) + 3600)}),
        (path, {"expires": query["expires"]}),
    ]
    for bad_path, bad_query in tampered:
        r = client.get(bad_path, query_string=bad_query)
        assert r.status_code == 403 and r.mimetype == PROBLEM, (bad_path, bad_query, r.status_code)
        assert b"RIFF" not in r.data


def test_signed_and_presigned_urls_expire(tenant_a: TenantA, settings: Settings, local_storage_settings: Settings,
                                          client) -> None:  # type: ignore[no-untyped-def]
    """A link lives presign_ttl_seconds: checked end to end for the local backend, and on the
    URL's signed expiry for S3 (the test S3 server does not enforce expiry itself)."""
    short = local_storage_settings.with_(presign_ttl_seconds=1)
    local = _local_app(short, tenant_a, settings).test_client()
    path, query = _signed(_item_url(local, tenant_a))
    time.sleep(2.1)
    r = local.get(path, query_string=query)
    assert r.status_code == 403 and r.mimetype == PROBLEM and b"RIFF" not in r.data

    from worker.cli.serve import make_api

    s3_short = make_api(settings.with_(presign_ttl_seconds=1)).test_client()
    assert parse_qs(urlsplit(_item_url(s3_short, tenant_a)).query)["X-Amz-Expires"] == ["1"]
    s3_url = _item_url(client, tenant_a)
    signed = {k: v[0] for k, v in parse_qs(urlsplit(s3_url).query).items()}
    assert signed["X-Amz-Expires"] == str(settings.presign_ttl_seconds)
    assert requests.get(s3_url, timeout=30).content[:4] == b"RIFF"


def _sigv4(url: str, path: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """The SigV4 query signature S3 expects for ``path`` with the URL's own date and expiry."""
    import datetime

    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    when = datetime.datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
    signer = botocore.auth.S3SigV4QueryAuth(
        Credentials(settings.s3_access_key_id, settings.s3_secret_access_key), "s3", settings.s3_region,
        expires=int(q["X-Amz-Expires"]))
    request = AWSRequest(method="GET", url=f"{parts.scheme}://{parts.netloc}{path}")
    signer.add_auth(request)
    return parse_qs(urlsplit(request.url).query)["X-Amz-Signature"][0]


def test_s3_presigned_urls_are_bound_to_their_object(tenant_a: TenantA, settings: Settings, client,
                                                     admin_key: tuple[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The test S3 server checks no signatures, so the signature is checked here as S3 does:
    it matches the object's own key and date, and no other tenant's key."""
    url = _item_url(client, tenant_a)
    parts = urlsplit(url)
    signature = parse_qs(parts.query)["X-Amz-Signature"][0]
    assert tenant_a.tenant_id in parts.path
    assert _sigv4(url, parts.path, settings, monkeypatch) == signature
    assert _sigv4(url, parts.path.replace(tenant_a.tenant_id, admin_key[0]), settings, monkeypatch) != signature
    assert _sigv4(url, parts.path.replace(".wav", ".npz"), settings, monkeypatch) != signature
