"""Bench for reference-audio QA: every degradation at several strengths over several voices.

Prints a table (degradation, strength, n, flagged-with-the-right-reason %, decision
counts, median of the relevant score) and writes bench/results/reference_qa.json.
Clean voices come from Kokoro (cached in ~/.cache/narrator/test-audio). They speak
Japanese: every clip is declared ``ja`` to the language check (Whisper), except the
``wrong_language`` cases, which declare the voice Chinese or English.

    .venv/bin/python bench/reference_qa.py            # ~22 s clean bases (~4 min on 2 cores)
    .venv/bin/python bench/reference_qa.py --quick    # ~11 s clean bases (~2.5 min)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import degrade as d
from worker.tts.checks.reference import DEFAULT_THRESHOLDS, analyze_reference
from worker.tts.checks.reference_report import QAReport

RESULTS = Path(__file__).resolve().parent / "results" / "reference_qa.json"

Degrade = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Case:
    """One degradation at one strength; ``bad`` cases must be flagged with ``code``."""

    name: str
    strength: str
    code: str | None
    bad: bool
    score: str
    apply: Degrade
    language: str = "ja"  # what the upload is declared as; the clean bases speak Japanese


def _cases() -> list[Case]:
    """The matrix; strengths marked bad=False are borderline and only reported."""
    out: list[Case] = [Case("clean", "-", None, False, "snr_db", lambda a, r: a)]
    out.append(Case("clean", "floor -50 dB", None, False, "snr_db",
                    lambda a, r: a + d.pink_noise(len(a), r) * 10 ** (-50 / 20)))
    for kind, levels in (("white", (0, 5, 10, 20, 30)), ("pink", (5, 10, 20, 30)), ("babble", (5, 10, 20, 30))):
        for snr in levels:
            out.append(Case(f"noise_{kind}", f"{snr} dB", "low_snr", snr <= 10, "snr_db",
                            lambda a, r, s=snr, k=kind: d.add_noise(a, s, r, kind=k)))
    for rt in (0.3, 0.5, 0.8, 1.2):
        out.append(Case("reverb_synth", f"RT60 {rt} s", "reverberant", rt >= 0.8, "reverb_rt60_s",
                        lambda a, r, t=rt: d.add_reverb(a, t, r)))
    for rt in (0.3, 0.6, 1.0, 1.5):
        out.append(Case("reverb_room", f"RT60 {rt} s", "reverberant", rt >= 1.0, "reverb_rt60_s",
                        lambda a, r, t=rt: d.add_reverb(a, t, r, kind="room")))
    for level in (-30, -25, -20, -15, -10):
        out.append(Case("music", f"{level} dB", "music", level >= -20, "music_score",
                        lambda a, r, m=level: d.add_music(a, m, r)))
    out.append(Case("music_no_drums", "-20 dB", "music", True, "music_score",
                    lambda a, r: d.add_music(a, -20, r, drums=False)))
    for gain in (3, 6, 12, 20):
        out.append(Case("clipping", f"+{gain} dB", "clipping", gain >= 6, "clipping_ratio",
                        lambda a, r, g=gain: d.hard_clip(a, g)))
    for secs in (2.0, 3.5, 4.5):
        out.append(Case("short", f"{secs} s", "too_short", True, "speech_seconds",
                        lambda a, r, s=secs: d.truncate(a, s)))
    for declared in ("zh", "en"):
        out.append(Case("wrong_language", f"declared {declared}", "wrong_language", True, "language_probability",
                        lambda a, r: a, language=declared))
    return out


def _speaker_cases(voice: str, others: dict[str, np.ndarray]) -> list[Case]:
    """Second-speaker cases against every other voice."""
    out: list[Case] = []
    for other, audio in others.items():
        if other == voice:
            continue
        out.append(Case("second_speaker", "append 30%", "multiple_speakers", True, "speaker_separation",
                        lambda a, r, o=audio: d.append_speaker(a, o, fraction=0.3)))
        out.append(Case("second_speaker", "append 50%", "multiple_speakers", True, "speaker_separation",
                        lambda a, r, o=audio: d.append_speaker(a, o, fraction=0.5)))
        out.append(Case("second_speaker", "interleave 4 s", "multiple_speakers", True, "speaker_separation",
                        lambda a, r, o=audio: d.interleave_speakers(a, o)))
    return out


def _load_encoder() -> object | None:
    """resemblyzer with one torch thread (thread oversubscription makes it 50x slower on 2 cores)."""
    try:
        import torch
        from resemblyzer import VoiceEncoder
    except ImportError:
        print("resemblyzer not importable: speaker checks skipped", file=sys.stderr)
        return None
    torch.set_num_threads(1)
    return VoiceEncoder("cpu", verbose=False)


def _load_language_id() -> object:
    """Whisper-base, as enrollment uses it to hear which language the upload is in."""
    from shared.settings import Settings
    from worker.tts.checks.asr import Transcriber

    return Transcriber(Settings().model_cache)


def _row_key(case: Case) -> tuple[str, str]:
    return case.name, case.strength


def run(quick: bool) -> dict[str, object]:
    """Analyze the whole matrix and aggregate per (degradation, strength)."""
    rng = np.random.default_rng(2024)
    encoder = _load_encoder()
    language_id = _load_language_id()
    per_base = 1 if quick else 2  # ~11 s or ~22 s of speech per clean base
    bases = [(v, 0, d.with_room_tone(d.clean_voice(v, per_base), rng)) for v in d.KOKORO_VOICES]
    partners = {v: d.clean_voice(v, 2, start=2) for v in d.KOKORO_VOICES}
    details: list[dict[str, object]] = []
    for voice, para, base in bases:
        for case in _cases() + _speaker_cases(voice, partners):
            audio = case.apply(base, rng)
            started = time.perf_counter()
            report = analyze_reference(d.to_wav_bytes(audio), speaker_encoder=encoder, language=case.language,
                                       language_id=language_id).report
            details.append(_detail(case, voice, para, report, time.perf_counter() - started))
    rows = _aggregate(details)
    return {"thresholds": dataclasses.asdict(DEFAULT_THRESHOLDS), "rows": rows,
            "summary": _summary(details), "details": details}


def _detail(case: Case, voice: str, para: int, report: QAReport, seconds: float) -> dict[str, object]:
    flagged = report.decision != "accept" and case.code in report.codes if case.code else None
    return {"degradation": case.name, "strength": case.strength, "voice": voice, "paragraph": para,
            "expected": case.code, "bad": case.bad, "decision": report.decision, "codes": report.codes,
            "flagged_right": flagged, "score_name": case.score, "score": report.scores.get(case.score),
            "seconds": round(seconds, 3)}


def _aggregate(details: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per (degradation, strength) in matrix order."""
    order: dict[tuple[str, str], list[dict[str, object]]] = {}
    for item in details:
        order.setdefault((str(item["degradation"]), str(item["strength"])), []).append(item)
    rows = []
    for (name, strength), items in order.items():
        decisions = [str(i["decision"]) for i in items]
        scores = [float(i["score"]) for i in items if i["score"] is not None and np.isfinite(i["score"])]
        flagged = [bool(i["flagged_right"]) for i in items if i["flagged_right"] is not None]
        rows.append({
            "degradation": name, "strength": strength, "bad": bool(items[0]["bad"]), "n": len(items),
            "expected": items[0]["expected"],
            "flagged_right_pct": round(100 * sum(flagged) / len(flagged), 1) if flagged else None,
            "accept": decisions.count("accept"), "warn": decisions.count("warn"), "reject": decisions.count("reject"),
            "score_name": items[0]["score_name"],
            "score_median": round(statistics.median(scores), 4) if scores else None,
            "mean_seconds": round(statistics.mean(float(i["seconds"]) for i in items), 3),
        })
    return rows


def _summary(details: list[dict[str, object]]) -> dict[str, object]:
    """Headline numbers: flag rate on harmful cases, reject/warn rates on clean ones."""
    bad = [i for i in details if i["bad"]]
    clean = [i for i in details if i["expected"] is None]
    return {
        "bad_n": len(bad),
        "bad_flagged_right_pct": round(100 * sum(bool(i["flagged_right"]) for i in bad) / max(len(bad), 1), 1),
        "clean_n": len(clean),
        "clean_reject_pct": round(100 * sum(i["decision"] == "reject" for i in clean) / max(len(clean), 1), 1),
        "clean_warn_pct": round(100 * sum(i["decision"] == "warn" for i in clean) / max(len(clean), 1), 1),
        "mean_analyze_seconds": round(statistics.mean(float(i["seconds"]) for i in details), 3),
        "misses": [{k: i[k] for k in ("degradation", "strength", "voice", "decision", "codes")}
                   for i in bad if not i["flagged_right"]],
    }


def print_table(result: dict[str, object]) -> None:
    """Human-readable table on stdout."""
    header = f"{'degradation':16s} {'strength':14s} {'bad':>3s} {'n':>3s} {'flag%':>6s} " \
             f"{'acc':>4s} {'warn':>4s} {'rej':>4s}  {'median score':24s} {'s/clip':>6s}"
    print(header)
    print("-" * len(header))
    for row in result["rows"]:  # type: ignore[union-attr]
        flag = "-" if row["flagged_right_pct"] is None else f"{row['flagged_right_pct']:.0f}"
        score = f"{row['score_name']}={row['score_median']}"
        print(f"{row['degradation']:16s} {row['strength']:14s} {'y' if row['bad'] else '':>3s} {row['n']:3d} "
              f"{flag:>6s} {row['accept']:4d} {row['warn']:4d} {row['reject']:4d}  {score:24s} "
              f"{row['mean_seconds']:6.2f}")
    summary = result["summary"]
    print()
    print(f"harmful cases flagged with the right reason: {summary['bad_flagged_right_pct']}% "  # type: ignore[index]
          f"of {summary['bad_n']}; clean rejected: {summary['clean_reject_pct']}%, "  # type: ignore[index]
          f"warned: {summary['clean_warn_pct']}% of {summary['clean_n']}")  # type: ignore[index]
    for miss in summary["misses"]:  # type: ignore[index]
        print("  miss:", miss)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~11 s clean bases instead of ~22 s")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.quick)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    print_table(result)
    print(f"wall time {result['wall_seconds']} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
