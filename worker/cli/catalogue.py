"""A catalogue CSV as ``narrator render`` reads it, and the files it writes for its rows."""

from __future__ import annotations

import csv
from pathlib import Path

from shared.batch_source import encoding_problem


def read_catalog(path: Path) -> list[dict[str, str]]:
    """The catalogue's rows with text; an ``id`` names the row's file in ``--out``, so one
    that is not a plain file name (``../x``, ``/abs/x``, ``a/b``) refuses the whole catalogue
    before anything is rendered, as does an id used twice (one file would overwrite the other)."""
    problem = encoding_problem(path.read_bytes())
    if problem is not None:
        raise SystemExit(f"narrator: {path}: {problem.replace('upload it', 'run it')}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "text" not in reader.fieldnames:
            raise SystemExit(f"narrator: {path} needs a header row with a 'text' column (and optionally 'id')")
        rows = [r for r in reader if (r.get("text") or "").strip()]
    if not rows:
        raise SystemExit(f"narrator: {path} has no rows with text")
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        item_id = row["id"] = (row.get("id") or "").strip()
        if not item_id:
            continue
        if not is_plain_file_stem(item_id):
            raise SystemExit(f"narrator: {path}: the id {item_id!r} of row {n} is not a plain file name (no path "
                             "separators, no leading dot, no control characters, at most 200 characters)")
        if item_id.casefold() in seen:
            raise SystemExit(f"narrator: {path}: the id {item_id!r} appears twice (each row's file is named by it)")
        seen.add(item_id.casefold())
    return rows


def is_plain_file_stem(name: str) -> bool:
    """Can ``name`` + ".wav" be written inside a folder and nowhere else, on any system?"""
    return (0 < len(name) <= 200 and not name.startswith(".") and name == name.strip()
            and not any(ch in '/\\:' or ord(ch) < 32 or ord(ch) == 127 for ch in name)
            and Path(name).name == name and not Path(name).is_absolute())


def output_file(out: Path, stem: str, extension: str = "wav") -> Path:
    """``out``/``stem``.``extension``, refused if it would land anywhere but directly in ``out``."""
    target = (out / f"{stem}.{extension}").resolve()
    if target.parent != out.resolve():
        raise SystemExit(f"narrator: refusing to write {stem!r} outside {out}")
    return target
