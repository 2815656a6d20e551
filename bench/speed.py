"""Speed and memory of the model stack on this machine, beside the issue's targets.

Measures Kokoro's real-time factor (compute s / audio s) with 1 and 2 threads on mixed
zh/en sentences and with one single-thread render per core at once (how batches run), the same
sentences as one long text rendered whole (one after another, and side by side as the service
renders them), warm first-audio latency of a 10-character Chinese sentence through
``Synthesizer.stream``, frontend ms per sentence, enrollment wall time on
examples/reference.wav (clean_reference + ModelCache.enroll: blend, then style search within the budget), quality-gate time per item
(Whisper + speaker embeddings) and the peak RSS of a process that loaded every model.
Prints a table and writes bench/results/speed.json. The machine (CPU model, cores,
load average before and after) is recorded with the figures: on a shared box the
load moves them more than any code change.

    .venv/bin/python bench/speed.py            # ~3-4 min on an idle 2-core box
    .venv/bin/python bench/speed.py --quick    # fewer repeats: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine

from shared.audio_types import SAMPLE_RATE
from shared.settings import Settings
from worker.model_cache import ModelCache
from worker.tts.checks.reference import clean_reference
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import KokoroEngine, kokoro_engine
from worker.tts.synthesis.pipeline import SynthesisConfig, Synthesizer
from worker.tts.synthesis.voice import VoiceState

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "speed.json"
REFERENCE = ROOT / "examples" / "reference.wav"

SENTENCES = (
    "今天我们来聊一聊如何在家里做一杯好喝的咖啡。",
    "The new model runs on a laptop without a graphics card.",
    "请在下单之前确认收货地址和联系电话。",
    "我昨天用 iPhone 拍了几张照片，效果比想象中好。",
    "Please keep your receipt until the package arrives.",
    "这本书一共有三百二十页，我花了两个星期才读完。",
    "Our meeting moved to Thursday at half past three.",
    "周末的时候，很多人喜欢去郊外爬山或者骑自行车。",
    "打开 App 以后，点击右上角的设置按钮就可以了。",
    "If you have any questions, just send us an email.",
)
FIRST_AUDIO_TEXT = "今天的天气真的非常好。"  # 10 Chinese characters
GATE_ITEMS = (("zh", SENTENCES[0]), ("en", SENTENCES[1]), ("zh", SENTENCES[3]))
STOCK_VOICE = "zf_xiaoxiao"
TARGETS = {"rtf": 0.15, "first_audio_ms": 300.0, "enroll_s": 120.0}


def load_1m() -> float:
    """One-minute load average, stored beside each figure: the box is shared."""
    return round(os.getloadavg()[0], 2)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def stock_state(models: ModelCache, engine_version: str) -> VoiceState:
    style = assets.load_voice_pack(models.cache_dir, STOCK_VOICE)
    return VoiceState(style=style, embedding=np.zeros(256, np.float32), language="zh", method="stock",
                      engine_version=engine_version)


def load_all(models: ModelCache) -> dict[str, float]:
    """Touch every lazily loaded model once; the seconds each took (cold start cost)."""
    return {name: round(timed(lambda n=name: getattr(models, n))[1], 2)
            for name in ("engine", "frontend", "synthesizer", "encoder", "transcriber", "bank", "cloner")}


def warm_engine(models: ModelCache, threads: int) -> tuple[KokoroEngine, VoiceState, list[str]]:
    """A fresh Kokoro engine with ``threads`` (onnxruntime fixes its thread pool at session
    creation), the stock voice and the sentences' phonemes, after one warm-up render."""
    engine = kokoro_engine(models.settings.with_(synth_threads=threads))
    voice = stock_state(models, engine.version)
    phonemes = [s.phonemes for text in SENTENCES for s in models.frontend.analyze(text).sentences]
    engine.synthesize(phonemes[0], voice.style)  # the first run allocates and optimises
    return engine, voice, phonemes


def kokoro_rtf(models: ModelCache, threads: int, repeats: int) -> dict[str, float]:
    """Engine-only RTF (phonemes precomputed) and end-to-end render RTF, median over repeats."""
    engine, voice, phonemes = warm_engine(models, threads)
    synth = Synthesizer(models.frontend, engine)
    engine_rtf, render_rtf = [], []
    for _ in range(repeats):
        compute = raw_audio = 0.0
        for p in phonemes:
            out, seconds = timed(lambda p=p: engine.synthesize(p, voice.style))
            compute, raw_audio = compute + seconds, raw_audio + len(out) / engine.sample_rate
        engine_rtf.append(compute / raw_audio)
        compute = audio = 0.0
        for text in SENTENCES:
            rendered, seconds = timed(lambda t=text: synth.render(t, voice))
            compute, audio = compute + seconds, audio + rendered.duration_s
        render_rtf.append(compute / audio)
    # render RTF divides by delivered audio: edge silence trimmed, so it reads higher than the engine's.
    return {"threads": threads, "engine_rtf": round(statistics.median(engine_rtf), 3),
            "render_rtf": round(statistics.median(render_rtf), 3), "engine_audio_s": round(raw_audio, 1),
            "render_audio_s": round(audio, 1), "load_1m": load_1m()}


def kokoro_parallel_rtf(models: ModelCache, repeats: int) -> dict[str, float]:
    """Engine throughput on the machine's cores as a batch is deployed: one single-threaded
    render per core at once (a worker process per core, ``NARRATOR_SYNTH_THREADS=1``),
    wall time over the audio all of them rendered. Two threads inside one render scale
    worse (~84 %) than two renders side by side."""
    from concurrent.futures import ThreadPoolExecutor

    cores = os.cpu_count() or 1
    # one thread: onnxruntime runs concurrent calls of one session each on its caller's thread
    engine, voice, phonemes = warm_engine(models, threads=1)
    samples = []
    with ThreadPoolExecutor(cores) as pool:
        for _ in range(repeats):
            started = time.perf_counter()
            audio = sum(len(a) for a in pool.map(lambda p: engine.synthesize(p, voice.style), phonemes))
            samples.append((time.perf_counter() - started) / (audio / engine.sample_rate))
    return {"renders_at_once": cores, "engine_rtf": round(statistics.median(samples), 3), "load_1m": load_1m()}


def long_text_rtf(models: ModelCache, repeats: int) -> dict[str, Any]:
    """One long reading rendered whole, as a batch item is: the bench sentences as one text
    (10 chunks), its sentences one after another on the 2-thread session, then side by side
    on one-thread sessions (``Synthesizer._side_by_side``), alternated, analysis excluded.
    Wall time over the engine's own audio (engine RTF, as in the rows above) and over the
    delivered audio (render RTF); both ways render the same samples."""
    engine, voice, _ = warm_engine(models, threads=2)
    analysis = models.frontend.analyze(" ".join(SENTENCES))
    ways = {"one_after_another": Synthesizer(models.frontend, engine, side_by_side=False),
            "side_by_side": Synthesizer(models.frontend, engine, side_by_side=True)}
    config = SynthesisConfig()
    raw_s = sum(len(engine.synthesize(p.phonemes, p.voice.style, continues=p.continues))
                for p in ways["side_by_side"].pieces(analysis, voice)) / engine.sample_rate
    rendered = {name: synth.render_analysis(analysis, voice, config) for name, synth in ways.items()}  # warm-up
    assert np.array_equal(rendered["side_by_side"].audio, rendered["one_after_another"].audio)
    walls: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, synth in ways.items():
            walls[name].append(timed(lambda s=synth: s.render_analysis(analysis, voice, config))[1])
    delivered_s = rendered["side_by_side"].duration_s
    out: dict[str, Any] = {"chunks": len(analysis.sentences), "engine_audio_s": round(raw_s, 1),
                           "delivered_audio_s": round(delivered_s, 1)}
    for name, samples in walls.items():
        wall = statistics.median(samples)
        out[name] = {"engine_rtf": round(wall / raw_s, 3), "render_rtf": round(wall / delivered_s, 3)}
    out["ratio"] = round(statistics.median(walls["side_by_side"]) / statistics.median(walls["one_after_another"]), 3)
    out["load_1m"] = load_1m()
    return out


def first_audio_ms(models: ModelCache, repeats: int) -> dict[str, float]:
    """Time from the stream() call to its first chunk, warm, with the worker's thread setting.

    The first chunk may be the sentence's opening phrase (stream() splits it off); its
    length and phonemes are recorded so the figure says how much audio it bought."""
    voice = stock_state(models, models.engine.version)
    first = next(iter(models.synthesizer.stream(FIRST_AUDIO_TEXT, voice)))  # warm-up
    samples = [timed(lambda: next(iter(models.synthesizer.stream(FIRST_AUDIO_TEXT, voice))))[1] * 1000
               for _ in range(repeats)]
    return {"median_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1),
            "max_ms": round(max(samples), 1), "repeats": repeats,
            "first_chunk_audio_s": round(len(first.audio) / models.engine.sample_rate, 2),
            "first_chunk_phonemes": first.phonemes, "load_1m": load_1m()}


def frontend_ms(models: ModelCache, repeats: int) -> dict[str, float]:
    """Frontend (normalisation + G2P) cost per input sentence, warm."""
    for text in SENTENCES:
        models.frontend.analyze(text)
    samples = [timed(lambda t=text: models.frontend.analyze(t))[1] * 1000
               for _ in range(repeats) for text in SENTENCES]
    return {"median_ms": round(statistics.median(samples), 2), "mean_ms": round(statistics.fmean(samples), 2),
            "sentences": len(SENTENCES), "repeats": repeats, "load_1m": load_1m()}


def enrollment(models: ModelCache) -> tuple[VoiceState, dict[str, Any]]:
    """clean_reference + ModelCache.enroll (blend search, then the style search within the
    enrollment budget) on the shipped reference, as the enroll task runs them."""
    data = REFERENCE.read_bytes()
    cleaned, clean_s = timed(lambda: clean_reference(data, speaker_encoder=models.encoder, language="zh",
                                                     language_id=models.transcriber))
    voice, enroll_s = timed(lambda: models.enroll(cleaned.audio, SAMPLE_RATE, "zh"))
    conversion = voice.metrics.get("conversion", {})
    return voice, {"cleaned": cleaned.audio, "clean_s": round(clean_s, 1), "enroll_s": round(enroll_s, 1),
                   "conversion_s": conversion.get("seconds"), "conversion_kept": conversion.get("kept"),
                   "conversion_reason": conversion.get("reason"),
                   "total_s": round(clean_s + enroll_s, 1), "reference_s": round(len(cleaned.audio) / SAMPLE_RATE, 1),
                   "similarity": voice.metrics.get("similarity"), "chosen": voice.metrics.get("chosen"),
                   "search_seconds": voice.metrics.get("search_seconds"),
                   "search_gain": voice.metrics.get("search_gain"), "search_accepted": voice.metrics.get("search_accepted"),
                   "budget_s": models.settings.enroll_budget_seconds, "load_1m": load_1m()}


def conversion_overhead(models: ModelCache, voice: VoiceState, reference: np.ndarray, repeats: int) -> dict[str, Any]:
    """Render time of the sentences with the voice's spectral conversion over without it, alternated
    so load cancels (a voice whose conversion the guard refused gets the one it learned)."""
    conversion = voice.conversion or models.conversion_learner.attempt(reference, voice, "zh")[1]
    if conversion is None:
        return {"ratio": None, "reason": "no conversion could be learned"}
    with_it, without = replace(voice, conversion=conversion), replace(voice, conversion=None)
    plain, converted = [], []
    for _ in range(repeats):
        for text in SENTENCES:
            plain.append(timed(lambda t=text: models.synthesizer.render(t, without))[1])
            converted.append(timed(lambda t=text: models.synthesizer.render(t, with_it))[1])
    return {"plain_s": round(sum(plain), 2), "converted_s": round(sum(converted), 2),
            "ratio": round(sum(converted) / sum(plain), 3), "load_1m": load_1m()}


def gate_seconds(models: ModelCache, voice: VoiceState, items: int) -> dict[str, Any]:
    """QualityGate.check per rendered item (Whisper transcription + windowed embeddings)."""
    gate = models.gate(voice)
    samples, passed = [], 0
    for lang, text in GATE_ITEMS[:items]:
        rendered = models.synthesizer.render(text, voice)
        report, seconds = timed(lambda r=rendered, t=text, lang=lang: gate.check(r.audio, r.sample_rate, t, lang,
                                                                                voice.embedding))
        samples.append(seconds)
        passed += int(report.passed)
    return {"median_s": round(statistics.median(samples), 2), "max_s": round(max(samples), 2),
            "items": len(samples), "passed": passed, "load_1m": load_1m()}


def peak_rss_mib() -> float:
    """ru_maxrss is KiB on Linux: the high-water mark of this process, every model loaded."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def print_table(result: dict[str, Any]) -> None:
    m = result["machine_before"]
    print(f"machine: {m['cpu']}, {m['cores']} cores; load before {m['load_avg']} after "
          f"{result['machine_after']['load_avg']}")
    rows = [(f"Kokoro engine RTF, {r['threads']} thread(s)", f"{r['engine_rtf']:.3f}", f"<= {TARGETS['rtf']}",
             r["load_1m"]) for r in result["rtf"]]
    rows += [(f"render RTF (delivered audio), {r['threads']} thread(s)", f"{r['render_rtf']:.3f}", "", r["load_1m"])
             for r in result["rtf"]]
    par = result["rtf_parallel"]
    rows.append((f"Kokoro engine RTF, {par['renders_at_once']} single-thread renders at once", f"{par['engine_rtf']:.3f}",
                 f"<= {TARGETS['rtf']}", par["load_1m"]))
    lt = result["long_text"]
    for way in ("one_after_another", "side_by_side"):
        label = f"long text ({lt['chunks']} chunks) rendered whole, {way.replace('_', ' ')}, 2 threads"
        rows.append((f"{label}: engine RTF", f"{lt[way]['engine_rtf']:.3f}", f"<= {TARGETS['rtf']}", lt["load_1m"]))
    rows.append(("long text: render RTF (delivered audio), side by side / one after another",
                 f"{lt['side_by_side']['render_rtf']:.3f} / {lt['one_after_another']['render_rtf']:.3f}", "",
                 lt["load_1m"]))
    fa, fe, en, ga = result["first_audio"], result["frontend"], result["enrollment"], result["gate"]
    rows += [
        ("first audio, 10-char zh, warm (median)", f"{fa['median_ms']:.0f} ms", f"<= {TARGETS['first_audio_ms']:.0f} ms",
         fa["load_1m"]),
        ("frontend per sentence (median)", f"{fe['median_ms']:.1f} ms", "", fe["load_1m"]),
        ("enrollment: clean_reference", f"{en['clean_s']:.1f} s", "", en["load_1m"]),
        ("enrollment: cloning (blend + style search + conversion)", f"{en['enroll_s']:.1f} s", "", en["load_1m"]),
        ("enrollment: of it the conversion" + (" (kept)" if en["conversion_kept"] else " (not kept)"),
         f"{en['conversion_s'] or 0:.1f} s", "", en["load_1m"]),
        ("render time with the conversion / without", f"{result['conversion_overhead']['ratio'] or 0:.3f}",
         "<= 1.15", result["conversion_overhead"].get("load_1m")),
        ("enrollment total", f"{en['total_s']:.1f} s", f"<= {TARGETS['enroll_s']:.0f} s", en["load_1m"]),
        ("quality gate per item (median)", f"{ga['median_s']:.2f} s", "", ga["load_1m"]),
        ("model load, cold (sum)", f"{sum(result['load_s'].values()):.1f} s", "", None),
        ("peak RSS, everything loaded", f"{result['peak_rss_mib']:.0f} MiB", "", None),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':{width}}  {'figure':>10}  {'target':>9}  load(1m)")
    for name, value, target, load in rows:
        print(f"{name:{width}}  {value:>10}  {target:>9}  {'' if load is None else f'{load:.1f}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run")
    parser.add_argument("--ttfb", action="store_true",
                        help="only the speech endpoint's time to first byte, embedded and distributed (bench/ttfb.py)")
    parser.add_argument("--redis", help="a Redis database the distributed TTFB run may flush and use")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL admin URL: the distributed TTFB run creates and drops a database")
    args = parser.parse_args()
    if args.ttfb:
        import ttfb

        n = 5 if args.quick else ttfb.REQUESTS
        out: dict[str, Any] = {"machine_before": machine(), "embedded": ttfb.embedded(load_1m, n)}
        if args.redis:
            out["distributed"] = ttfb.distributed(args.redis, args.pg, load_1m, n)
        out["machine_after"] = machine()
        ttfb.print_table(out)
        path = RESULTS.with_name("ttfb.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2, ensure_ascii=False))
        print(f"wrote {path}")
        return
    before = machine()
    models = ModelCache(Settings.from_env())
    result: dict[str, Any] = {"machine_before": before, "quick": args.quick, "targets": TARGETS,
                              "synth_threads": models.settings.synth_threads}
    result["load_s"] = load_all(models)
    result["rtf"] = [kokoro_rtf(models, n, 1 if args.quick else 3) for n in (1, 2)]
    result["rtf_parallel"] = kokoro_parallel_rtf(models, 1 if args.quick else 3)
    result["long_text"] = long_text_rtf(models, 1 if args.quick else 3)
    result["first_audio"] = first_audio_ms(models, 3 if args.quick else 10)
    result["frontend"] = frontend_ms(models, 2 if args.quick else 10)
    voice, result["enrollment"] = enrollment(models)
    result["conversion_overhead"] = conversion_overhead(models, voice, result["enrollment"].pop("cleaned"),
                                                        1 if args.quick else 3)
    result["gate"] = gate_seconds(models, voice, 2 if args.quick else len(GATE_ITEMS))
    result["peak_rss_mib"] = peak_rss_mib()
    result["machine_after"] = machine()
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
