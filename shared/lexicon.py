"""A tenant's pronunciation lexicon, versioned: every change is a new version number, and
entries are immutable history (an entry lives from ``created_version`` until
``deleted_version``), so any render can say exactly which lexicon it used and any
version can be rebuilt.

One writer at a time per tenant: a change locks the tenant row before it takes the next
version number (the unique (tenant, version) constraint backs this up).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from shared.audit import record
from shared.models import LexiconEntry, LexiconVersion, Tenant
from shared.pronunciation.lexicon import Entry, word_key

SUMMARY_MAX = 2000


@dataclass(frozen=True)
class Change:
    """What one version changed: entries added (or replacing another) and entries removed."""

    version: int
    added: list[LexiconEntry]
    removed: list[LexiconEntry]


def current_version_query(tenant_id: Any) -> Select[tuple[int]]:
    """The tenant's newest lexicon version, 0 when it never had one: as a query, so a
    worker's claim can read it as a subquery of its own read (``tenant_id`` may be a column)."""
    return select(func.coalesce(func.max(LexiconVersion.version), 0)).where(LexiconVersion.tenant_id == tenant_id)


def current_version(session: Session, tenant_id: str) -> int:
    """The tenant's newest lexicon version; 0 when it never had one."""
    return int(session.scalar(current_version_query(tenant_id)) or 0)


def entries_at(session: Session, tenant_id: str, version: int | None = None) -> list[LexiconEntry]:
    """Every entry (all voices) of version ``version`` (default: the current one)."""
    query = select(LexiconEntry).where(LexiconEntry.tenant_id == tenant_id)
    if version is None:
        query = query.where(LexiconEntry.deleted_version.is_(None))
    else:
        query = query.where(LexiconEntry.created_version <= version,
                            or_(LexiconEntry.deleted_version.is_(None), LexiconEntry.deleted_version > version))
    return list(session.scalars(query.order_by(LexiconEntry.word, LexiconEntry.voice_id)))


def as_entry(row: LexiconEntry) -> Entry:
    return Entry(word=row.word, reading=row.reading, language=row.language, voice_id=row.voice_id, id=row.id)


def _live(session: Session, tenant_id: str) -> dict[tuple[str, str | None], LexiconEntry]:
    return {(word_key(r.word), r.voice_id): r for r in entries_at(session, tenant_id)}


def apply(session: Session, tenant_id: str, actor: str, upserts: Sequence[Entry] = (),
          removals: Iterable[LexiconEntry] = (), summary: str | None = None) -> Change:
    """Add or replace ``upserts`` and delete ``removals`` as ONE new version, audited.

    An upsert whose word (per voice) already has the same reading and language changes
    nothing; if nothing changes at all, no version is made and ``Change.version`` is the
    current one.
    """
    session.get(Tenant, tenant_id, with_for_update=True)
    version = current_version(session, tenant_id) + 1
    live = _live(session, tenant_id)
    added: list[LexiconEntry] = []
    removed: list[LexiconEntry] = []
    for entry in upserts:
        old = live.get((word_key(entry.word), entry.voice_id))
        if old is not None and old.reading == entry.reading and old.language == entry.language and \
                old.word == entry.word:
            continue
        if old is not None:
            old.deleted_version = version
            removed.append(old)
        row = LexiconEntry(tenant_id=tenant_id, voice_id=entry.voice_id, word=entry.word, reading=entry.reading,
                           language=entry.language, created_version=version)
        session.add(row)
        added.append(row)
        live[(word_key(entry.word), entry.voice_id)] = row
    for row in removals:
        if row.deleted_version is None and row not in added:
            row.deleted_version = version
            removed.append(row)
    if not added and not removed:
        return Change(version=version - 1, added=[], removed=[])
    replaced = {word_key(r.word) for r in removed} & {word_key(a.word) for a in added}
    text = summary or _summary(added, removed, replaced)
    session.add(LexiconVersion(tenant_id=tenant_id, version=version, actor=actor, summary=text[:SUMMARY_MAX]))
    session.flush()
    record(session, tenant_id, actor, "lexicon.changed", "lexicon", tenant_id, version=version,
           added=[{"id": r.id, "word": r.word, "reading": r.reading, "voice_id": r.voice_id} for r in added[:50]],
           removed=[{"id": r.id, "word": r.word} for r in removed[:50]],
           n_added=len(added), n_removed=len(removed))
    return Change(version=version, added=added, removed=removed)


def _summary(added: list[LexiconEntry], removed: list[LexiconEntry], replaced: set[str]) -> str:
    parts = []
    for row in added:
        verb = "replaced" if word_key(row.word) in replaced else "added"
        parts.append(f"{verb} {row.word} = {row.reading}")
    parts += [f"deleted {r.word}" for r in removed if word_key(r.word) not in replaced]
    if len(parts) > 5:
        return f"{len(added)} added or replaced, {len(removed) - len(replaced)} deleted: " + "; ".join(parts[:5]) + "; …"
    return "; ".join(parts)


def render_lexicon(session: Session, tenant_id: str, voice_id: str, version: int) -> list[Entry]:
    """The entries a render of ``voice_id`` applies at ``version`` (tenant-wide and the voice's own)."""
    rows = [r for r in entries_at(session, tenant_id, version) if r.voice_id in (None, voice_id)]
    return [as_entry(r) for r in rows]
