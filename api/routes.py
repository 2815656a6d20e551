"""The API's route blueprints, in one list: the app registers them and the OpenAPI document
is written from their URL rules, so a blueprint cannot be served and left out of the document."""

from __future__ import annotations

from flask import Blueprint

from api import (
    batches,
    consents,
    feedback,
    files,
    finetune,
    health,
    keys,
    lexicon,
    observability,
    operator,
    schedules,
    speech,
    synthesize,
    voices,
    webhooks,
)

BLUEPRINTS: tuple[Blueprint, ...] = (
    health.bp, observability.bp, consents.bp, voices.bp, batches.bp, synthesize.bp, speech.bp, files.bp,
    keys.bp, webhooks.bp, schedules.bp, lexicon.bp, feedback.bp, finetune.bp, operator.bp,
)
