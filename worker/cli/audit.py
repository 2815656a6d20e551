"""``narrator audit verify`` and ``narrator audit checkpoint``: the audit trail's hash chain."""

from __future__ import annotations

import argparse
import json

from shared.audit import verify as verify_chain
from shared.audit_anchor import verify_anchored, write_checkpoint
from shared.db import make_engine, make_sessionmaker
from worker.cli.options import settings_for


def verify(args: argparse.Namespace) -> int:
    """Recompute the audit hash chain; exit 1 where a row was changed, removed or reordered.
    With NARRATOR_AUDIT_HMAC_KEY, also against every signed checkpoint (a rewrite plus re-hash)."""
    settings = settings_for(args)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as s:
        result = verify_anchored(s, settings.audit_hmac_key) if settings.audit_hmac_key else verify_chain(s)
    print(json.dumps(result.to_dict()))
    return 0 if result.ok else 1


def checkpoint(args: argparse.Namespace) -> int:
    """Sign the audit chain's head (as the schema owner, with NARRATOR_AUDIT_HMAC_KEY)."""
    settings = settings_for(args)
    sessions = make_sessionmaker(make_engine(settings.migration_database_url or settings.database_url))
    with sessions.begin() as s:
        signed = write_checkpoint(s, settings.audit_hmac_key)
        out = {"checkpoint": None} if signed is None else {
            "checkpoint": signed.id, "event_id": signed.event_id, "rows": signed.rows, "head": signed.head_hash}
    print(json.dumps(out))
    return 0
