"""The OpenAPI 3.1 document and a browsable page generated from it (no external assets)."""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("openapi", __name__, url_prefix="/v1")

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {400: "Malformed request (JSON nested past 32 levels, a NUL or lone surrogate in its text)", 401: "Missing or bad API key", 403: "Scope too small", 404: "Not found",
               409: "Conflict (e.g. voice not ready)", 413: "Body too large", 415: "Unsupported media type",
               422: "Invalid input", 429: "Over a rate limit: the key's, the address's failed authentications or the tenant's "
                    "previews in flight (see Retry-After)", 503: "Not ready"}
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
                "status": {"enum": ["pending", "ready", "failed", "deleted"]}, "error": {"type": ["string", "null"]},
                "version": {"type": "object"}, "reference_qa": {"type": ["object", "null"]}}},
            "ConsentRequest": {"type": "object", "required": ["speaker_name", "company_name", "agreement_version",
                                                              "agreement_text", "signature"], "properties": {
                "speaker_name": {"type": "string"}, "company_name": {"type": "string"},
                "agreement_version": {"type": "string"}, "agreement_text": {"type": "string"},
                "signature": {"type": "string", "description": "the speaker's typed full name"},
                "language": {"type": "string", "maxLength": 8, "description":
                             "zh and en are verified by speech recognition; any other language tag "
                             "(ja, yue, fr-CA ...) goes to needs_review for the operator to approve"}}},
            "Consent": {"type": "object", "properties": {
                "id": {"type": "string"}, "status": {"enum": ["awaiting_recording", "verifying", "needs_review",
                                                              "verified", "approved", "rejected", "revoked"]},
                "review": {"type": ["object", "null"]}, "revoked_at": {"type": ["string", "null"]},
                "purged_at": {"type": ["string", "null"]},
                "statement": {"type": "string"}, "verification": {"type": ["object", "null"]}}},
            "BatchRequest": {"type": "object", "required": ["items"], "properties": {
                "name": {"type": "string"}, "voice_id": {"type": "string", "description": "default for items"},
                "speed": {"type": "number", "minimum": 0.5, "maximum": 2.0},
                "zip": {"type": "boolean", "description": "also deliver a ZIP of the audio and the manifest"},
                "items": {"type": "array", "minItems": 1, "maxItems": 100000,
                          "items": {"type": "object", "required": ["text"],
                          "properties": {"text": {"type": "string"}, "voice_id": {"type": "string"},
                                         "id": {"type": "string"}}}}}},
            "Batch": {"type": "object", "properties": {
                "id": {"type": "string"}, "status": {"type": "string"}, "total": {"type": "integer"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "progress": {"type": "number"}, "manifest_url": {"type": ["string", "null"]},
                "zip_url": {"type": ["string", "null"], "description": "when the batch asked for a ZIP"},
                "source_format": {"type": ["string", "null"], "enum": ["csv", "jsonl", None],
                                  "description": "set for a streamed upload; status is 'planning' while it is read"}}},
            "ItemPage": {"type": "object", "properties": {
                "items": {"type": "array", "items": {"type": "object"}},
                "next_cursor": {"type": ["integer", "null"]}}},
            "ApiKey": {"type": "object", "properties": {
                "id": {"type": "string"}, "prefix": {"type": "string"}, "scope": {"enum": ["read", "write", "admin"]},
                "active": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
                "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                "expires_at": {"type": ["string", "null"], "format": "date-time",
                               "description": "a rotated key's end of grace"}}},
            "ApiKeyWithSecret": {"allOf": [{"$ref": "#/components/schemas/ApiKey"}, {"type": "object", "properties": {
                "secret": {"type": "string", "description": "the key itself, shown only in this answer"}}}]},
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
                          **_errors(401, 403, 415, 422)}},
            "get": {"summary": "List consents, newest first; ?status=needs_review is the review queue",
                    "parameters": [{"name": "status", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "consents"}, **_errors(401, 422)}}},
        "/v1/consents/{consent_id}": {"get": {
            "summary": "A consent and its verification", "parameters": [_id_param("consent_id")],
            "responses": {"200": {"description": "consent", "content": _json("Consent")}, **_errors(401, 404)}}},
        "/v1/consents/{consent_id}/recording": {"post": {
            "summary": "The speaker reading the statement; a job verifies it by speech recognition",
            "parameters": [_id_param("consent_id")],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["recording"],
                "properties": {"recording": {"type": "string", "format": "binary"}}}}}},
            "responses": {"202": {"description": "verifying (zh, en) or needs_review (other languages)",
                                  "content": _json("Consent")},
                          **_errors(401, 403, 404, 409, 413, 415, 422)}},
            "get": {"summary": "Admin: a short-lived URL of the recording, to listen before reviewing",
                    "parameters": [_id_param("consent_id")],
                    "responses": {"200": {"description": "{url, expires_in}"}, **_errors(401, 403, 404, 409)}}},
        **{f"/v1/consents/{{consent_id}}/{verb}": {"post": {
            "summary": f"Gone for tenants: to {verb} a consent is the operator's decision "
                       "(403 operator_review_required; see /v1/operator/consents/{consent_id}/" + verb + ")",
            "parameters": [_id_param("consent_id")],
            "responses": _errors(401, 403, 404)}} for verb in ("approve", "reject")},
        "/v1/operator/consents": {"get": {
            "summary": "Operator key only: every tenant's consents awaiting review (or ?status=), oldest first",
            "parameters": [{"name": "status", "in": "query", "required": False, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "{consents: [Consent + tenant_id]}"},
                          **_errors(401, 403, 422, 429)}}},
        "/v1/operator/consents/{consent_id}": {"get": {
            "summary": "Operator key only: one consent of any tenant", "parameters": [_id_param("consent_id")],
            "responses": {"200": {"description": "consent", "content": _json("Consent")},
                          **_errors(401, 403, 404, 429)}}},
        "/v1/operator/consents/{consent_id}/recording": {"get": {
            "summary": "Operator key only: a short-lived URL of the recording, to listen before deciding",
            "parameters": [_id_param("consent_id")],
            "responses": {"200": {"description": "{url, expires_in}"}, **_errors(401, 403, 404, 409, 429)}}},
        **{f"/v1/operator/consents/{{consent_id}}/{verb}": {"post": {
            "summary": f"Operator key only: {verb} a consent awaiting review (needs_review), after listening; "
                       "audited as operator:<prefix>",
            "parameters": [_id_param("consent_id")],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"note": {"type": "string", "maxLength": 2000}}}}}},
            "responses": {"200": {"description": f"{verb}d", "content": _json("Consent")},
                          **_errors(401, 403, 404, 409, 415, 422, 429)}}} for verb in ("approve", "reject")},
        "/v1/consents/{consent_id}/revoke": {"post": {
            "summary": "Revoke consent: its voices are deleted now and one job purges their audio and state",
            "parameters": [_id_param("consent_id")],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"keep_outputs": {
                    "type": "boolean", "default": False,
                    "description": "keep audio already rendered with the voices"}}}}}},
            "responses": {"202": {"description": "revoked; purge enqueued", "content": _json("Consent")},
                          **_errors(401, 403, 404, 409, 415, 422)}}},
        "/v1/voices/{voice_id}": {"get": {"summary": "A voice and its status", "parameters": [_id_param("voice_id")],
                                          "responses": {"200": {"description": "voice", "content": _json("Voice")},
                                                        **_errors(401, 404)}},
                                  "delete": {"summary": "Delete a voice now; one job purges its audio and state",
                                             "parameters": [_id_param("voice_id"), {
                                                 "name": "keep_outputs", "in": "query",
                                                 "schema": {"type": "boolean", "default": False},
                                                 "description": "keep audio already rendered with it"}],
                                             "responses": {"202": {"description": "deleted; purge enqueued",
                                                                   "content": _json("Voice")},
                                                           **_errors(401, 403, 404, 409, 422)}}},
        "/v1/batches": {"post": {
            "summary": "Submit a batch of up to 100 000 items: JSON, or a streamed CSV ('text' column) or JSONL",
            "description": "JSON is validated whole (4xx on any bad item). A CSV or JSONL body (or multipart "
                           "'file') is stored as it arrives and read by a worker: a bad line becomes a failed item "
                           "with its line number and reason. For a raw body, voice_id, name, speed and zip are "
                           "query parameters.",
            "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": t}}
                           for n, t in (("voice_id", "string"), ("name", "string"), ("speed", "number"),
                                        ("zip", "boolean"))],
            "requestBody": {"required": True, "content": {
                **_json("BatchRequest"),
                "text/csv": {"schema": {"type": "string", "description": "header row with text[, voice_id, id]"}},
                "application/x-ndjson": {"schema": {"type": "string",
                                                    "description": "one {text, voice_id, id} object a line"}},
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary", "description": "CSV, or JSONL (.jsonl)"},
                    "voice_id": {"type": "string"}, "name": {"type": "string"}, "speed": {"type": "number"},
                    "zip": {"type": "boolean"}}}}}},
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
                           {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
            "responses": {"200": {"description": "page", "content": _json("ItemPage")}, **_errors(401, 404, 422)}}},
        "/v1/synthesize": {"post": {"summary": "Render one short text synchronously (preview)",
                                    "requestBody": {"required": True, "content": _json("SynthesizeRequest")},
                                    "responses": {"200": {"description": "WAV audio",
                                                          "content": {"audio/wav": {}}},
                                                  **_errors(401, 403, 404, 409, 415, 422, 503)}}},
    },
}


SPEC["paths"].update({
    "/v1/keys": {
        "get": {"summary": "The tenant's API keys (admin scope; never the secrets or their hashes)",
                "responses": {"200": {"description": "keys", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"keys": {"type": "array", "items": {
                        "$ref": "#/components/schemas/ApiKey"}}}}}}}, **_errors(401, 403)}},
        "post": {"summary": "Create a key for the tenant (admin scope); the secret is shown once",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["scope"],
                     "properties": {"scope": {"enum": ["read", "write", "admin"]}}}}}},
                 "responses": {"201": {"description": "created", "content": _json("ApiKeyWithSecret")},
                               **_errors(401, 403, 409, 415, 422)}}},  # 409: at the cap of live keys
    "/v1/keys/{key_id}/rotate": {"post": {
        "summary": "A new key with the same scope; the old one is revoked now or after grace_seconds",
        "parameters": [_id_param("key_id")],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"grace_seconds": {"type": "integer", "minimum": 0,
                                                               "maximum": 2592000}}}}}},
        "responses": {"201": {"description": "the new key", "content": _json("ApiKeyWithSecret")},
                      **_errors(401, 403, 404, 409, 415, 422)}}},
    "/v1/keys/{key_id}/revoke": {"post": {
        "summary": "Revoke a key now", "parameters": [_id_param("key_id")],
        "responses": {"200": {"description": "revoked", "content": _json("ApiKey")}, **_errors(401, 403, 404, 409)}}},
})
_READING = ("Chinese: tone-numbered pinyin, one syllable per character ('yin2 hang2'); English: ARPAbet "
            "('SH AW1 M IY0'), a respelling after '~' ('~show me') or Kokoro phonemes between slashes")
SPEC["components"]["schemas"].update({
    "FeedbackRequest": {"type": "object", "required": ["item_id", "span"], "properties": {
        "item_id": {"type": "string"},
        "span": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2,
                 "description": "[start, end) character offsets into the item's text"},
        "reading": {"type": "string", "description": _READING}, "reviewer": {"type": "string"},
        "note": {"type": "string"}}},
    "Feedback": {"type": "object", "properties": {
        "id": {"type": "string"}, "item_id": {"type": "string"}, "batch_id": {"type": "string"},
        "voice_id": {"type": "string"}, "span": {"type": "array", "items": {"type": "integer"}},
        "word": {"type": "string"}, "language": {"enum": ["zh", "en"]}, "reading": {"type": ["string", "null"]},
        "state": {"enum": ["open", "accepted", "rejected", "applied", "verified"]},
        "lexicon_entry_id": {"type": ["string", "null"]}}},
    "LexiconEntryRequest": {"type": "object", "required": ["word", "reading"], "properties": {
        "word": {"type": "string"}, "reading": {"type": "string", "description": _READING},
        "language": {"enum": ["zh", "en"], "description": "optional; follows from the word"},
        "voice_id": {"type": "string", "description": "only for this voice (default: every voice)"}}},
    "LexiconEntry": {"type": "object", "properties": {
        "id": {"type": "string"}, "word": {"type": "string"}, "reading": {"type": "string"},
        "language": {"enum": ["zh", "en"]}, "voice_id": {"type": ["string", "null"]},
        "created_version": {"type": "integer"}, "deleted_version": {"type": ["integer", "null"]}}},
})
_PAGING = [{"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}},
           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}]
_VERSION = {"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 0},
            "description": "a past version (default: the current one)"}
SPEC["paths"].update({
    "/v1/feedback": {
        "post": {"summary": "Report how a span of a rendered item should be read",
                 "requestBody": {"required": True, "content": _json("FeedbackRequest")},
                 "responses": {"201": {"description": "open", "content": _json("Feedback")},
                               **_errors(401, 403, 404, 409, 415, 422)}},
        "get": {"summary": "Feedback, filtered and paginated",
                "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                               for n in ("voice_id", "batch_id", "word", "state")] + _PAGING,
                "responses": {"200": {"description": "page"}, **_errors(401, 422)}}},
    "/v1/feedback/{feedback_id}": {"get": {
        "summary": "One feedback", "parameters": [_id_param("feedback_id")],
        "responses": {"200": {"description": "feedback", "content": _json("Feedback")}, **_errors(401, 404)}}},
    "/v1/feedback/{feedback_id}/accept": {"post": {
        "summary": "Accept (open only); with a reading, a lexicon entry is added at once and the state is applied",
        "parameters": [_id_param("feedback_id")],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"reading": {"type": "string", "description": "a corrected reading"},
                                             "voice_only": {"type": "boolean"}, "reviewer": {"type": "string"}}}}}},
        "responses": {"200": {"description": "accepted or applied", "content": _json("Feedback")},
                      **_errors(401, 403, 404, 409, 415, 422)}}},
    "/v1/feedback/{feedback_id}/reject": {"post": {
        "summary": "Reject (open only)", "parameters": [_id_param("feedback_id")],
        "responses": {"200": {"description": "rejected", "content": _json("Feedback")},
                      **_errors(401, 403, 404, 409)}}},
    "/v1/feedback/{feedback_id}/verify": {"post": {
        "summary": "A reviewer confirms the fix (renders using the entry verify it on their own)",
        "parameters": [_id_param("feedback_id")],
        "responses": {"200": {"description": "verified", "content": _json("Feedback")},
                      **_errors(401, 403, 404, 409)}}},
    "/v1/lexicon": {
        "get": {"summary": "Lexicon entries of the current (or a past) version; q searches word and reading",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}},
                               {"name": "voice_id", "in": "query", "schema": {"type": "string"}},
                               _VERSION] + _PAGING,
                "responses": {"200": {"description": "entries"}, **_errors(401, 404, 422)}},
        "post": {"summary": "Add or replace the entry for a word: a new lexicon version, applied to later renders",
                 "requestBody": {"required": True, "content": _json("LexiconEntryRequest")},
                 "responses": {"201": {"description": "a new version"},
                               "200": {"description": "the same entry existed: no change"},
                               **_errors(401, 403, 404, 415, 422)}}},
    "/v1/lexicon/{entry_id}": {"delete": {
        "summary": "Delete an entry: a new lexicon version", "parameters": [_id_param("entry_id")],
        "responses": {"200": {"description": "deleted"}, **_errors(401, 403, 404)}}},
    "/v1/lexicon/versions": {"get": {
        "summary": "Lexicon versions, newest first, with who changed what", "parameters": _PAGING,
        "responses": {"200": {"description": "versions"}, **_errors(401, 422)}}},
    "/v1/lexicon/export": {"get": {
        "summary": "The lexicon as CSV: word,reading,language,voice_id", "parameters": [_VERSION],
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}}, **_errors(401, 404, 422)}}},
    "/v1/lexicon/import": {"post": {
        "summary": "Import a CSV as one new version; any bad line rejects the file (422 lists lines)",
        "requestBody": {"required": True, "content": {
            "text/csv": {}, "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                              "properties": {"file": {"type": "string",
                                                                                      "format": "binary"}}}}}},
        "responses": {"200": {"description": "imported (version, added, replaced, unchanged)"},
                      **_errors(401, 403, 415, 422)}}},
})
_WEBHOOK_EVENTS = ["voice.ready", "voice.failed", "batch.completed", "batch.failed"]


def _list_of(name: str, ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"type": "object", "properties": {
        name: {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}}}}}


SPEC["components"]["schemas"].update({
    "WebhookRequest": {"type": "object", "required": ["url", "events"], "properties": {
        "url": {"type": "string", "maxLength": 2000, "description": "an http:// or https:// URL"},
        "events": {"type": "array", "minItems": 1, "items": {"enum": _WEBHOOK_EVENTS}}}},
    "Webhook": {"type": "object", "properties": {
        "id": {"type": "string"}, "url": {"type": "string"},
        "events": {"type": "array", "items": {"enum": _WEBHOOK_EVENTS}},
        "created_at": {"type": "string", "format": "date-time"},
        "previous_secret_expires_at": {"type": ["string", "null"], "format": "date-time",
                                       "description": "after a rotation, until when the old secret also signs"}}},
    "WebhookWithSecret": {"allOf": [{"$ref": "#/components/schemas/Webhook"}, {"type": "object", "properties": {
        "secret": {"type": "string", "description": "the signing secret, shown only in this answer"}}}]},
    "WebhookDelivery": {"type": "object", "properties": {
        "id": {"type": "string"}, "event_id": {"type": "string"}, "event": {"enum": _WEBHOOK_EVENTS},
        "status": {"enum": ["pending", "delivered", "failed"]}, "attempts": {"type": "integer"},
        "last_status_code": {"type": ["integer", "null"]}, "last_error": {"type": ["string", "null"]},
        "next_attempt_at": {"type": ["string", "null"]}, "created_at": {"type": "string"},
        "delivered_at": {"type": ["string", "null"]}, "payload": {"type": "object"}}},
    "ScheduleRequest": {"type": "object", "required": ["name", "cron", "timezone", "source", "voice_id"],
                        "properties": {
        "name": {"type": "string", "maxLength": 200},
        "cron": {"type": "string", "maxLength": 200,
                 "description": "5 fields (minute hour day month weekday), in the schedule's time zone"},
        "timezone": {"type": "string", "maxLength": 64, "description": "IANA, e.g. Europe/Berlin"},
        "voice_id": {"type": "string", "maxLength": 36, "description": "the default voice of the items"},
        "source": {"type": "object", "minProperties": 1, "maxProperties": 1,
                   "description": "{items: [...]} rendered as given, or {object_key} naming a CSV/JSONL "
                                  "catalogue in the tenant's storage, read at every run",
                   "properties": {
                       "items": {"type": "array", "minItems": 1, "items": {
                           "type": "object", "required": ["text"], "properties": {
                               "text": {"type": "string"}, "voice_id": {"type": "string"}, "id": {"type": "string"}}}},
                       "object_key": {"type": "string", "maxLength": 500}}},
        "missed_policy": {"enum": ["skip", "catch_up_once"], "description":
                          "skip: a run more than the misfire grace late is dropped; catch_up_once: "
                          "however many runs were missed, run once"},
        "paused": {"type": "boolean"}}},
    "Schedule": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "cron": {"type": "string"},
        "timezone": {"type": "string"}, "source": {"type": "object"}, "voice_id": {"type": "string"},
        "missed_policy": {"enum": ["skip", "catch_up_once"]}, "paused": {"type": "boolean"},
        "next_run_at": {"type": ["string", "null"], "format": "date-time"},
        "last_run_at": {"type": ["string", "null"], "format": "date-time"},
        "last_batch_id": {"type": ["string", "null"]}, "last_error": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"}}},
})
SPEC["paths"].update({
    "/v1/webhooks": {
        "post": {"summary": "Register an endpoint for events; the signing secret is shown once. Deliveries are "
                            "POSTs with Narrator-Timestamp and Narrator-Signature: t=<ts>,v1=<hex "
                            "HMAC-SHA256(secret, '<ts>.<body>')> (two v1 during a rotation's grace)",
                 "requestBody": {"required": True, "content": _json("WebhookRequest")},
                 "responses": {"201": {"description": "registered", "content": _json("WebhookWithSecret")},
                               **_errors(401, 403, 415, 422)}},
        "get": {"summary": "The tenant's webhook endpoints (never their secrets)",
                "responses": {"200": {"description": "endpoints", "content": _list_of("webhooks", "Webhook")},
                              **_errors(401)}}},
    "/v1/webhooks/{webhook_id}": {"delete": {
        "summary": "Remove an endpoint and its delivery log", "parameters": [_id_param("webhook_id")],
        "responses": {"204": {"description": "removed"}, **_errors(401, 403, 404)}}},
    "/v1/webhooks/{webhook_id}/rotate-secret": {"post": {
        "summary": "A new signing secret, shown once; the old one also signs for the grace period",
        "parameters": [_id_param("webhook_id")],
        "responses": {"200": {"description": "rotated", "content": _json("WebhookWithSecret")},
                      **_errors(401, 403, 404)}}},
    "/v1/webhooks/{webhook_id}/deliveries": {"get": {
        "summary": "The delivery log, newest first: status, attempts, last response",
        "parameters": [_id_param("webhook_id"),
                       {"name": "status", "in": "query", "schema": {"enum": ["pending", "delivered", "failed"]}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
        "responses": {"200": {"description": "deliveries", "content": _list_of("deliveries", "WebhookDelivery")},
                      **_errors(401, 404, 422)}}},
    "/v1/schedules": {
        "post": {"summary": "A batch on a cron in a time zone; beat starts each due run",
                 "requestBody": {"required": True, "content": _json("ScheduleRequest")},
                 "responses": {"201": {"description": "scheduled", "content": _json("Schedule")},
                               **_errors(401, 403, 404, 409, 415, 422)}},
        "get": {"summary": "The tenant's schedules",
                "responses": {"200": {"description": "schedules", "content": _list_of("schedules", "Schedule")},
                              **_errors(401)}}},
    "/v1/schedules/{schedule_id}": {
        "get": {"summary": "A schedule, its next and last run", "parameters": [_id_param("schedule_id")],
                "responses": {"200": {"description": "schedule", "content": _json("Schedule")}, **_errors(401, 404)}},
        "delete": {"summary": "Stop a schedule for good (its batches stay)", "parameters": [_id_param("schedule_id")],
                   "responses": {"204": {"description": "deleted"}, **_errors(401, 403, 404)}}},
    "/v1/schedules/{schedule_id}/pause": {"post": {
        "summary": "No runs until resumed", "parameters": [_id_param("schedule_id")],
        "responses": {"200": {"description": "paused", "content": _json("Schedule")},
                      **_errors(401, 403, 404, 409, 422)}}},
    "/v1/schedules/{schedule_id}/resume": {"post": {
        "summary": "Run again from the next fire time (runs that fell while paused are not caught up)",
        "parameters": [_id_param("schedule_id")],
        "responses": {"200": {"description": "resumed", "content": _json("Schedule")},
                      **_errors(401, 403, 404, 409, 422)}}},
})

SPEC["components"]["schemas"].update({
    "FinetuneRun": {"type": "object", "properties": {
        "id": {"type": "string"}, "version": {"type": "integer"}, "trigger": {"enum": ["nightly", "manual"]},
        "status": {"enum": ["queued", "running", "promoted", "rejected", "failed", "rolled_back"]},
        "active": {"type": "boolean", "description": "the adapter the tenant's renders use now"},
        "reason": {"type": ["string", "null"], "description": "the evaluation gate's verdict"},
        "metrics": {"type": "object", "description": "held-out corrections and base-set accuracy before/after"},
        "created_at": {"type": "string"}, "finished_at": {"type": ["string", "null"]},
        "rolled_back_at": {"type": ["string", "null"]}}},
})
SPEC["paths"].update({
    "/v1/finetune/runs": {
        "get": {"summary": "Fine-tune runs of the tenant's pronunciation adapter, newest first",
                "responses": {"200": {"description": "runs", "content": _list_of("runs", "FinetuneRun")},
                              **_errors(401)}},
        "post": {"summary": "Fine-tune now on the accepted corrections (the nightly job, started at once)",
                 "responses": {"202": {"description": "queued", "content": _json("FinetuneRun")},
                               **_errors(401, 403)}}},
    "/v1/finetune/runs/{run_id}": {"get": {
        "summary": "A run: the gate's metrics, promoted or not and why", "parameters": [_id_param("run_id")],
        "responses": {"200": {"description": "run", "content": _json("FinetuneRun")}, **_errors(401, 404)}}},
    "/v1/finetune/runs/{run_id}/rollback": {"post": {
        "summary": "Retire the adapter in use; renders return to the previous promoted one (admin)",
        "parameters": [_id_param("run_id")],
        "responses": {"200": {"description": "rolled back"}, **_errors(401, 403, 404)}}},
    "/v1/finetune/runs/{run_id}/rerender": {"post": {
        "summary": "Opt-in: a new batch of the tenant's texts containing what the run learned",
        "parameters": [_id_param("run_id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["voice_id"], "properties": {"voice_id": {"type": "string"}}}}}},
        "responses": {"202": {"description": "batch queued"}, **_errors(401, 403, 404, 415, 422)}}},
})
SPEC["components"]["schemas"].update({
    "FinetuneScheduleRequest": {"type": "object", "additionalProperties": False, "properties": {
        "hour": {"type": ["integer", "null"], "minimum": 0, "maximum": 23,
                 "description": "local hour the nightly run may start from; null: the deployment's default "
                                "hour, in UTC"},
        "timezone": {"type": ["string", "null"], "maxLength": 64,
                     "description": "IANA, e.g. Europe/Berlin (needs an hour; null: UTC)"},
        "enabled": {"type": "boolean", "default": True, "description": "false: no nightly runs"}}},
    "FinetuneSchedule": {"type": "object", "required": ["hour", "timezone", "enabled", "default", "next_run_at",
                                                        "next_run_local"], "properties": {
        "hour": {"type": "integer", "minimum": 0, "maximum": 23}, "timezone": {"type": "string"},
        "enabled": {"type": "boolean"},
        "default": {"type": "boolean", "description": "the tenant chose no hour: the deployment's, in UTC"},
        "next_run_at": {"type": ["string", "null"], "format": "date-time",
                        "description": "the next nightly slot, UTC; a run starts only if corrections arrived "
                                       "since the last run (null when disabled)"},
        "next_run_local": {"type": ["string", "null"], "format": "date-time",
                           "description": "the same instant in the schedule's time zone"}}},
})
SPEC["paths"].update({
    "/v1/finetune/schedule": {
        "get": {"summary": "When the tenant's nightly fine-tune may start, and the next slot",
                "responses": {"200": {"description": "schedule", "content": _json("FinetuneSchedule")},
                              **_errors(401)}},
        "put": {"summary": "Set the nightly fine-tune's local hour, time zone and on/off (the whole schedule; "
                           "audited)",
                "requestBody": {"required": True, "content": _json("FinetuneScheduleRequest")},
                "responses": {"200": {"description": "the effective schedule", "content": _json("FinetuneSchedule")},
                              **_errors(401, 403, 415, 422)}}},
})

# Replaying a key's answer would mean storing its secret: these POSTs take no Idempotency-Key.
NOT_IDEMPOTENT = ("/v1/keys", "/v1/webhooks")

for _path, _ops in SPEC["paths"].items():
    for _op in _ops.values():
        # Any request can be malformed (api/validation.py refuses it before the view runs).
        _op["responses"] = {**_errors(400), **_op["responses"]}
        if "401" in _op["responses"]:  # authenticated: subject to the key's rate limit
            _op["responses"].update(_errors(429))
    if "post" in _ops and not _path.startswith(NOT_IDEMPOTENT):
        _ops["post"].setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})
        # the key's own errors: 422 for a malformed key, 409 for a key reused with another request
        _ops["post"]["responses"] = {**_errors(409, 422), **_ops["post"]["responses"]}


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
