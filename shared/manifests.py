"""A finished batch's deliverables: ``manifest.jsonl`` and, when asked for, a ZIP of the audio.

Both are written through temporary files and uploaded with ``Storage.put_file``, reading
items from the database in pages, so a 100 000-item batch costs disk, not memory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import Item
from shared.storage import ObjectNotFound, Storage
from shared.storage_keys import extension

PAGE = 1000
SPOOL_BYTES = 8 * 1024 * 1024


def audio_name(item: Item) -> str:
    """An item's file name inside the ZIP: its position, so names never collide, and its stored
    file's extension (the batch's ``output_format``)."""
    return f"audio/{item.seq:06d}.{extension(item.storage_key)}"


def entry(item: Item, zipped: bool) -> dict[str, Any]:
    return {
        "item_id": item.id, "seq": item.seq, "external_id": item.external_id, "text": item.text,
        "status": item.status, "attempts": item.attempts, "storage_key": item.storage_key,
        "file": audio_name(item) if zipped and item.storage_key else None, "duration_s": item.duration_s,
        "checksum": item.checksum, "voice_version_id": item.voice_version_id, "error": item.error,
        "reused": item.reused,
    }


def items_in_order(session: Session, batch_id: str) -> Iterator[Item]:
    """Every item of the batch by seq, fetched a page at a time (keyset on seq)."""
    after = -1
    while True:
        page = session.scalars(select(Item).where(Item.batch_id == batch_id, Item.seq > after)
                               .order_by(Item.seq).limit(PAGE)).all()
        if not page:
            return
        yield from page
        after = page[-1].seq
        for item in page:  # only this page stays in memory; the caller's other objects are kept
            session.expunge(item)


def write_manifest(session: Session, storage: Storage, batch_id: str, key: str, zipped: bool,
                   out: IO[bytes]) -> None:
    """One JSON line per item, in seq order, to ``out``; then stored under ``key``."""
    for item in items_in_order(session, batch_id):
        out.write((json.dumps(entry(item, zipped), ensure_ascii=False) + "\n").encode())
    out.seek(0)
    storage.put_file(key, out, "application/x-ndjson")  # type: ignore[arg-type]


def write_zip(session: Session, storage: Storage, batch_id: str, key: str, manifest: IO[bytes]) -> None:
    """Every delivered item's file plus the manifest, zipped in a temporary file, then stored."""
    with tempfile.TemporaryFile() as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for item in items_in_order(session, batch_id):
                if not item.storage_key:
                    continue
                try:
                    source = storage.open(item.storage_key)
                except ObjectNotFound:
                    continue  # deleted since (retention): the manifest still lists the item
                with zf.open(audio_name(item), "w", force_zip64=True) as dst:
                    shutil.copyfileobj(source, dst, 1024 * 1024)
                close = getattr(source, "close", None)
                if close is not None:
                    close()
            manifest.seek(0)
            with zf.open("manifest.jsonl", "w", force_zip64=True) as dst:
                shutil.copyfileobj(manifest, dst, 1024 * 1024)
        tmp.seek(0)
        storage.put_file(key, tmp, "application/zip")  # type: ignore[arg-type]


def write_deliverables(session: Session, storage: Storage, batch_id: str, manifest_key: str,
                       zip_key: str | None) -> None:
    """The manifest, and the ZIP when ``zip_key`` is given (the batch asked for one)."""
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as manifest:
        write_manifest(session, storage, batch_id, manifest_key, zip_key is not None, manifest)
        if zip_key is not None:
            write_zip(session, storage, batch_id, zip_key, manifest)
