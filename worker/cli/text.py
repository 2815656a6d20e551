"""``narrator text``: how the frontend reads a text (no engine, no models beyond the frontend's)."""

from __future__ import annotations

import argparse
from pathlib import Path

from worker.tts.text.cli import load_lexicon_csv, text_command


def run(args: argparse.Namespace) -> int:
    lexicon = load_lexicon_csv(Path(args.lexicon)) if args.lexicon else None
    return text_command(args.text, as_json=args.json, lexicon=lexicon)
