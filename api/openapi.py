"""The OpenAPI 3.1 document and a browsable page generated from it (no external assets)."""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("openapi", __name__, url_prefix="/v1")

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {400: "Bad request", 401: "Missing or bad API key", 403: "Scope too small", 404: "Not found",
               409: "Conflict (e.g. voice not ready)", 413: "Body too large", 415: "Unsupported media type",
               422: "Invalid input", 503: "Not ready"}
    return {str(c): {"description": reasons[c], "content": PROBLEM} for c in codes}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "narrator", "version": "1",
             "description": "Consented voice cloning and batch narration. Authenticate with "
                            "'Authorization: Bearer <key>'. Errors are application/problem+json."},
    "components": {
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        "parameters": {"IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 200},
            "description": "Retry-safe POST: the same key and request replay the first response "
                           "(header Idempotent-Replayed: true); the same key with another request is a 409."}},
        "schemas": {
            "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "code": {"type": "string"}, "field": {"type": "string"}}},
            "Voice": {"type": "object", "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "language": {"enum": ["zh", "en"]},
                "status": {"enum": ["pending", "ready", "failed"]}, "error": {"type": ["string", "null"]},
                "version": {"type": "object"}, "reference_qa": {"type": ["object", "null"]}}},
            "ConsentRequest": {"type": "object", "required": ["speaker_name", "company_name", "agreement_version",
                                                              "agreement_text", "signature"], "properties": {
                "speaker_name": {"type": "string"}, "company_name": {"type": "string"},
                "agreement_version": {"type": "string"}, "agreement_text": {"type": "string"},
                "signature": {"type": "string", "description": "the speaker's typed full name"},
                "language": {"enum": ["zh", "en"]}}},
            "Consent": {"type": "object", "properties": {
                "id": {"type": "string"}, "status": {"enum": ["awaiting_recording", "verifying", "verified",
                                                              "rejected", "revoked"]},
                "statement": {"type": "string"}, "verification": {"type": ["object", "null"]}}},
            "BatchRequest": {"type": "object", "required": ["items"], "properties": {
                "name": {"type": "string"}, "voice_id": {"type": "string", "description": "default for items"},
                "speed": {"type": "number", "minimum": 0.5, "maximum": 2.0},
                "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["text"],
                          "properties": {"text": {"type": "string"}, "voice_id": {"type": "string"},
                                         "id": {"type": "string"}}}}}},
            "Batch": {"type": "object", "properties": {
                "id": {"type": "string"}, "status": {"type": "string"}, "total": {"type": "integer"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "progress": {"type": "number"}, "manifest_url": {"type": ["string", "null"]}}},
            "ItemPage": {"type": "object", "properties": {
                "items": {"type": "array", "items": {"type": "object"}},
                "next_cursor": {"type": ["integer", "null"]}}},
            "SynthesizeRequest": {"type": "object", "required": ["text", "voice_id"], "properties": {
                "text": {"type": "string", "maxLength": 300}, "voice_id": {"type": "string"},
                "speed": {"type": "number"}}},
        },
    },
    "security": [{"apiKey": []}],
    "paths": {
        "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"summary": "Readiness: database, broker, storage", "security": [],
                            "responses": {"200": {"description": "ready"}, **_errors(503)}}},
        "/v1/voices": {
            "post": {"summary": "Upload a reference recording; an enrollment job builds the voice",
                     "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                         "type": "object", "required": ["name", "language", "reference", "consent_id"], "properties": {
                             "name": {"type": "string"}, "language": {"enum": ["zh", "en"]},
                             "consent_id": {"type": "string", "description": "a verified consent of the speaker"},
                             "reference": {"type": "string", "format": "binary"}}}}}},
                     "responses": {"202": {"description": "accepted", "content": _json("Voice")},
                                   **_errors(401, 403, 413, 415, 422)}},
            "get": {"summary": "List voices", "responses": {"200": {"description": "voices"}, **_errors(401)}},
        },
        "/v1/consents": {"post": {
            "summary": "The speaker's signed consent; returns the statement they must read aloud",
            "requestBody": {"required": True, "content": _json("ConsentRequest")},
            "responses": {"201": {"description": "awaiting the recording", "content": _json("Consent")},
                          **_errors(401, 403, 415, 422)}}},
        "/v1/consents/{consent_id}": {"get": {
            "summary": "A consent and its verification", "parameters": [_id_param("consent_id")],
            "responses": {"200": {"description": "consent", "content": _json("Consent")}, **_errors(401, 404)}}},
        "/v1/consents/{consent_id}/recording": {"post": {
            "summary": "The speaker reading the statement; a job verifies it by speech recognition",
            "parameters": [_id_param("consent_id")],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["recording"],
                "properties": {"recording": {"type": "string", "format": "binary"}}}}}},
            "responses": {"202": {"description": "verifying", "content": _json("Consent")},
                          **_errors(401, 403, 404, 409, 413, 415, 422)}}},
        "/v1/voices/{voice_id}": {"get": {"summary": "A voice and its status", "parameters": [_id_param("voice_id")],
                                          "responses": {"200": {"description": "voice", "content": _json("Voice")},
                                                        **_errors(401, 404)}}},
        "/v1/batches": {"post": {
            "summary": "Submit a batch (JSON, or a CSV file with a 'text' column)",
            "requestBody": {"required": True, "content": {
                **_json("BatchRequest"),
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"}, "voice_id": {"type": "string"},
                    "name": {"type": "string"}, "speed": {"type": "number"}}}}}},
            "responses": {"202": {"description": "accepted", "content": _json("Batch")},
                          **_errors(401, 403, 404, 409, 413, 415, 422)}}},
        "/v1/batches/{batch_id}": {"get": {"summary": "Counts per status and progress",
                                           "parameters": [_id_param("batch_id")],
                                           "responses": {"200": {"description": "batch", "content": _json("Batch")},
                                                         **_errors(401, 404)}}},
        "/v1/batches/{batch_id}/cancel": {"post": {
            "summary": "Cancel a batch: queued items stop now, a running item finishes",
            "parameters": [_id_param("batch_id")],
            "responses": {"202": {"description": "cancelled", "content": _json("Batch")}, **_errors(401, 403, 404, 409)}}},
        "/v1/batches/{batch_id}/items": {"get": {
            "summary": "Items, paginated; each with a presigned URL once rendered",
            "parameters": [_id_param("batch_id"),
                           {"name": "status", "in": "query", "schema": {"type": "string"}},
                           {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
            "responses": {"200": {"description": "page", "content": _json("ItemPage")}, **_errors(401, 404, 422)}}},
        "/v1/synthesize": {"post": {"summary": "Render one short text synchronously (preview)",
                                    "requestBody": {"required": True, "content": _json("SynthesizeRequest")},
                                    "responses": {"200": {"description": "WAV audio",
                                                          "content": {"audio/wav": {}}},
                                                  **_errors(401, 403, 404, 409, 415, 422, 503)}}},
    },
}


for _ops in SPEC["paths"].values():
    if "post" in _ops:
        _ops["post"].setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(SPEC)


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    rows = []
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            codes = ", ".join(op["responses"])
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(op['summary'])}</td><td>{codes}</td></tr>")
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>narrator API</title>"
        "<style>body{font-family:system-ui;margin:2rem}td,th{padding:.3rem .8rem;text-align:left}</style></head>"
        f"<body><h1>narrator API v1</h1><p>{html.escape(SPEC['info']['description'])}</p>"
        "<p>Machine-readable: <a href='/v1/openapi.json'>/v1/openapi.json</a></p>"
        "<table><tr><th>Method</th><th>Path</th><th>What it does</th><th>Responses</th></tr>"
        + "".join(rows) + "</table></body></html>"
    )
    return Response(page, mimetype="text/html")
