"""``narrator qa``: the reference-audio quality report of a recording."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from worker.cli.options import settings_for
from worker.model_cache import ModelCache
from worker.tts.checks.reference import analyze_reference


def run(args: argparse.Namespace) -> int:
    """Print the report as JSON; exit 1 when it rejects the recording."""
    models = ModelCache(settings_for(args))
    result = analyze_reference(Path(args.reference).read_bytes(), speaker_encoder=models.encoder,
                               language=args.language, language_id=models.transcriber if args.language else None)
    print(json.dumps(result.report.to_dict(), ensure_ascii=False, indent=2))
    return 0 if result.report.decision != "reject" else 1
