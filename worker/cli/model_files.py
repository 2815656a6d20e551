"""``narrator models fetch``: the model files into the cache, at set-up time."""

from __future__ import annotations

import argparse

from worker.cli.options import settings_for
from worker.model_cache import ModelCache
from worker.tts.synthesis import assets


def fetch(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    print(f"kokoro model: {assets.kokoro_model_path()}")
    print(f"voice packs:  {assets.fetch_voice_packs(settings.model_cache)}")
    if args.bank:
        models = ModelCache(settings)
        print(f"voice bank:   {len(models.bank.names)} stock voices embedded")
    return 0
