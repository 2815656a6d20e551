"""RTF, time to first audio and items per minute of one worker's model stack on the device
``NARRATOR_DEVICE`` names (run by bench/gpu.sh with ``cuda`` on a GPU machine; ``cpu`` runs the
same measurements here for comparison).

- RTF: Kokoro's compute seconds per audio second over a set of catalogue sentences (warm);
- first audio: ``Synthesizer.stream`` until its first chunk, warm (what a preview waits);
- items/min: render + quality gate (Whisper + speaker embedding) of short catalogue items, one
  after the other, as one worker process takes them: the figure capacity planning divides by.

Writes bench/results/gpu-<device>.json with the machine and the device of each model.

    NARRATOR_DEVICE=cuda .venv/bin/python bench/gpu.py [--items 50] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # bench/common.py, beside this script

from shared.settings import Settings
from worker.model_cache import ModelCache
from worker.tts.synthesis import assets
from worker.tts.synthesis.voice import VoiceState

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["新品已到货，欢迎选购。", "这款电饭煲支持预约功能，早上起床就能吃上热饭。",
             "限时八折，全场包邮，七天无理由退货。", "The new model ships with a two-year warranty."]
ITEMS = ["新品已到货。", "今日特价。", "支持七天无理由退货。", "库存充足。", "全场包邮。", "限时八折。"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.from_env()
    models = ModelCache(settings)
    before = machine()
    started = time.perf_counter()
    engine, gate = models.engine, None
    voice = VoiceState(style=assets.load_voice_pack(models.cache_dir, "zf_xiaoxiao"),
                       embedding=np.zeros(256, np.float32), language="zh", method="stock",
                       engine_version=engine.version)
    models.synthesizer.render(SENTENCES[0], voice)  # warm-up: allocations, CUDA kernels
    load_s = time.perf_counter() - started

    compute = audio = 0.0
    for _ in range(args.repeats):
        for text in SENTENCES:
            t = time.perf_counter()
            rendered = models.synthesizer.render(text, voice)
            compute += time.perf_counter() - t
            audio += rendered.duration_s
    first = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        next(iter(models.synthesizer.stream(SENTENCES[1], voice)))
        first.append(1000 * (time.perf_counter() - t))

    reference = models.encoder.embed(models.synthesizer.render(SENTENCES[0], voice).audio, engine.sample_rate)
    voice = VoiceState(style=voice.style, embedding=reference, language="zh", method="stock",
                       engine_version=engine.version)
    gate = models.gate(voice)
    t = time.perf_counter()
    passed = 0
    for i in range(args.items):
        text = ITEMS[i % len(ITEMS)]
        rendered = models.synthesizer.render(text, voice)
        passed += gate.check(rendered.audio, engine.sample_rate, text, "zh", voice.embedding).passed
    items_wall = time.perf_counter() - t
    result = {
        "device": models.devices.as_dict(), "engine": engine.version, "machine_before": before,
        "machine_after": machine(), "load_and_warm_s": round(load_s, 1),
        "rtf": round(compute / audio, 4), "audio_s": round(audio, 1),
        "first_audio_ms": {"median": round(statistics.median(first), 1), "min": round(min(first), 1)},
        "items": args.items, "items_passed_gate": passed, "items_per_min": round(60 * args.items / items_wall, 1),
        "ms_per_item": round(1000 * items_wall / args.items, 1),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"gpu-{models.devices.engine}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
