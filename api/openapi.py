"""The OpenAPI 3.1 document, written from the routes themselves, and a browsable page of it.

Every rule of the API's blueprints is an operation of the document; what each one takes
and answers is its view's :class:`api.schema.Operation` (declared beside the route, with
the same request schema that validates it). The fixed parts — info, security, the
response schemas — are data (``openapi_base.json``). A route with no declaration fails
the document, and so its tests, rather than going undocumented.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.routing import Rule

from api.routes import BLUEPRINTS
from api.schema import Body, Form, Operation, operation

bp = Blueprint("openapi", __name__, url_prefix="/v1")

BASE = Path(__file__).with_name("openapi_base.json")
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
ERROR_REASONS = {
    400: "Malformed request (JSON nested past 32 levels, a NUL or lone surrogate in its text)",
    401: "Missing or bad API key", 403: "Scope too small", 404: "Not found",
    409: "Conflict (e.g. voice not ready)",
    413: "Body too large", 415: "Unsupported media type", 422: "Invalid input",
    429: "Over a rate limit: the key's, the address's failed authentications or the tenant's previews in flight "
         "(see Retry-After)",
    503: "Not ready",
}
IDEMPOTENCY_ERRORS = (409, 422)  # a key reused with another request; a malformed key
METHODS = ("get", "put", "post", "delete")


class Undocumented(LookupError):
    """A served route whose view declares no operation."""


def document(blueprints: Iterable[Blueprint] = BLUEPRINTS) -> dict[str, Any]:
    """The whole document, from the API's blueprints as the app registers them."""
    base = json.loads(BASE.read_text(encoding="utf-8"))
    schemas: dict[str, Any] = base.pop("schemas")
    app = Flask(__name__)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_blueprint(bp)
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, "operation", None)
        if op is None:
            raise Undocumented(f"{rule.rule} ({rule.endpoint}) declares no operation")
        for method in sorted(m.lower() for m in rule.methods or ()):
            if method in METHODS:
                paths.setdefault(path_of(rule), {})[method] = _operation(rule, method, op, view, schemas)
    return {"openapi": "3.1.0", "info": base.pop("info"),
            "components": {**base, "schemas": schemas}, "security": [{"apiKey": []}], "paths": paths}


def path_of(rule: Rule) -> str:
    """``/v1/lexicon/<uuid:entry_id>`` → ``/v1/lexicon/{entry_id}``."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)


def _operation(rule: Rule, method: str, op: Operation, view: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    idempotent = method == "post" and getattr(view, "idempotent", False)
    errors = {400, *op.errors, *(() if op.public else (429,)), *(IDEMPOTENCY_ERRORS if idempotent else ())}
    out: dict[str, Any] = {"summary": op.summary, **({"description": op.description} if op.description else {})}
    if op.public:
        out["security"] = []
    parameters = [*_path_parameters(rule), *_query_parameters(op)]
    if idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = _request_body(op.body, schemas)
    out["responses"] = {**{str(code): _response(answer) for code, answer in op.responses.items()},
                        **{str(code): {"description": ERROR_REASONS[code], "content": PROBLEM}
                           for code in sorted(errors)}}
    return out


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    """An ``..._id`` is a UUID; any other path argument (a stock voice's name, a file key) is text."""
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "string", **({"format": "uuid"} if name.endswith("_id") else {})}}
            for name in re.findall(r"<(?:\w+:)?(\w+)>", rule.rule)]


def _query_parameters(op: Operation) -> list[dict[str, Any]]:
    out = []
    for name, field in op.query.items():
        schema = field.schema()
        description = schema.pop("description", None)
        out.append({"name": name, "in": "query", "required": False, "schema": schema,
                    **({"description": description} if description else {})})
    return out


def _request_body(body: Body | Form | Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """A :class:`Body` is JSON, a :class:`Form` multipart; other bodies declare their media
    types, where a schema may again be either (a batch: JSON, CSV, JSONL or a multipart file)."""
    if isinstance(body, Body):
        return {"required": not body.optional, "content": {"application/json": {"schema": _schema(body, schemas)}}}
    if isinstance(body, Form):
        return {"required": True, "content": {"multipart/form-data": {"schema": body.schema()}}}
    return {**body, "content": {media: {**spec, **({"schema": _schema(spec["schema"], schemas)}
                                                   if isinstance(spec.get("schema"), (Body, Form)) else {})}
                                for media, spec in body["content"].items()}}


def _schema(body: Body | Form, schemas: dict[str, Any]) -> dict[str, Any]:
    """A body's schema, as a reference to a component when it has a name."""
    if not isinstance(body, Body) or not body.name:
        return body.schema()
    schemas[body.name] = body.schema()
    return {"$ref": f"#/components/schemas/{body.name}"}


def _response(answer: str | tuple[str, Any]) -> dict[str, Any]:
    if isinstance(answer, str):
        return {"description": answer}
    description, content = answer
    if isinstance(content, str):
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{content}"}}}
    return {"description": description, "content": dict(content)}


@operation("This document", {200: ("OpenAPI 3.1", {"application/json": {}})}, public=True)
@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(document())


@operation("This document as a page", {200: ("HTML", {"text/html": {}})}, public=True)
@bp.get("/docs")
def docs() -> ResponseReturnValue:
    spec = document()
    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = ", ".join(op["responses"])
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(op['summary'])}</td><td>{codes}</td></tr>")
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>narrator API</title>"
        "<style>body{font-family:system-ui;margin:2rem}td,th{padding:.3rem .8rem;text-align:left}</style></head>"
        f"<body><h1>narrator API v1</h1><p>{html.escape(spec['info']['description'])}</p>"
        "<p>Machine-readable: <a href='/v1/openapi.json'>/v1/openapi.json</a></p>"
        "<table><tr><th>Method</th><th>Path</th><th>What it does</th><th>Responses</th></tr>"
        + "".join(rows) + "</table></body></html>"
    )
    return Response(page, mimetype="text/html")
