"""Task names and queues: the contract between the API (which enqueues) and the worker."""

from __future__ import annotations

ENROLL = "narrator.enroll_voice"
VERIFY_CONSENT = "narrator.verify_consent"
PLAN_BATCH = "narrator.plan_batch"
SYNTHESIZE_ITEM = "narrator.synthesize_item"
FINETUNE = "narrator.finetune"
# A speech stream (POST /v1/audio/speech): args (item_id,), always on ``interactive``; its audio
# goes back on the stream's channel (shared.speech_channel), not to the item's batch.
STREAM_SPEECH = "narrator.stream_speech"
START_DUE_FINETUNES = "narrator.start_due_finetunes"
SWEEP = "narrator.sweep_stuck_items"
# Delete a revoked consent's (or a deleted voice's) audio and model state: args (scope, id, keep_outputs)
# where scope is "consent" or "voice". Purges have their own queue and worker: a withdrawal
# must not wait behind (or die with) an enrollment decoding a hostile upload.
PURGE = "narrator.purge_voice"
PURGES = "purge"
# Webhooks: light work (an HTTP POST) on their own queue, so a notification never waits
# behind a render.
DELIVER_WEBHOOK = "narrator.deliver_webhook"
WEBHOOKS = "webhooks"
# Beat's ticks (schedule runs, the webhook sweeper) have a queue of their own, read first by
# the webhooks worker: a flood of deliveries to slow receivers (tenants choose them) cannot
# delay another tenant's scheduled batch by more than one delivery's deadline.
SWEEP_WEBHOOKS = "narrator.sweep_webhooks"
RUN_DUE_SCHEDULES = "narrator.run_due_schedules"
HOUSEKEEPING = "housekeeping"

# ``interactive`` carries previews and small batches: it never holds more than a few items,
# so a worker reading it alongside ``synth`` reaches them within one item's render.
INTERACTIVE = "interactive"
QUEUES = ("enroll", "synth", "finetune", INTERACTIVE, WEBHOOKS, HOUSEKEEPING, PURGES)

ROUTES = {
    ENROLL: {"queue": "enroll"},
    VERIFY_CONSENT: {"queue": "enroll"},
    PLAN_BATCH: {"queue": "synth"},
    SYNTHESIZE_ITEM: {"queue": "synth"},
    STREAM_SPEECH: {"queue": INTERACTIVE},
    FINETUNE: {"queue": "finetune"},
    START_DUE_FINETUNES: {"queue": "finetune"},
    SWEEP: {"queue": "synth"},
    PURGE: {"queue": PURGES},
    DELIVER_WEBHOOK: {"queue": WEBHOOKS},
    SWEEP_WEBHOOKS: {"queue": HOUSEKEEPING},
    RUN_DUE_SCHEDULES: {"queue": HOUSEKEEPING},
}


def synth_queue(batch_total: int, interactive_max_items: int) -> str:
    """Where a batch's items (and its planning) go: small batches and previews to
    ``interactive``, anything larger to ``synth``."""
    return INTERACTIVE if batch_total <= interactive_max_items else "synth"
