"""Cloning methods compared on held-out speakers, judged by the second encoder (CAM++).

Methods:

* ``nearest-stock``: the stock voice whose bank embedding is closest to the reference
  (no probe renders at all); the floor any cloning method has to beat.
* ``style-blend-search-v2``: ``Cloner.enroll`` as shipped (nearest voice + 4 blends, then
  decoder-half swaps kept only by a margin, scored on probe renders).
* ``pca-es-ungated``: v2 followed by ``worker.tts.cloning.style_search.refine_voice``, a
  (1+λ)-ES in the PCA subspace of the stock style tables, scored like v2, always
  keeping the search's best style;
* ``style-pca-es-v1``: the same, as the module ships it: the refined style is kept
  only when its probe score beats v2's by ``SearchConfig.min_gain``, else v2's style.
  The margin was chosen on the default speakers (set A); ``--validation`` runs the
  other held-out speakers (set B), which took no part in choosing it.

Enrollment optimises resemblyzer, so a method can raise resemblyzer similarity without
sounding more like the speaker; CAM++ (bench/quality.py) never took part in any
choice, which is why it decides. Its time includes v2's, since it starts from v2.

    .venv/bin/python bench/cloning_methods.py               # set A, 8 speakers (~10 min idle 2-core box)
    .venv/bin/python bench/cloning_methods.py --validation  # set B, the other 8 held-out speakers
    .venv/bin/python bench/cloning_methods.py --quick       # 2 speakers, short search
    .venv/bin/python bench/cloning_methods.py --budget 90 --evaluations 40 --speakers kokoro:af_bella
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quality as q

from worker.model_cache import ModelCache
from worker.tts.cloning.enroll import Cloner, whisper_listener
from worker.tts.cloning.style_search import SearchConfig, refine_voice
from worker.tts.synthesis.voice import VoiceState

RESULTS = Path(__file__).resolve().parent / "results" / "cloning_methods.json"
# One speaker per source/language/gender cell that matters most, to fit ~10 minutes.
DEFAULT_SPEAKERS = ("kokoro:zf_xiaobei", "kokoro:zm_yunjian", "kokoro:af_bella", "kokoro:bm_george",
                    "festival:slt", "real:s3p2", "real:source_s3", "real:s1p1")
VALIDATION_SPEAKERS = ("kokoro:am_michael", "kokoro:bf_emma", "festival:kal", "espeak:en-us+f3",
                       "espeak:cmn-latn-pinyin", "real:source_s4", "real:source_s1", "real:source_s2")
QUICK_SPEAKERS = ("kokoro:zm_yunjian", "real:s1p1")
METHODS = ("nearest-stock", "style-blend-search-v2", "pca-es-ungated", "style-pca-es-v1")

Enrolled = tuple[np.ndarray, float, dict[str, Any]]  # style, seconds, method metrics


def nearest_stock(cloner: Cloner, reference: np.ndarray, language: str) -> Enrolled:
    """Method (b): one embedding and a lookup."""
    started = time.monotonic()
    target = cloner.encoder.embed(reference, q.SR)
    index = int(np.argmax(cloner.bank.embeddings @ target))
    return cloner.bank.styles[index], time.monotonic() - started, {"voice": cloner.bank.names[index]}


def run_methods(cloner: Cloner, reference: np.ndarray, language: str, search: SearchConfig) -> dict[str, Enrolled]:
    """All methods on one reference; the ES continues from v2's result instead of re-enrolling.

    The gated method is derived from the ungated run (same search, same seed), so
    both cost one search.
    """
    out = {"nearest-stock": nearest_stock(cloner, reference, language)}
    started = time.monotonic()
    base = cloner.enroll(reference, q.SR, language)
    base_s = time.monotonic() - started
    out["style-blend-search-v2"] = (base.style, base_s, dict(base.metrics))
    started = time.monotonic()
    raw: VoiceState = refine_voice(cloner, base, replace(search, min_gain=-math.inf))
    seconds = base_s + time.monotonic() - started
    out["pca-es-ungated"] = (raw.style, seconds, dict(raw.metrics))
    accepted = raw.metrics["search_gain"] >= search.min_gain
    out["style-pca-es-v1"] = (raw.style if accepted else base.style, seconds,
                              {**raw.metrics, "search_accepted": accepted})
    return out


def evaluate_speaker(models: ModelCache, judges: list[q.Judge], speaker: q.HeldOutSpeaker,
                     search: SearchConfig) -> dict[str, Any]:
    prepared = q.prepare(models, judges, speaker)
    cloner = Cloner(models.synthesizer, models.encoder, prepared.bank, whisper_listener(models.transcriber))
    methods = run_methods(cloner, prepared.reference, speaker.language, search)
    row: dict[str, Any] = {"speaker": speaker.name, "source": speaker.source, "language": speaker.language,
                           "excluded": speaker.exclude, "reference_qa": prepared.qa, "ceiling": q.ceiling(prepared),
                           "methods": {}}
    scored: dict[tuple[bytes, bool], dict[str, Any]] = {}  # identical styles (a rejected search is v2) scored once
    for name, (style, seconds, metrics) in methods.items():
        asr = name != "nearest-stock"
        key = (style.tobytes(), asr)
        if key not in scored:
            scored[key] = q.evaluate_style(models, judges, prepared, style, asr=asr)
        row["methods"][name] = {**scored[key], "enroll_s": round(seconds, 1), "metrics": metrics}
    return row


def _mean(values: Iterable[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return round(statistics.fmean(numbers), 4) if numbers else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means per method and the paired CAM++ difference of each method against v2."""
    out: dict[str, Any] = {"speakers": len(rows)}
    for method in METHODS:
        cells = [r["methods"][method] for r in rows]
        out[method] = {key: _mean(c.get(key) for c in cells)
                       for key in ("campplus", "resemblyzer", "asr_error", "enroll_s")}
    if rows:
        for method in ("nearest-stock", "pca-es-ungated", "style-pca-es-v1"):
            deltas = [r["methods"][method]["campplus"] - r["methods"]["style-blend-search-v2"]["campplus"]
                      for r in rows]
            out[f"{method}_minus_v2_campplus"] = {
                "mean": round(statistics.fmean(deltas), 4), "wins": sum(d > 0 for d in deltas),
                "losses": sum(d < 0 for d in deltas), "ties": sum(d == 0 for d in deltas)}
    out["ceiling_campplus"] = round(statistics.fmean(r["ceiling"]["campplus"] for r in rows), 4) if rows else None
    return out


def print_table(rows: list[dict[str, Any]], means: dict[str, Any]) -> None:
    short = {"nearest-stock": "stock", "style-blend-search-v2": "v2", "pca-es-ungated": "es-raw",
             "style-pca-es-v1": "es"}
    head = (f"{'speaker':24}| " + " | ".join(f"{short[m]:>6} CAM/res/err/s".rjust(27) for m in METHODS)
            + " | ceil CAM")
    print(head)
    print("-" * len(head))

    def cell(c: dict[str, Any]) -> str:
        err = f"{c['asr_error']:.2f}" if c.get("asr_error") is not None else "  - "
        return f"{c['campplus']:.3f}/{c['resemblyzer']:.3f}/{err}/{c['enroll_s']:5.1f}".rjust(27)

    for r in rows:
        print(f"{r['speaker']:24}| " + " | ".join(cell(r["methods"][m]) for m in METHODS)
              + f" | {r['ceiling']['campplus']:.3f}")
    print("-" * len(head))
    if rows:
        print(f"{'mean':24}| " + " | ".join(cell(means[m]) for m in METHODS) + f" | {means['ceiling_campplus']:.3f}")
        for method in ("nearest-stock", "pca-es-ungated", "style-pca-es-v1"):
            d = means[f"{method}_minus_v2_campplus"]
            print(f"{method} - v2 by CAM++: mean {d['mean']:+.4f}, better on {d['wins']}, worse on {d['losses']} "
                  f"of {len(rows)} speakers")


def results_path(args: argparse.Namespace) -> Path:
    """One file per speaker set, so a validation or smoke run does not overwrite set A's evidence."""
    if args.quick:
        return RESULTS.with_name("cloning_methods_quick.json")
    return RESULTS.with_name("cloning_methods_validation.json") if args.validation else RESULTS


def main() -> None:
    parser = q.arguments(__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=None, help="ES wall-clock budget, s (default 75, quick 30)")
    parser.add_argument("--evaluations", type=int, default=None, help="ES evaluations cap (default 32, quick 8)")
    parser.add_argument("--validation", action="store_true", help="set B: speakers not used to choose min_gain")
    args = parser.parse_args()
    search = replace(SearchConfig(), budget_s=args.budget or (30.0 if args.quick else 75.0),
                     max_evaluations=args.evaluations or (8 if args.quick else 32))
    names = list(args.speakers or (QUICK_SPEAKERS if args.quick else
                                   VALIDATION_SPEAKERS if args.validation else DEFAULT_SPEAKERS))
    models = q.make_models(args.threads)
    judges = q.load_judges(models)
    path = results_path(args)
    config = {"bench": "cloning_methods", "quick": args.quick, "threads": models.settings.synth_threads,
              "search": asdict(search)}
    result = q.run_speakers(models, names, lambda s: evaluate_speaker(models, judges, s, search), path, config,
                            args.resume, summarise)
    q.print_run(result, path, print_table)


if __name__ == "__main__":
    main()
