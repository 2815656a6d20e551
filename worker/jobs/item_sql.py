"""The statements on every item's path, built once per process.

An item runs four statements beyond its render (the claim with its reads, the cache
probe, the finish, the read after it; on SQLite the claim's reads are a fifth). Building a
statement like these in SQLAlchemy costs about a millisecond of Python, more than
PostgreSQL takes to run it, so each is built here once with bound
parameters (``:item_id`` and the like) and executed on a plain connection in autocommit:
each statement stands alone (the claim and the finish are single atomic UPDATEs), so none
pays a BEGIN and a COMMIT round trip. The callers are ``worker.jobs.render`` and ``worker.jobs.finish``.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, Select, Update, and_, bindparam, or_, select, update
from sqlalchemy.orm import aliased

from shared import stock_voices
from shared.consent import in_force_clause
from shared.finetune import newest_promoted_query
from shared.lexicon import current_version_query
from shared.models import Batch, Consent, FinetuneRun, Item, ItemStatus, Voice, VoiceStatus, VoiceVersion
from worker.jobs.window import in_broker_count, unfinished_exists

QUEUED, RUNNING = ItemStatus.queued.value, ItemStatus.running.value
DELIVERED = (ItemStatus.succeeded.value, ItemStatus.needs_review.value)


def voice_usable() -> ColumnElement[bool]:
    """The item's voice is not deleted and its consent is in force (NULL, so false, without one),
    or it is a stock voice (its version's state is a public pack: ``shared.stock_voices``).
    The query joins the voice's current version."""
    stock = VoiceVersion.state_key.startswith(stock_voices.STATE_PREFIX, autoescape=True)
    return and_(Voice.status != VoiceStatus.deleted.value, or_(stock, in_force_clause()))


def claim() -> Update:
    """queued → running, or a ``running`` claim older than ``:expired`` taken over."""
    return (update(Item)
            .where(Item.id == bindparam("item_id"),
                   or_(Item.status == QUEUED, and_(Item.status == RUNNING, Item.started_at < bindparam("expired"))))
            .values(status=RUNNING, attempts=Item.attempts + 1, started_at=bindparam("now"))
            .returning(Item.tenant_id, Item.batch_id, Item.seq, Item.text, Item.voice_id))


def claim_reads(item: FromClause) -> Select:
    """The claimed item and what it renders with: batch, voice version, consent, lexicon
    version, adapter. ``item`` is the items table, or the claim itself (``claimed``)."""
    return (select(item.c.tenant_id, item.c.batch_id, item.c.seq, item.c.text, item.c.voice_id,
                   Batch.params, Batch.status, VoiceVersion.id, VoiceVersion.state_key, voice_usable(),
                   current_version_query(item.c.tenant_id).scalar_subquery(),
                   FinetuneRun.id, FinetuneRun.version, FinetuneRun.metrics, FinetuneRun.adapter_key)
            .select_from(item)
            .outerjoin(Batch, Batch.id == item.c.batch_id).outerjoin(Voice, Voice.id == item.c.voice_id)
            .outerjoin(VoiceVersion, VoiceVersion.id == Voice.current_version_id)
            .outerjoin(Consent, Consent.id == Voice.consent_id)
            .outerjoin(FinetuneRun, FinetuneRun.id == newest_promoted_query(item.c.tenant_id).scalar_subquery())
            .where(item.c.id == bindparam("item_id")))


def claimed() -> Select:
    """The claim and its reads in one statement (one round trip): the UPDATE runs as a
    common table expression, which PostgreSQL allows and SQLite does not."""
    return claim_reads(claim().returning(Item.id).cte("claimed"))


def finish() -> Update:
    """The item's outcome; returns its batch. The columns set are the parameters named
    like them (a Core UPDATE without ``.values()`` takes its SET clause from those)."""
    items = Item.__table__
    return update(items).where(items.c.id == bindparam("item_id")).returning(items.c.batch_id)


def prior_render() -> Select:
    """A delivered render of the same content (``:content_hash``) by another item of the tenant."""
    return (select(Item.status, Item.storage_key, Item.checksum, Item.duration_s, Item.quality, Item.error,
                   Item.voice_version_id, Item.normalized_text)
            .where(Item.tenant_id == bindparam("tenant_id"), Item.content_hash == bindparam("content_hash"),
                   Item.id != bindparam("item_id"), Item.status.in_(DELIVERED), Item.storage_key.is_not(None))
            .limit(1))


def after_item() -> Select:
    """A finished item's stored audio and whether its voice may still be used, beside its
    batch's state: settled or not, anything left to run, how many the broker holds."""
    finished = aliased(Item)
    return (select(finished.storage_key, voice_usable(), Batch.id, Batch.status, Batch.total, Batch.dispatched_seq,
                   Batch.finished_at, unfinished_exists(), in_broker_count())
            .select_from(finished).outerjoin(Voice, Voice.id == finished.voice_id)
            .outerjoin(VoiceVersion, VoiceVersion.id == Voice.current_version_id)
            .outerjoin(Consent, Consent.id == Voice.consent_id).outerjoin(Batch, Batch.id == finished.batch_id)
            .where(finished.id == bindparam("item_id")))


CLAIM, CLAIM_READS, CLAIMED = claim(), claim_reads(Item.__table__), claimed()
FINISH, PRIOR_RENDER, AFTER_ITEM = finish(), prior_render(), after_item()
