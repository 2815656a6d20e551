"""``narrator watermark detect``: which item a rendered file came from."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from shared.db import make_engine
from shared.models import Item
from shared.secret_keys import SecretKeys
from shared.settings import Settings
from worker.cli.options import settings_for
from worker.tts.checks.decode import decode_audio
from worker.tts.checks.reference_report import ReferenceRejected
from worker.tts.synthesis.watermark import detect as detect_mark

log = logging.getLogger("narrator")


def detect(args: argparse.Namespace) -> int:
    """Read the mark of a file narrator rendered; prints JSON, exit 1 when there is none
    (2 when the file cannot be read)."""
    settings = settings_for(args)
    try:
        audio, sample_rate = decode_audio(Path(args.file).read_bytes())
    except (OSError, ReferenceRejected) as exc:
        print(f"narrator: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2  # not 1, which says "read, and unmarked"
    found = detect_mark(audio, sample_rate, SecretKeys.of(settings).watermark)
    prefix = found.payload.hex() if found.payload else None
    result: dict[str, Any] = {"found": found.found, "item_id_prefix": prefix, "confidence": round(found.confidence, 2)}
    if prefix:
        result.update(_watermarked_item(settings, prefix))
    print(json.dumps(result))
    return 0 if found.found else 1


def _watermarked_item(settings: Settings, prefix: str) -> dict[str, Any]:
    """The item a mark names (with its tenant and voice version), when this deployment's
    database is reachable and holds exactly one item with that id prefix; else nothing."""
    url = settings.database_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
        return {}  # no embedded database here: do not create one just to look
    pattern = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-%"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Item.id, Item.tenant_id, Item.voice_version_id)
                                .where(Item.id.like(pattern)).limit(2)).all()
    except SQLAlchemyError as exc:
        log.warning("watermark: item not looked up, the database is not usable (%s)", type(exc).__name__)
        return {}
    finally:
        engine.dispose()
    if len(rows) != 1:
        return {}
    return {"item_id": rows[0].id, "tenant_id": rows[0].tenant_id, "voice_version_id": rows[0].voice_version_id}
