"""The OpenAPI document is written from the routes: every served ``/v1`` route and method is
in it, and a route that declares nothing fails the document instead of going unlisted."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint

from api import openapi
from api.schema import operation


def test_every_v1_route_and_method_is_documented(app, client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <uuid:entry_id> → {entry_id}
        missing += [f"{method} {path}" for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
                    if method.lower() not in spec["paths"].get(path, {})]
    assert not missing, missing


def test_every_schema_the_document_names_is_in_it(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/v1/openapi.json").get_json()
    named = set(re.findall(r"#/components/schemas/(\w+)", str(spec)))
    assert named <= set(spec["components"]["schemas"]), named - set(spec["components"]["schemas"])


def test_a_route_that_declares_nothing_fails_the_document() -> None:
    declared, undeclared = Blueprint("declared", __name__), Blueprint("undeclared", __name__)

    @declared.get("/v1/extra")
    @operation("Declared", {200: "fine"})
    def fine() -> str:
        return "fine"

    @undeclared.get("/v1/extra/<thing_id>")
    def unlisted(thing_id: str) -> str:
        return thing_id

    assert openapi.document([declared])["paths"]["/v1/extra"]["get"]["summary"] == "Declared"
    with pytest.raises(openapi.Undocumented, match="/v1/extra/<thing_id>"):
        openapi.document([declared, undeclared])


def test_a_declared_body_is_what_validates_the_request(client, auth) -> None:  # type: ignore[no-untyped-def]
    """The document's ConsentRequest and the 422 for a too-long field come from one declaration."""
    spec = client.get("/v1/openapi.json").get_json()
    limit = spec["components"]["schemas"]["ConsentRequest"]["properties"]["speaker_name"]["maxLength"]
    body = {"speaker_name": "x" * (limit + 1), "company_name": "c", "agreement_version": "1",
            "agreement_text": "t", "signature": "s"}
    r = client.post("/v1/consents", headers=auth, json=body)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert r.get_json()["field"] == "speaker_name" and str(limit) in r.get_json()["detail"]
