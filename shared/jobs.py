"""Task names and queues: the contract between the API (which enqueues) and the worker."""

from __future__ import annotations

ENROLL = "narrator.enroll_voice"
VERIFY_CONSENT = "narrator.verify_consent"
PLAN_BATCH = "narrator.plan_batch"
SYNTHESIZE_ITEM = "narrator.synthesize_item"
FINETUNE = "narrator.finetune"
SWEEP = "narrator.sweep_stuck_items"

QUEUES = ("enroll", "synth", "finetune")

ROUTES = {
    ENROLL: {"queue": "enroll"},
    VERIFY_CONSENT: {"queue": "enroll"},
    PLAN_BATCH: {"queue": "synth"},
    SYNTHESIZE_ITEM: {"queue": "synth"},
    FINETUNE: {"queue": "finetune"},
    SWEEP: {"queue": "synth"},
}
