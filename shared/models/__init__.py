"""The system of record: every job's state lives in these rows, not in Celery.

One module per aggregate; this package is their public surface (``from shared.models import
Voice``). Importing it imports every module, so the declarative ``Base.metadata`` holds every
table wherever it is used: Alembic's environment, ``create_all`` and the mappers' string
references (``relationship("VoiceVersion")``) all need the whole schema.
"""

from shared.models.audit import AuditCheckpoint, AuditEvent
from shared.models.base import NAMING, Base, new_id, utcnow
from shared.models.batches import FINISHED_ITEM_STATES, Batch, BatchStatus, Item, ItemStatus
from shared.models.pronunciation import (
    Feedback,
    FeedbackState,
    FinetuneRun,
    FinetuneStatus,
    LexiconEntry,
    LexiconVersion,
)
from shared.models.schedules import MissedPolicy, Schedule
from shared.models.tenants import ApiKey, ConsoleSession, IdempotencyRecord, OperatorKey, Tenant
from shared.models.voices import Consent, ConsentStatus, ReferenceAudio, Voice, VoiceStatus, VoiceVersion
from shared.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "FINISHED_ITEM_STATES",
    "NAMING",
    "ApiKey",
    "AuditCheckpoint",
    "AuditEvent",
    "Base",
    "Batch",
    "BatchStatus",
    "Consent",
    "ConsentStatus",
    "ConsoleSession",
    "DeliveryStatus",
    "Feedback",
    "FeedbackState",
    "FinetuneRun",
    "FinetuneStatus",
    "IdempotencyRecord",
    "Item",
    "ItemStatus",
    "LexiconEntry",
    "LexiconVersion",
    "MissedPolicy",
    "OperatorKey",
    "ReferenceAudio",
    "Schedule",
    "Tenant",
    "Voice",
    "VoiceStatus",
    "VoiceVersion",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "new_id",
    "utcnow",
]
