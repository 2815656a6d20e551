"""Bench for the item watermark: is the payload read back, bit-exact, after what happens
to a delivered file, is unmarked speech ever taken for marked, and does the mark change
how the voice sounds to the speaker encoder?

Clips are real engine renders: stock Kokoro voices (4 Chinese, 4 English) reading texts of
about 2–10 s; each is marked with a random 64-bit payload. Conditions: clean; resampled
to 16 kHz (soxr); +6 dB (clipped, as a WAV writer would) and −6 dB; white noise at 20 dB
SNR to the active speech level; MP3 at 64 kbit/s (LAME via ``lameenc``, decoded by
libsndfile). False positives: the unmarked clips, clean and through MP3. Speaker
similarity: resemblyzer cosine (``worker.tts.checks.speaker``) of the marked and the unmarked
render against the same voice's reference (another text); the drop must stay ≤ 0.01.
Renders are cached in ~/.cache/narrator/test-audio. Results: bench/results/watermark.json.

    .venv/bin/python bench/watermark.py            # 40 clips (~5 min on an idle 2-core box)
    .venv/bin/python bench/watermark.py --quick    # 8 clips
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine

from shared.audio_types import SAMPLE_RATE
from shared.settings import Settings
from tests.support.degrade import add_noise, cache_dir, mp3_round_trip
from worker.model_cache import ModelCache
from worker.tts.checks.speaker import cosine
from worker.tts.synthesis import assets
from worker.tts.synthesis.audio import resample_mono
from worker.tts.synthesis.voice import VoiceState
from worker.tts.synthesis.watermark import detect, embed, watermark_key

RESULTS = Path(__file__).resolve().parent / "results" / "watermark.json"
KEY = watermark_key("bench-secret")

VOICES = {"zh": ("zf_xiaoxiao", "zf_xiaobei", "zm_yunjian", "zm_yunxi"),
          "en": ("af_bella", "am_michael", "bf_emma", "bm_george")}
TEXTS = {
    "zh": ("新品上市，欢迎选购。",
           "这款无线耳机续航三十个小时，支持快速充电。",
           "请在收到商品后七天内确认收货，如有质量问题可以申请退换。",
           "我们的客服团队每天早上九点到晚上十点在线，周末和节假日也不休息，欢迎随时咨询。",
           "这款保温杯采用双层不锈钢真空结构，装满热水后十二个小时仍然温热，杯盖可以拆洗，适合上班和旅行使用。"),
    "en": ("Thanks for shopping with us.",
           "These wireless earbuds last thirty hours on a single charge.",
           "Please confirm delivery within seven days, and contact us if anything arrives damaged.",
           ("Our support team is online every day from nine in the morning until ten at night, "
           "including weekends and public holidays."),
           ("This travel mug keeps drinks hot for twelve hours, its lid comes apart for cleaning, "
           "and it fits in most car cup holders, so it is ready for the commute and for long trips.")),
}
REFERENCE_TEXT = {"zh": "今天天气很好，我们一起去公园散步吧，顺便买一点水果回家。",
                  "en": "The weather is lovely today, so let us take a walk in the park and buy some fruit."}


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    return np.clip(audio * 10 ** (db / 20), -1.0, 1.0).astype(np.float32)


CONDITIONS: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, int]]] = {
    "clean": lambda a, i: (a, SAMPLE_RATE),
    "resampled 16 kHz": lambda a, i: (resample_mono(a, SAMPLE_RATE, 16_000), 16_000),
    "gain +6 dB": lambda a, i: (gain(a, 6.0), SAMPLE_RATE),
    "gain -6 dB": lambda a, i: (gain(a, -6.0), SAMPLE_RATE),
    "noise 20 dB SNR": lambda a, i: (add_noise(a, 20.0, np.random.default_rng(1000 + i)), SAMPLE_RATE),
    "MP3 64 kbit/s": lambda a, i: mp3_round_trip(a, SAMPLE_RATE, 64),
}


def render(models: ModelCache, voice: str, language: str, text: str) -> np.ndarray:
    """One stock-voice render at 24 kHz, cached on disk by (voice, text, engine version)."""
    digest = hashlib.sha1(f"{voice}\0{text}\0{models.engine.version}".encode()).hexdigest()[:12]
    path = cache_dir() / f"watermark-{voice}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    state = VoiceState(style=assets.load_voice_pack(models.cache_dir, voice), embedding=np.zeros(256, np.float32),
                       language=language, method="stock", engine_version=models.engine.version)
    audio = models.synthesizer.render(text, state).audio.astype(np.float32)
    np.save(path, audio)
    return audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one voice per language: 10 clips")
    args = parser.parse_args()
    started = time.perf_counter()
    models = ModelCache(Settings.from_env())
    rng = np.random.default_rng(2026)
    clips: list[dict[str, Any]] = []
    for language, voices in VOICES.items():
        for voice in voices[:1] if args.quick else voices:
            reference = models.encoder.embed(render(models, voice, language, REFERENCE_TEXT[language]), SAMPLE_RATE)
            for text in TEXTS[language]:
                audio = render(models, voice, language, text)
                clips.append({"voice": voice, "language": language, "audio": audio, "reference": reference,
                              "payload": rng.bytes(8)})
    print(f"{len(clips)} clips, {min(len(c['audio']) for c in clips) / SAMPLE_RATE:.1f}–"
          f"{max(len(c['audio']) for c in clips) / SAMPLE_RATE:.1f} s", flush=True)

    hits: dict[str, list[bool]] = {name: [] for name in CONDITIONS}
    confidence: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    false_positives: list[bool] = []
    unmarked_confidence: list[float] = []
    snrs, deltas, embed_s, detect_s, per_clip = [], [], [], [], []
    for i, c in enumerate(clips):
        audio = c["audio"]
        t0 = time.perf_counter()
        marked = embed(audio, c["payload"], KEY)
        embed_s.append(time.perf_counter() - t0)
        snrs.append(10 * np.log10(np.sum(audio.astype(np.float64) ** 2) / np.sum((marked - audio) ** 2.0)))
        similarity_before = cosine(models.encoder.embed(audio, SAMPLE_RATE), c["reference"])
        similarity_after = cosine(models.encoder.embed(marked, SAMPLE_RATE), c["reference"])
        deltas.append(similarity_after - similarity_before)
        row = {"voice": c["voice"], "seconds": round(len(audio) / SAMPLE_RATE, 2), "snr_db": round(snrs[-1], 1),
               "similarity_unmarked": round(similarity_before, 4), "similarity_marked": round(similarity_after, 4)}
        for name, condition in CONDITIONS.items():
            received, rate = condition(marked, i)
            t0 = time.perf_counter()
            found = detect(received, rate, KEY)
            detect_s.append(time.perf_counter() - t0)
            hits[name].append(found.payload == c["payload"])
            confidence[name].append(found.confidence)
            row[name] = found.payload == c["payload"]
        for received, rate in ((audio, SAMPLE_RATE), mp3_round_trip(audio, SAMPLE_RATE, 64)):
            found = detect(received, rate, KEY)
            false_positives.append(found.found)
            unmarked_confidence.append(found.confidence)
        per_clip.append(row)
        print(f"  {i + 1:2d}/{len(clips)} {c['voice']:<12} {row['seconds']:4.1f} s  SNR {row['snr_db']:4.1f} dB  "
              + " ".join("Y" if row[n] else "n" for n in CONDITIONS), flush=True)

    short = [i for i, r in enumerate(per_clip) if r["seconds"] < 4.0]
    table = []
    for name in CONDITIONS:
        table.append({"condition": name, "n": len(hits[name]), "detected": round(float(np.mean(hits[name])), 4),
                      "detected_under_4s": round(float(np.mean([hits[name][i] for i in short])), 4) if short else None,
                      "median_confidence": round(statistics.median(confidence[name]), 3)})
    result = {
        "machine": machine(),
        "clips": len(clips),
        "seconds": [round(min(r["seconds"] for r in per_clip), 2), round(max(r["seconds"] for r in per_clip), 2)],
        "clips_under_4s": len(short),
        "detection": table,
        "false_positive_rate": round(float(np.mean(false_positives)), 4),
        "false_positive_trials": len(false_positives),
        "unmarked_confidence_max": round(max(unmarked_confidence), 3),
        "mark_snr_db": {"median": round(statistics.median(snrs), 1), "min": round(min(snrs), 1)},
        "speaker_similarity_change": {"mean": round(statistics.fmean(deltas), 4), "min": round(min(deltas), 4),
                                      "max": round(max(deltas), 4)},
        "speaker_similarity_ok": statistics.fmean(deltas) >= -0.01,
        "embed_s_median": round(statistics.median(embed_s), 3),
        "detect_s_median": round(statistics.median(detect_s), 3),
        "wall_s": round(time.perf_counter() - started, 1),
        "per_clip": per_clip,
    }
    print(f"\n{'condition':<18} {'n':>3} {'detected':>9} {'< 4 s':>7} {'confidence':>11}")
    for row in table:
        under = f"{row['detected_under_4s']:.0%}" if row["detected_under_4s"] is not None else "-"
        print(f"{row['condition']:<18} {row['n']:>3} {row['detected']:>9.1%} {under:>7} {row['median_confidence']:>11.2f}")
    print(f"false positives on unmarked speech: {sum(false_positives)} of {len(false_positives)} "
          f"(highest unmarked confidence {result['unmarked_confidence_max']:.2f}; threshold 1.0)")
    print(f"mark SNR: median {result['mark_snr_db']['median']} dB, min {result['mark_snr_db']['min']} dB")
    sim = result["speaker_similarity_change"]
    print(f"speaker similarity change (marked − unmarked): mean {sim['mean']:+.4f}, min {sim['min']:+.4f}, "
          f"max {sim['max']:+.4f} ({'within' if result['speaker_similarity_ok'] else 'OVER'} the 0.01 budget)")
    print(f"embed {result['embed_s_median']} s, detect {result['detect_s_median']} s per clip (median); "
          f"load {result['machine']['load_avg']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
