"""Bench for the consent same-speaker check: its equal error rate over the stock voices.

Enrollment refuses a reference whose resemblyzer embedding is further than
``Settings.consent_speaker_threshold`` (cosine) from the consent recording's
(``worker.enrollment.same_speaker``). Here every Kokoro stock voice (54) is one speaker:

* a consent-like clip: the speaker reading a consent statement (name, company, one-time
  code), with mild augmentation — a small room (RT60 0.2–0.5 s) and noise at 20–30 dB SNR,
  as a phone recording would have;
* a reference-like clip: other sentences, somewhat longer, clean with a faint
  room tone, as a cleaned reference is.

Each consent clip is augmented twice (two rooms, two noises). Genuine pairs: a voice's
consent clips against its own reference. Impostor pairs: a consent clip against every other
voice's reference; those of the same language group and gender (``zf_*`` vs ``zf_*``) are
the hard cases and are reported apart. Voices are taken two per language-and-gender group
first, so a run cut short by ``--budget`` still has hard pairs in every group it reached.
Prints a table and writes bench/results/consent_eer.json. Rendered clips are cached under
~/.cache/narrator/test-audio, so a second run only embeds.

    .venv/bin/python bench/consent_eer.py               # renders for up to 10 min, then scores
    .venv/bin/python bench/consent_eer.py --budget 0    # all 54 voices (~8 min on 2 idle cores)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine

from shared.audio_types import SAMPLE_RATE
from shared.consent import statement
from shared.settings import Settings
from tests.support import degrade as d
from worker.model_cache import ModelCache
from worker.tts.synthesis import assets
from worker.tts.synthesis.voice import VoiceState

RESULTS = Path(__file__).resolve().parent / "results" / "consent_eer.json"
AUGMENTATIONS = 2  # consent clips per voice: the same reading in two rooms
NAMES = {"zh": ("林小雨", "王建国", "陈思远", "赵丽华"), "en": ("Emma Brooks", "Daniel Reyes", "Priya Shah", "Tom Walsh")}
COMPANIES = {"zh": ("星光电器", "远航科技"), "en": ("Northwind Audio", "Bluebird Media")}
REFERENCE = {  # about 10 s read: longer than the statement, as a reference is (kept short to fit the time)
    "zh": "大家好，欢迎来到我们的直播间。这款蓝牙耳机续航三十个小时，佩戴轻巧，通勤运动都合适，价格实惠，欢迎选购。",
    "en": ("Welcome back to the shop. These wireless earbuds last thirty hours on a charge and weigh almost "
           "nothing, so they suit the commute and the gym alike."),
}


def voice_language(name: str) -> str:
    """Chinese text for the Chinese packs; every other pack reads English (the frontend's two languages)."""
    return "zh" if name.startswith("z") else "en"


def group(name: str) -> str:
    """Language group and gender: ``zf``, ``am`` ... Same group = hard impostor pair."""
    return name[:2]


def render(models: ModelCache, name: str, text: str, cache: Path) -> np.ndarray:
    key = hashlib.sha1(f"{models.engine.version}\0{name}\0{text}".encode()).hexdigest()[:12]
    path = cache / f"eer-{name}-{key}.wav"
    if path.exists():
        audio, sr = sf.read(path, dtype="float32")
        if sr == SAMPLE_RATE and audio.size:
            return audio
    state = VoiceState(style=assets.load_voice_pack(models.cache_dir, name), embedding=np.zeros(256, np.float32),
                       language=voice_language(name), method="stock", engine_version=models.engine.version)
    audio = models.synthesizer.render(text, state).audio.astype(np.float32)
    sf.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    return audio


def consent_text(name: str, n: int) -> str:
    lang = voice_language(name)
    code = "".join(str(2 + (n * 7 + i * 3) % 7) for i in range(4))  # digits 2-8, as one_time_code draws them
    return statement(lang, NAMES[lang][n % 4], COMPANIES[lang][n % 2], code)


def augment(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A phone in a small room: mild reverb, then noise at 20-30 dB SNR."""
    rt60, snr = float(rng.uniform(0.2, 0.5)), float(rng.uniform(20, 30))
    kind = str(rng.choice(["pink", "babble", "white"]))
    audio = d.add_noise(d.add_reverb(clean, rt60, rng, drr_db=float(rng.uniform(3, 9))), snr, rng, kind=kind)
    return d.with_room_tone(audio, rng, level_db=-60), {"rt60_s": round(rt60, 2), "snr_db": round(snr, 1),
                                                        "noise": kind}


def voice_order(names: list[str]) -> list[str]:
    """Two voices of every language-and-gender group first (hard pairs early), Chinese and
    English groups (the languages consent is verified in) before the others, then the rest."""
    groups: dict[str, list[str]] = {}
    for name in sorted(names, key=lambda n: ("zab".find(n[0]) % 3 if n[0] in "zab" else 3, n)):
        groups.setdefault(group(name), []).append(name)
    first = [n for members in groups.values() for n in members[:2]]
    return first + [n for n in groups_flat(groups) if n not in first]


def groups_flat(groups: dict[str, list[str]]) -> list[str]:
    return [n for members in groups.values() for n in members]


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, threshold): the cosine where false accepts and false rejects are equally likely."""
    candidates = np.unique(np.concatenate([genuine, impostor]))
    best = (2.0, 0.0, 0.0)
    for t in candidates:
        far, frr = float(np.mean(impostor >= t)), float(np.mean(genuine < t))
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2, float(t))
    return best[1], best[2]


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> dict[str, float]:
    return {"far": round(float(np.mean(impostor >= threshold)), 4), "frr": round(float(np.mean(genuine < threshold)), 4)}


def threshold_for_far(impostor: np.ndarray, far: float) -> float:
    """The lowest threshold whose false-accept rate is at most ``far``."""
    return float(np.quantile(impostor, 1.0 - far, method="higher")) + 1e-6


def run(budget_s: float, n_voices: int | None = None) -> dict[str, Any]:
    models = ModelCache(Settings.from_env())
    stock = assets.list_voice_names(models.cache_dir)
    all_names = voice_order(stock)[:n_voices]
    cache = d.cache_dir()
    rng = np.random.default_rng(7)
    names: list[str] = []
    consent_emb, reference_emb, conditions = [], [], []
    started = time.perf_counter()
    for n, name in enumerate(all_names):
        if budget_s and time.perf_counter() - started > budget_s:
            print(f"  budget of {budget_s:.0f} s spent: scoring {len(names)} voices", file=sys.stderr)
            break
        clean = render(models, name, consent_text(name, stock.index(name)), cache)
        reference = d.with_room_tone(render(models, name, REFERENCE[voice_language(name)], cache), rng)
        for _ in range(AUGMENTATIONS):
            audio, info = augment(clean, rng)
            consent_emb.append(models.encoder.embed(audio, SAMPLE_RATE))
            conditions.append({"voice": name, **info, "consent_seconds": round(len(clean) / SAMPLE_RATE, 1),
                               "reference_seconds": round(len(reference) / SAMPLE_RATE, 1)})
        reference_emb.append(models.encoder.embed(reference, SAMPLE_RATE))
        names.append(name)
        print(f"  {n + 1:2d}/{len(all_names)} {name:14s} {time.perf_counter() - started:6.0f} s", file=sys.stderr)
    # Rows: consent clips (AUGMENTATIONS per voice); columns: references. Unit-norm: the dot is the cosine.
    scores = np.stack(consent_emb) @ np.stack(reference_emb).T
    row_voice = [v for v in names for _ in range(AUGMENTATIONS)]
    same = np.array([[group(a) == group(b) for b in names] for a in row_voice])
    eye = np.array([[a == b for b in names] for a in row_voice])
    genuine, impostor, hard = scores[eye], scores[~eye], scores[same & ~eye]
    eer, at = equal_error_rate(genuine, impostor)
    hard_eer, hard_at = equal_error_rate(genuine, hard)
    current = Settings().consent_speaker_threshold
    worst = [{"consent": row_voice[i], "reference": names[j], "cosine": round(float(scores[i, j]), 4)}
             for i, j in zip(*np.unravel_index(np.argsort(np.where(eye, -1, scores), axis=None)[::-1][:8],
                                               scores.shape), strict=True)]
    return {
        "voices": len(names), "names": names, "genuine_pairs": int(genuine.size), "impostor_pairs": int(impostor.size),
        "hard_impostor_pairs": int(hard.size),
        "genuine": {"min": round(float(genuine.min()), 4), "median": round(float(np.median(genuine)), 4)},
        "impostor": {"max": round(float(impostor.max()), 4), "median": round(float(np.median(impostor)), 4)},
        "hard_impostor": {"max": round(float(hard.max()), 4), "median": round(float(np.median(hard)), 4)},
        "eer": round(eer, 4), "eer_threshold": round(at, 4),
        "hard_eer": round(hard_eer, 4), "hard_eer_threshold": round(hard_at, 4),
        "current_threshold": current, "at_current": rates(genuine, impostor, current),
        "at_current_hard": rates(genuine, hard, current),
        "threshold_far_1pct_hard": round(threshold_for_far(hard, 0.01), 4),
        "at_far_1pct_hard": rates(genuine, hard, threshold_for_far(hard, 0.01)),
        "sweep": [{"threshold": t, **rates(genuine, impostor, t), "far_hard": rates(genuine, hard, t)["far"]}
                  for t in (0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86, 0.88, 0.90)],
        "closest_impostors": worst,
        "genuine_scores": {n: [round(float(x), 4) for x in scores[eye][k * AUGMENTATIONS:(k + 1) * AUGMENTATIONS]]
                           for k, n in enumerate(names)},
        "conditions": conditions,
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"{result['voices']} voices: {result['genuine_pairs']} genuine, {result['impostor_pairs']} impostor pairs "
          f"({result['hard_impostor_pairs']} same language group and gender)")
    print(f"genuine cosine min {result['genuine']['min']} median {result['genuine']['median']}; impostor max "
          f"{result['impostor']['max']} median {result['impostor']['median']}; hard impostor max "
          f"{result['hard_impostor']['max']} median {result['hard_impostor']['median']}")
    print(f"EER {100 * result['eer']:.1f} % at cosine {result['eer_threshold']}; hard pairs only: "
          f"{100 * result['hard_eer']:.1f} % at {result['hard_eer_threshold']}")
    print(f"at the current {result['current_threshold']}: FAR {100 * result['at_current']['far']:.1f} % "
          f"(hard {100 * result['at_current_hard']['far']:.1f} %), FRR {100 * result['at_current']['frr']:.1f} %")
    print()
    print(f"{'threshold':>9s} {'FAR %':>7s} {'FAR hard %':>10s} {'FRR %':>7s}")
    for row in result["sweep"]:
        print(f"{row['threshold']:9.2f} {100 * row['far']:7.2f} {100 * row['far_hard']:10.2f} {100 * row['frr']:7.2f}")
    print()
    for pair in result["closest_impostors"]:
        print(f"  closest impostor: {pair['consent']:14s} vs {pair['reference']:14s} {pair['cosine']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600,
                        help="seconds of rendering before scoring the voices done so far (0: all 54)")
    parser.add_argument("--voices", type=int, default=None, help="only the first N voices of the order")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.budget, args.voices)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine()
    print_table(result)
    print(f"\nwall {result['wall_seconds']} s; load {result['machine']['load_avg']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
