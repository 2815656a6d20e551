"""The per-speaker spectral conversion on held-out speakers, judged by CAM++.

For each speaker: the nearest stock voice, the clone (the blend search, then the style search in
the time enrollment's budget leaves it, as the service enrolls), the clone with
the conversion as enrollment ships it (kept only when the guard passes it), and the clone with
the learned conversion always applied (what the guard was protecting against). Each is judged
on held-out texts in the speaker's language and, cross-lingually, in the other language, by
CAM++ (which took no part in any choice), Whisper and DNSMOS.

Speaker sets: A (``--set A``) is the tuning set (the conversion's defaults were chosen while
looking at two of its speakers); B (``--set B``) is sealed: only ever scored.

    .venv/bin/python bench/conversion.py --set B   # ~15 min on an idle 2-core box
    .venv/bin/python bench/conversion.py --set A
    .venv/bin/python bench/conversion.py --set A --blend-only   # enrolled as this bench did before
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quality as q
from cloning_methods import DEFAULT_SPEAKERS, VALIDATION_SPEAKERS
from spectrogram import save_stack

from shared.audio_types import SAMPLE_RATE
from tests.support import degrade as d
from worker.model_cache import ModelCache
from worker.tts.checks.reference_report import ReferenceRejected
from worker.tts.checks.scoring import error_rate
from worker.tts.cloning.conversion_fit import (
    DEFAULT_PENALTY,
    ORDER,
    Pair,
    choose_penalty,
    design,
    distance,
    fit,
    stretched,
)
from worker.tts.cloning.enroll import Cloner, whisper_listener
from worker.tts.synthesis.conversion import SpectralConversion
from worker.tts.synthesis.pipeline import SynthesisConfig
from worker.tts.synthesis.voice import VoiceState

RESULTS = Path(__file__).resolve().parent / "results"
SETS = {"A": DEFAULT_SPEAKERS, "B": VALIDATION_SPEAKERS}
SPECTROGRAMS = RESULTS / "spectrograms"  # per speaker: held-out speech, clone, clone converted
METHODS = ("stock", "clone", "converted", "converted-ungated")


@dataclass(frozen=True)
class Network:
    """A small per-speaker network on what the regression leaves (tried with ``--sweep``; not shipped:
    on set A it did no better than the regression alone)."""

    units: int = 32
    steps: int = 400
    decay: float = 1e-3  # L2 penalty on both layers, on standardised inputs and outputs
    rate: float = 0.01  # Adam's step size


@dataclass(frozen=True)
class NetworkConversion(SpectralConversion):
    """The regression plus ``tanh(x · hidden) · readout`` on the same context frames x."""

    hidden: np.ndarray | None = None
    readout: np.ndarray | None = None

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return super().predict(inputs) + np.tanh(inputs @ self.hidden) @ self.readout


def train_network(x: np.ndarray, residual: np.ndarray, network: Network) -> tuple[np.ndarray, np.ndarray]:
    """``hidden`` and ``readout`` with ``tanh(x · hidden) · readout`` ≈ ``residual``, full batch on
    standardised data, the scaling folded back into the matrices (x's last column is the bias)."""
    import torch

    mean, spread = x[:, :-1].mean(axis=0), x[:, :-1].std(axis=0) + 1e-6
    out_spread = residual.std(axis=0) + 1e-6
    inputs = torch.tensor(np.hstack([(x[:, :-1] - mean) / spread, x[:, -1:]]), dtype=torch.float32)
    target = torch.tensor(residual / out_spread, dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    hidden = (torch.randn(x.shape[1], network.units, generator=generator) / np.sqrt(x.shape[1])).requires_grad_()
    readout = torch.zeros(network.units, residual.shape[1], requires_grad=True)
    optimiser = torch.optim.Adam([hidden, readout], lr=network.rate)
    for _ in range(network.steps):
        optimiser.zero_grad()
        loss = ((torch.tanh(inputs @ hidden) @ readout - target) ** 2).mean()
        (loss + network.decay * (hidden.pow(2).sum() + readout.pow(2).sum())).backward()
        optimiser.step()
    w, b = hidden.detach().double().numpy(), readout.detach().double().numpy()
    return np.vstack([w[:-1] / spread[:, None], w[-1:] - (mean / spread) @ w[:-1]]), b * out_spread


def fit_network(pairs: list[Pair], penalty: float, network: Network) -> NetworkConversion:
    """The shipped fit, then a network trained on its regression's residual on the alignment it
    finds; the MLPG variances and the GV stretch measured again."""
    base = fit(pairs, penalty)
    x, y = design(pairs, replace(base, gv_scale=np.ones(ORDER)))
    hidden, readout = train_network(x, y - base.predict(x), network)
    joint = NetworkConversion(**{**vars(base), "gv_mean": np.zeros(ORDER), "gv_scale": np.ones(ORDER)},
                              hidden=hidden, readout=readout)
    residual = (y - joint.predict(x)).var(axis=0) + 1e-6
    return stretched(replace(joint, static_var=residual[:ORDER], delta_var=residual[ORDER:]), pairs)


@dataclass(frozen=True)
class NearestFrames(SpectralConversion):
    """Exemplar conversion (tried with ``--sweep``): each frame the regression predicts (before its
    GV stretch) is replaced by the mean of the ``k`` nearest of the speaker's own reference frames,
    so the output has the speaker's own detail rather than a regression's average."""

    bank: np.ndarray | None = None  # (N, ORDER) the speaker's speech frames
    k: int = 4
    mix: float = 1.0  # share of the exemplars against the stretched regression

    def convert(self, cepstra: np.ndarray) -> np.ndarray:
        assert self.bank is not None
        trajectory = SpectralConversion.convert(replace(self, gv_scale=np.ones(ORDER)), cepstra)
        squared = (trajectory ** 2).sum(1)[:, None] - 2 * trajectory @ self.bank.T + (self.bank ** 2).sum(1)[None]
        nearest = np.argpartition(squared, self.k, axis=1)[:, :self.k]
        exemplars = self.bank[nearest].mean(axis=1)
        if self.mix == 1.0:
            return exemplars
        stretched = self.gv_mean + (trajectory - self.gv_mean) * self.gv_scale  # the same MLPG solve, GV applied
        return self.mix * exemplars + (1 - self.mix) * stretched


def nearest_frames(base: SpectralConversion, pairs: list[Pair], k: int, mix: float = 1.0) -> NearestFrames:
    return NearestFrames(**vars(base), bank=np.vstack([p.speaker for p in pairs]), k=k, mix=mix)


NETWORKS = (Network(units=32), Network(units=64), Network(units=32, decay=1e-2), Network(units=32, steps=1000))


def judge_voice(models: ModelCache, judges: list[q.Judge], prepared: q.Prepared, voice: VoiceState,
                asr: bool = True) -> dict[str, Any]:
    """Same-language scores (bench/quality.py's), DNSMOS of those renders, and the other
    language's held-out texts: CAM++ to the speaker's held-out speech and Whisper's error."""
    out = q.evaluate_style(models, judges, prepared, voice, asr=asr)
    lang = prepared.speaker.language
    renders = [models.synthesizer.render(t, voice).audio for t in q.TEXTS[lang]["heldout"]]
    out["dnsmos_ovrl"] = models.dnsmos.overall(np.concatenate(renders), SAMPLE_RATE)
    other = "en" if lang == "zh" else "zh"
    texts = q.TEXTS[other]["heldout"]
    crossed = [models.synthesizer.render(t, voice).audio for t in texts]
    campplus = next(j for j in judges if j.name == "campplus")
    held = prepared.heldout_embeddings["campplus"]
    out["cross_campplus"] = float(np.mean([campplus.embed(r, SAMPLE_RATE) @ h for r in crossed for h in held]))
    if asr:
        heard = [models.transcriber.transcribe(r, SAMPLE_RATE, language=other).text for r in crossed]
        out["cross_asr_error"] = float(np.mean([error_rate(t, h, other) for t, h in zip(texts, heard)]))
    return out


def evaluate_speaker(models: ModelCache, judges: list[q.Judge], speaker: q.HeldOutSpeaker,
                     search: bool = True) -> dict[str, Any]:
    """One speaker enrolled as the service does (``search=False``: the blend search alone, with no
    deadline for the conversion, as this bench ran before)."""
    prepared = q.prepare(models, judges, speaker)
    cloner = Cloner(models.synthesizer, models.encoder, prepared.bank, whisper_listener(models.transcriber))
    started = time.monotonic()
    if search:
        clone, deadline = models.clone(prepared.reference, SAMPLE_RATE, speaker.language, cloner)
    else:
        clone, deadline = cloner.enroll(prepared.reference, SAMPLE_RATE, speaker.language), None
    clone_s = time.monotonic() - started
    report, conversion = models.conversion_learner.attempt(prepared.reference, clone, speaker.language, deadline)
    stock_name = str(clone.metrics["best_stock_voice"])
    stock = replace(clone, style=prepared.bank.styles[prepared.bank.names.index(stock_name)])
    ungated = replace(clone, conversion=conversion)
    scored = {"stock": judge_voice(models, judges, prepared, stock, asr=False),
              "clone": judge_voice(models, judges, prepared, clone)}
    scored["converted-ungated"] = judge_voice(models, judges, prepared, ungated) if conversion else scored["clone"]
    scored["converted"] = scored["converted-ungated"] if report["kept"] else scored["clone"]
    text = q.TEXTS[speaker.language]["heldout"][0]
    save_stack(SPECTROGRAMS / f"{speaker.name.replace(':', '_')}.png",
               [speaker.heldout[0]] + [models.synthesizer.render(text, v).audio for v in (clone, ungated)])
    return {"speaker": speaker.name, "source": speaker.source, "language": speaker.language,
            "real": speaker.name.startswith("real:"), "reference_qa": prepared.qa, "ceiling": q.ceiling(prepared),
            "nearest_stock": stock_name, "chosen": clone.metrics["chosen"], "clone_enroll_s": round(clone_s, 1),
            "search_accepted": clone.metrics.get("search_accepted"), "search_gain": clone.metrics.get("search_gain"),
            "conversion": report, "methods": scored}


DEGRADATIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "clean": lambda a, rng: a,
    "white noise 25 dB": lambda a, rng: d.add_noise(a, 25.0, rng, kind="white"),
    "pink noise 22 dB": lambda a, rng: d.add_noise(a, 22.0, rng, kind="pink"),
    "babble 22 dB": lambda a, rng: d.add_noise(a, 22.0, rng, kind="babble"),
    "reverb RT60 0.4 s": lambda a, rng: d.add_reverb(a, 0.4, rng),
}


def degraded_rows(models: ModelCache, judges: list[q.Judge], speaker: q.HeldOutSpeaker) -> list[dict[str, Any]]:
    """One speaker's reference under each degradation: the clone and the conversion fitted with and
    without the reference's noise floor subtracted, all judged against the clean held-out speech."""
    rows = []
    for name, degrade in DEGRADATIONS.items():
        noisy = replace(speaker, reference=degrade(speaker.reference, np.random.default_rng(7)))
        try:
            prepared = q.prepare(models, judges, noisy)
        except ReferenceRejected as exc:
            rows.append({"degradation": name, "rejected": str(exc)})
            continue
        cloner = Cloner(models.synthesizer, models.encoder, prepared.bank, whisper_listener(models.transcriber))
        clone = cloner.enroll(prepared.reference, SAMPLE_RATE, speaker.language)
        row: dict[str, Any] = {"degradation": name, "qa": prepared.qa,
                               "clone": judge_voice(models, judges, prepared, clone, asr=False)["campplus"]}
        for denoise in (False, True):
            learner = copy.copy(models.conversion_learner)
            learner.denoise = denoise
            report, conversion = learner.attempt(prepared.reference, clone, speaker.language)
            key = "denoised" if denoise else "plain"
            row[f"{key}_kept"] = report.get("kept")
            row[f"{key}_ungated"] = (judge_voice(models, judges, prepared, replace(clone, conversion=conversion),
                                                 asr=False)["campplus"] if conversion else None)
        rows.append(row)
        print(f"  {name}: {row}", flush=True)
    return rows


def sweep_rows(models: ModelCache, judges: list[q.Judge], speaker: q.HeldOutSpeaker) -> dict[str, Any]:
    """Settings of the conversion tried on one tuning speaker: the clone's held-out renders are made
    once and each variant filters them (as a render would, chunk by chunk), judged by CAM++."""
    prepared = q.prepare(models, judges, speaker)
    cloner = Cloner(models.synthesizer, models.encoder, prepared.bank, whisper_listener(models.transcriber))
    clone = cloner.enroll(prepared.reference, SAMPLE_RATE, speaker.language)
    learner = models.conversion_learner
    pairs = learner.parallel(prepared.reference, clone, speaker.language).pairs
    penalty = choose_penalty(pairs[:1], pairs[1])[0] if len(pairs) > 1 else DEFAULT_PENALTY
    texts = q.TEXTS[speaker.language]["heldout"]
    renders = [models.synthesizer.render(t, clone).audio for t in texts]
    # Speaking-rate matching: the clone read the reference's transcript in this many of the speaker's
    # speech frames; rendered at that speed (within Kokoro's comfortable 0.8-1.25) it keeps the speaker's pace.
    rate = float(np.clip(sum(len(p.clone) for p in pairs) / sum(len(p.speaker) for p in pairs), 0.8, 1.25))
    at_rate = [models.synthesizer.render(t, clone, SynthesisConfig(speed=rate)).audio for t in texts]
    campplus = next(j for j in judges if j.name == "campplus")
    held = prepared.heldout_embeddings["campplus"]

    def converted(conversion: SpectralConversion | None, plain: list[np.ndarray]) -> list[np.ndarray]:
        return plain if conversion is None else [conversion.apply(r, learner.analyzer) for r in plain]

    def judged(conversion: SpectralConversion | None, plain: list[np.ndarray] = renders) -> float:
        return float(np.mean([campplus.embed(a, SAMPLE_RATE) @ h for a in converted(conversion, plain) for h in held]))

    def dnsmos(conversion: SpectralConversion | None) -> float:
        return round(models.dnsmos.overall(np.concatenate(converted(conversion, renders)), SAMPLE_RATE), 3)

    base = fit(pairs, penalty)
    shift = np.vstack([p.speaker for p in pairs]).mean(axis=0) - np.vstack([p.clone for p in pairs]).mean(axis=0)
    variants: dict[str, SpectralConversion | None] = {
        "clone": None,
        "mean shift only (LTAS)": SpectralConversion.offset(shift),
        "ridge, no GV": replace(base, gv_scale=np.ones_like(base.gv_scale)),
        "ridge + GV (shipped)": base,
        "ridge + GV x1.5 strength": replace(base, strength=1.5),
        "ridge + GV, strength 0.5": replace(base, strength=0.5),
        "ridge + GV, penalty x10": fit(pairs, penalty * 10),
        "ridge + GV, penalty /10": fit(pairs, penalty / 10),
        "ridge + GV at most x1.5": replace(base, gv_scale=np.minimum(base.gv_scale, 1.5)),
        "ridge + GV on c1-c12 only": replace(base, gv_scale=np.r_[base.gv_scale[:12], np.ones(ORDER - 12)]),
        "nearest speaker frames, k=4": nearest_frames(base, pairs, 4),
        "nearest speaker frames, k=8": nearest_frames(base, pairs, 8),
        "nearest speaker frames, k=1": nearest_frames(base, pairs, 1),
        "half nearest frames k=4, half ridge + GV": nearest_frames(base, pairs, 4, mix=0.5),
        **{f"ridge + network {n.units}u/{n.steps}/{n.decay:g} + GV": fit_network(pairs, penalty, n) for n in NETWORKS},
    }
    row = {"speaker": speaker.name, "penalty": penalty, "rate": round(rate, 3), "ceiling": q.ceiling(prepared)["campplus"],
           "variants": {name: judged(v) for name, v in variants.items()},
           "dnsmos": {name: dnsmos(v) for name, v in variants.items()}}
    if len(pairs) > 1:  # what the held-out tail says of each fitted variant (fitted on the first part alone)
        row["held_out_distance"] = {name: distance(mapping.convert(pairs[1].clone), pairs[1]) for name, mapping in (
            ("ridge", replace(fit(pairs[:1], penalty), gv_scale=np.ones(ORDER))),
            *((f"network {n.units}u/{n.steps}/{n.decay:g}",
               replace(fit_network(pairs[:1], penalty, n), gv_scale=np.ones(ORDER))) for n in NETWORKS))}
    row["variants"]["clone at the speaker's rate"] = judged(None, at_rate)
    row["variants"]["ridge + GV at the speaker's rate"] = judged(base, at_rate)
    print(f"  {speaker.name}: {row['variants']}", flush=True)
    return row


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return round(statistics.fmean(numbers), 4) if numbers else None


KEYS = ("campplus", "resemblyzer", "asr_error", "asr_syllable_error", "dnsmos_ovrl", "cross_campplus",
        "cross_asr_error")


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def group(selected: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"speakers": len(selected)}
        for method in METHODS:
            out[method] = {k: _mean([r["methods"][method].get(k) for r in selected]) for k in KEYS}
        out["zh_cer"] = {m: _mean([r["methods"][m].get("asr_error") for r in selected if r["language"] == "zh"])
                         for m in METHODS[1:]}
        out["en_wer"] = {m: _mean([r["methods"][m].get("asr_error") for r in selected if r["language"] == "en"])
                         for m in METHODS[1:]}
        out["kept"] = sum(bool(r["conversion"].get("kept")) for r in selected)
        out["conversion_s"] = _mean([r["conversion"].get("seconds") for r in selected])
        out["ceiling_campplus"] = _mean([r["ceiling"]["campplus"] for r in selected])
        return out

    return {"all": group(rows), "real": group([r for r in rows if r["real"]]),
            "synthetic": group([r for r in rows if not r["real"]]),
            "zh": group([r for r in rows if r["language"] == "zh"]),
            "en": group([r for r in rows if r["language"] == "en"])}


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "-"


def print_table(rows: list[dict[str, Any]], means: dict[str, Any]) -> None:
    head = (f"{'speaker':24}| {'CAM++ stock/clone/conv/ungated':>31} | {'ceil':>5} | {'err clone/conv':>14} | "
            f"{'DNSMOS clone/conv':>17} | {'cross CAM clone/conv':>20} | kept | conv s | search")
    print(head)
    print("-" * len(head))
    for r in rows:
        m = r["methods"]
        cams = "/".join(_f(m[k]["campplus"]) for k in METHODS)
        print(f"{r['speaker']:24}| {cams:>31} | {_f(r['ceiling']['campplus'], 2):>5} | "
              f"{_f(m['clone'].get('asr_error')) + '/' + _f(m['converted'].get('asr_error')):>14} | "
              f"{_f(m['clone']['dnsmos_ovrl'], 2) + '/' + _f(m['converted']['dnsmos_ovrl'], 2):>17} | "
              f"{_f(m['clone']['cross_campplus']) + '/' + _f(m['converted']['cross_campplus']):>20} | "
              f"{'yes' if r['conversion'].get('kept') else 'no':>4} | {_f(r['conversion'].get('seconds'), 1):>6} | "
              f"{'kept' if r.get('search_accepted') else 'no'}")
    print("-" * len(head))
    for name, g in means.items():
        if not g["speakers"]:
            continue
        cams = "/".join(_f(g[k]["campplus"]) for k in METHODS)
        print(f"{'mean ' + name + ' (' + str(g['speakers']) + ')':24}| {cams:>31} | {_f(g['ceiling_campplus'], 2):>5} | "
              f"{_f(g['clone']['asr_error']) + '/' + _f(g['converted']['asr_error']):>14} | "
              f"{_f(g['clone']['dnsmos_ovrl'], 2) + '/' + _f(g['converted']['dnsmos_ovrl'], 2):>17} | "
              f"{_f(g['clone']['cross_campplus']) + '/' + _f(g['converted']['cross_campplus']):>20} | "
              f"{g['kept']:>4} | {_f(g['conversion_s'], 1):>6}")


def main() -> None:
    parser = q.arguments(__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), default="B", help="A: tuning speakers, B: sealed (default)")
    parser.add_argument("--sweep", action="store_true", help="settings of the conversion, on --set A only")
    parser.add_argument("--degraded", metavar="SPEAKER", help="one speaker's reference under each degradation")
    parser.add_argument("--blend-only", action="store_true",
                        help="enroll with the blend search alone (no style search, no enrollment deadline)")
    args = parser.parse_args()
    if args.sweep and args.set != "A":
        parser.error("--sweep chooses settings: it runs on the tuning set (--set A) only")
    names = list(args.speakers or SETS[args.set])
    models = q.make_models(args.threads)
    judges = q.load_judges(models)
    if args.sweep:
        rows = [sweep_rows(models, judges, s) for s in (q.load_speaker(models, n) for n in names) if s]
        q.write_results(RESULTS / f"conversion_sweep_{args.set}.json", {"set": args.set, "rows": rows})
        for name in rows[0]["variants"] if rows else []:
            print(f"{name:40} CAM++ mean {statistics.fmean(r['variants'][name] for r in rows):.3f}"
                  + (f"  DNSMOS {statistics.fmean(r['dnsmos'][name] for r in rows):.3f}" if name in rows[0]["dnsmos"]
                     else ""))
        return
    if args.degraded:
        speaker = q.load_speaker(models, args.degraded)
        assert speaker is not None, args.degraded
        rows = degraded_rows(models, judges, speaker)
        q.write_results(RESULTS / "conversion_degraded.json", {"speaker": args.degraded, "rows": rows})
        print(f"{'degradation':20} | {'CAM++ clone':>11} | {'conv':>6} | {'conv denoised':>13} | kept plain/denoised")
        for r in rows:
            if "rejected" in r:
                print(f"{r['degradation']:20} | rejected by the reference QA: {r['rejected'][:60]}")
                continue
            print(f"{r['degradation']:20} | {_f(r['clone']):>11} | {_f(r['plain_ungated']):>6} | "
                  f"{_f(r['denoised_ungated']):>13} | {r['plain_kept']}/{r['denoised_kept']}")
        return
    suffix = "_blend" if args.blend_only else ""
    path = RESULTS / f"conversion_{'custom' if args.speakers else args.set}{suffix}.json"
    config = {"bench": "conversion", "set": args.set, "threads": models.settings.synth_threads,
              "style_search": not args.blend_only}
    result = q.run_speakers(models, names, lambda s: evaluate_speaker(models, judges, s, not args.blend_only),
                            path, config, args.resume, summarise)
    q.print_run(result, path, print_table)


if __name__ == "__main__":
    main()
