"""The engine's graph against the Snake graph it is rewritten from: what the one-kernel
instance norms (worker/tts/synthesis/norm_graph.py) and moving the convolutions off ConvInteger
(worker/tts/synthesis/qconv_graph.py: the exact matrix product, and QLinearConv's 8-bit output
in the noise branch) cost in sound and save in time.

Held out from the calibration (scripts/calibrate_qconv.py): other stock voices, other texts,
a blend of two voices, slow and fast speech and a pitch map. Per render, the log-mel
difference where there is sound, the speaker similarity of the two renders (resemblyzer), and
DNSMOS OVRL of each; the two graphs' engine seconds are summed over the same renders, taken
in alternation. Prints a table and writes bench/results/engine_graphs.json.

    .venv/bin/python bench/engine_graphs.py     # ~3 min on 2 cores
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine
from spectrogram import log_mel

from shared.audio_types import SAMPLE_RATE
from shared.settings import Settings
from worker.model_cache import ModelCache
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import KokoroEngine, kokoro_engine, rewritten_graph

RESULTS = Path(__file__).resolve().parent / "results" / "engine_graphs.json"
VOICES = ("af_bella", "am_michael", "zf_xiaobei", "zm_yunyang", "bm_george", "em_alex", "if_sara")
TEXTS = (
    "欢迎收听本期节目，我们今天聊聊城市里的夜跑文化。",
    "The warranty covers parts and labour for two full years.",
    "这款保温杯可以保持热水十二个小时，非常适合冬天出门携带。",
    "Turn the dial clockwise until you hear a soft click.",
    "如果您对订单有任何疑问，请随时联系我们的客服团队。",
    "Lesson four: fractions, decimals and how they relate.",
)
# (voice or "a+b" blend, speed, pitch map): the variants a cloned voice's render takes.
VARIANTS = [(v, 1.0, (1.0, 1.0)) for v in VOICES] + [
    ("af_bella+zf_xiaobei", 1.0, (1.0, 1.0)), ("am_michael", 0.6, (1.0, 1.0)),
    ("zf_xiaobei", 1.8, (1.0, 1.0)), ("bm_george", 1.0, (1.3, 0.9))]


def style(cache: Path, voice: str) -> np.ndarray:
    return np.mean([assets.load_voice_pack(cache, v) for v in voice.split("+")], axis=0)


def loud_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |log-mel difference| in dB over the bins within 60 dB of the reference's peak."""
    x, y = log_mel(a), log_mel(b)
    frames = min(x.shape[1], y.shape[1])
    x, y = x[:, :frames], y[:, :frames]
    return float(np.abs(x - y)[y > -60].mean())


def main() -> None:
    before = machine()
    models = ModelCache(Settings.from_env())
    settings = models.settings.with_(synth_threads=2)
    new = kokoro_engine(settings)
    source, stem = rewritten_graph(settings, "int8")
    old = KokoroEngine(source, new.vocab, version=stem, threads=2)
    phonemes = [s.phonemes for text in TEXTS for s in models.frontend.analyze(text).sentences]
    rows, seconds, audio_s = [], {"old": 0.0, "new": 0.0}, 0.0
    for i, (voice, speed, pitch) in enumerate(VARIANTS):
        table = style(settings.model_cache, voice)
        for j, p in enumerate(phonemes):
            renders = {}
            for tag in (("old", "new") if (i + j) % 2 else ("new", "old")):
                engine = old if tag == "old" else new
                started = time.perf_counter()
                renders[tag] = engine.synthesize(p, table, speed, pitch)
                seconds[tag] += time.perf_counter() - started
            audio_s += len(renders["old"]) / SAMPLE_RATE
            a, b = renders["new"], renders["old"]
            similarity = float(models.encoder.embed(a, SAMPLE_RATE) @ models.encoder.embed(b, SAMPLE_RATE))
            rows.append({"voice": voice, "speed": speed, "pitch": list(pitch), "same_length": len(a) == len(b),
                         "log_mel_db": loud_difference(a, b), "similarity": similarity,
                         "dnsmos_old": models.dnsmos.overall(b, SAMPLE_RATE),
                         "dnsmos_new": models.dnsmos.overall(a, SAMPLE_RATE)})
    summary = {
        "renders": len(rows), "audio_s": round(audio_s, 1),
        "same_length": sum(r["same_length"] for r in rows),
        "log_mel_db": round(statistics.mean(r["log_mel_db"] for r in rows), 3),
        "log_mel_db_max": round(max(r["log_mel_db"] for r in rows), 3),
        "similarity": round(statistics.mean(r["similarity"] for r in rows), 4),
        "similarity_min": round(min(r["similarity"] for r in rows), 4),
        "dnsmos_old": round(statistics.mean(r["dnsmos_old"] for r in rows), 3),
        "dnsmos_new": round(statistics.mean(r["dnsmos_new"] for r in rows), 3),
        "rtf_old": round(seconds["old"] / audio_s, 4), "rtf_new": round(seconds["new"] / audio_s, 4),
    }
    print(f"{old.version} → {new.version}, {summary['renders']} renders, {summary['audio_s']} s of audio")
    print(f"{'figure':<28}{'value':>12}")
    for key, value in summary.items():
        print(f"{key:<28}{value!s:>12}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"old": old.version, "new": new.version, "summary": summary, "rows": rows,
                                   "machine_before": before, "machine_after": machine()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
