"""``narrator render``: a catalogue CSV in a cloned voice, rendered into a folder (embedded)."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Sequence
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from shared import dispatch
from shared.models import Batch, Item
from shared.queries import item_counts
from shared.services import create_batch
from shared.storage_keys import extension
from worker.cli.catalogue import output_file, read_catalog
from worker.cli.consent import LocalConsent
from worker.cli.embedded import Embedded
from worker.cli.options import settings_for

FINISHED = ("succeeded", "needs_review", "failed", "cancelled")


def run(args: argparse.Namespace) -> int:
    """Enroll the reference, render every row as one batch, write each item's WAV and a
    manifest; exit 1 when any item has no audio."""
    rows = read_catalog(Path(args.catalog))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    emb = Embedded(settings_for(args, embedded=True))
    batch_id = _render_batch(emb, args, rows)
    with emb.ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None
        db_items = s.scalars(select(Item).where(Item.batch_id == batch_id).order_by(Item.seq)).all()
    failed = _write_outputs(emb, out, db_items)
    print(f"batch {batch_id}: {batch.status}; {len(db_items) - failed} of {len(db_items)} items written to {out}/")
    return 0 if failed == 0 else 1


def _render_batch(emb: Embedded, args: argparse.Namespace, rows: list[dict[str, str]]) -> str:
    """Enroll, create the batch and plan it (which renders it in process) on a thread, while
    the main thread shows progress from the items' rows."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("enrolling voice", total=None)
        voice_id = emb.voice_for(Path(args.reference), args.language, LocalConsent.from_args(args))
        items = [{"text": r["text"].strip(), "voice_id": voice_id, "external_id": r.get("id") or None} for r in rows]
        with emb.ctx.sessions.begin() as s:
            params = {"speed": args.speed, **({"output_format": args.format} if args.format != "wav" else {})}
            batch_id = create_batch(s, emb.tenant_id, items, Path(args.catalog).name, params, "cli")
        bar.update(task, description="rendering", total=len(items), completed=0)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                emb.run(dispatch.PLAN_BATCH, batch_id)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
                errors.append(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            with emb.ctx.sessions() as s:
                counts = item_counts(s, batch_id)
            bar.update(task, completed=sum(counts[k] for k in FINISHED))
        if errors:
            raise errors[0]
        bar.update(task, completed=len(items))
    return batch_id


def _write_outputs(emb: Embedded, out: Path, db_items: Sequence[Item]) -> int:
    """Each item's audio as ``out``/ID.wav (.mp3, .flac: the batch's format) and its line in ``manifest.jsonl``;
    returns how many had none."""
    failed = 0
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for it in db_items:
            target = output_file(out, it.external_id or f"{it.seq:04d}", extension(it.storage_key))
            entry = {"id": it.external_id, "seq": it.seq, "text": it.text, "status": it.status, "error": it.error,
                     "file": None, "duration_s": it.duration_s, "checksum": it.checksum,
                     "voice_version_id": it.voice_version_id}
            if it.storage_key:
                target.write_bytes(emb.ctx.storage.get(it.storage_key))
                entry["file"] = target.name
            else:
                failed += 1
            manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return failed
