"""Pronunciation of hard terms before and after reviewers' feedback, on bench/data/pronunciation.tsv.

Usage: .venv/bin/python bench/pronunciation.py [--show-failures] [--no-finetune]

(a) before: the frontend as shipped, on every split, by category;
(b) after the lexicon: one lexicon entry per train-split term (what accepting a reviewer's
    correction adds), scored on the test split (unseen sentences) and the base split
    (regressions);
(c) after fine-tuning: ``after_finetune`` trains a polyphone adapter on the same train-split
    corrections with worker/jobs/finetune.py's pieces and scores it the same way.
Prints a small table with the targets beside the figures and writes bench/results/pronunciation.json.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine
from shared.pronunciation.lexicon import Lexicon
from shared.pronunciation.readings import spoken_zh
from worker.tts.evaluation.pronunciation_eval import (
    CATEGORIES,
    Analyzer,
    Row,
    RowResult,
    failure,
    load_rows,
    score,
    summarize,
    train_lexicon,
)
from worker.tts.text.analysis import CompiledLexicon
from worker.tts.text.frontend import Frontend

DATA = ROOT / "bench" / "data" / "pronunciation.tsv"
CONTEXTS = ROOT / "bench" / "data" / "pronunciation_contexts.tsv"
OUT = ROOT / "bench" / "results" / "pronunciation.json"
TARGET_BEFORE = 0.03  # term error before any feedback
TARGET_AFTER = 0.003  # term error on corrected terms after feedback


def after_finetune(frontend: Frontend, rows: list[Row]) -> tuple[Frontend, dict[str, Any]]:
    """(c) AFTER THE NIGHTLY FINE-TUNE: the train split's corrections go through the same
    training and evaluation gate as a tenant's (worker/jobs/finetune.py: a held-out quarter of
    the corrections, the fixed base set); the frontend is adapted only if the gate promotes."""
    import torch

    from worker.jobs import finetune
    from worker.tts.text.polyphone_lora import with_adapter
    from worker.tts.text.polyphone_model import LearnedPolyphones, PolyphoneModel

    torch.set_num_threads(1)  # a tiny model: more threads only contend on a busy machine
    corrections = []
    for row in rows:
        if row.split != "train":
            continue
        start = row.normalized.find(row.scored_han)
        while start >= 0:
            end = start + len(row.scored_han)
            corrections.append(finetune.Correction(f"{row.id}:{start}", row.normalized, start, end, row.reading))
            start = row.normalized.find(row.scored_han, end)
    model = PolyphoneModel.bundled()
    data, report = finetune.train_candidate(frontend, model, corrections)
    if data is None:
        return frontend, report.to_json()
    adapted = frontend.with_learned(LearnedPolyphones(with_adapter(model, data), frozenset(report.chars), 1))
    return adapted, report.to_json()


def after(analyzer: Analyzer, rows: list[Row], before: list[RowResult], unsupported: list[str],
          lexicon: CompiledLexicon | None = None) -> dict[str, Any]:
    """Train, test (split by how the test row relates to the correction) and base figures after
    feedback, with the base rows that were right before and are wrong now."""
    scored = {s: [score(analyzer, r, lexicon) for r in rows if r.split == s] for s in ("train", "test", "base")}
    test = scored["test"]
    base_before = [r for r in before if r.row.split == "base"]
    return {
        "train": summarize(scored["train"]),
        "test": summarize(test),
        "test_same_term": summarize([r for r in test if not r.row.word and r.row.term not in unsupported]),
        # a subset of the same-term rows: terms written with a Greek letter or math symbol (α粒子)
        "test_related_word": summarize([r for r in test if r.row.word]),
        "test_symbol_terms": summarize([r for r in test if not r.row.word and spoken_zh(r.row.term) != r.row.term]),
        "base": summarize(scored["base"]),
        "base_regressions": [a.row.id for b, a in zip(base_before, scored["base"]) if b.sentence_ok and not a.sentence_ok],
        "failures": [failure(r) for s in ("test", "base") for r in scored[s] if not r.sentence_ok],
    }


def _pct(x: object) -> str:
    return "     -" if x is None else f"{100 * float(x):5.1f}%"  # type: ignore[arg-type]


def _line(label: str, summary: dict[str, Any], target: str = "") -> str:
    s = summary["all"]
    return f"{label:<34} {s['n']:>4} {_pct(s['term_error']):>8} {_pct(s['sentence_error']):>9}  {target}"


def _print_after(figures: dict[str, Any], by_split: dict[str, list[RowResult]]) -> None:
    base_before = _pct(summarize(by_split["base"])["all"]["sentence_error"]).strip()  # type: ignore[index]
    print(_line("    train (seen sentences)", figures["train"]))
    print(_line("    test, same term", figures["test_same_term"], f"term <= {100 * TARGET_AFTER:.1f}%"))
    print(_line("    test, related word (农行 for 招行)", figures["test_related_word"]))
    print(_line("    test, symbol terms (α粒子 …)", figures["test_symbol_terms"]))
    print(_line("    base", figures["base"],
                f"sent err <= before ({base_before}), regressions {len(figures['base_regressions'])} (target 0)"))


def rounds(frontend: Frontend, rows: list[Row], finetune: bool) -> tuple[
        list[RowResult], Lexicon, list[str], dict[str, Any], dict[str, Any] | str]:
    """(a) before feedback, (b) after the lexicon built from the train split, (c) after the
    nightly fine-tune on the same corrections with the lexicon still in place."""
    before = [score(frontend, r) for r in rows]
    lexicon, unsupported = train_lexicon(rows)
    after_lexicon = after(frontend, rows, before, unsupported, frontend.compile(lexicon))
    finetuned: dict[str, Any] | str = "not run: --no-finetune"
    if finetune:
        started = time.perf_counter()
        adapted, gate = after_finetune(frontend, rows)
        finetuned = after(adapted, rows, before, unsupported, adapted.compile(lexicon))
        finetuned["train_s"] = round(time.perf_counter() - started, 1)
        finetuned["gate"] = gate
    return before, lexicon, unsupported, after_lexicon, finetuned


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    frontend = Frontend()
    load_s = time.perf_counter() - t0
    rows = load_rows(DATA)

    before, lexicon, unsupported, after_lexicon, finetuned = rounds(frontend, rows, "--no-finetune" not in argv)
    by_split = {s: [r for r in before if r.row.split == s] for s in ("base", "train", "test")}
    termed = [r for r in before if r.term_ok is not None]
    contexts: dict[str, Any] | None = None
    if "--no-finetune" not in argv:
        c_rows = load_rows(CONTEXTS)
        c_before, _, _, c_lexicon, c_finetuned = rounds(frontend, c_rows, True)
        contexts = {"rows": len(c_rows), "before": summarize(c_before)["all"], "after_lexicon": c_lexicon,
                    "after_finetune": c_finetuned}

    report: dict[str, Any] = {
        "machine": machine(),
        "load_s": load_s,
        "rows": len(rows),
        "targets": {"term_error_before": TARGET_BEFORE, "term_error_after_on_corrected_terms": TARGET_AFTER,
                    "base_regressions": 0},
        "before": {"all": summarize(before)["all"], "by_split": {s: summarize(v) for s, v in by_split.items()},
                   "categories": summarize(before)["categories"]},
        "lexicon": {"entries": [{"word": e.word, "reading": e.reading} for e in lexicon.entries],
                    "terms_not_expressible": unsupported},
        "after_lexicon": after_lexicon,
        "after_finetune": finetuned,
        "contexts": contexts,
        "frontend_errors_before": Counter(
            f"{r.row.scored_word} {r.row.reading} -> {r.term_pinyin or '(not found)'}"
            for r in termed if not r.term_ok).most_common(),
        "failures_before": [failure(r) for r in before if not r.sentence_ok],
    }

    print(f"{'':<34} {'n':>4} {'term err':>8} {'sent err':>9}  target")
    print(_line("(a) before, all splits", summarize(before), f"term <= {100 * TARGET_BEFORE:.0f}%"))
    for s, rs in by_split.items():
        print(_line(f"    {s}", summarize(rs)))
    cats = summarize(before)["categories"]
    for c in CATEGORIES:
        if c in cats:  # type: ignore[operator]
            print(_line(f"    {c}", {"all": cats[c]}))  # type: ignore[index]
    print(f"(b) lexicon: {len(lexicon.entries)} entries from train; not expressible: {', '.join(unsupported) or '-'}")
    _print_after(after_lexicon, by_split)
    if isinstance(finetuned, str):
        print(f"(c) after fine-tuning: {finetuned}")
    else:
        gate = finetuned["gate"]
        print(f"(c) lexicon + nightly fine-tune ({finetuned['train_s']} s): "
              f"{'promoted' if gate['promoted'] else 'refused'} — {gate['reason']}; learned {''.join(gate['chars'])}")
        _print_after(finetuned, by_split)
    if contexts is not None:
        ft = contexts["after_finetune"]
        print(f"(d) contexts set ({CONTEXTS.name}: {contexts['rows']} rows): before "
              f"{_pct(contexts['before']['term_error']).strip()} term error; fine-tune "
              f"{'promoted' if ft['gate']['promoted'] else 'refused'} — {ft['gate']['reason']}")
        print(_line("    test, same term: lexicon", contexts["after_lexicon"]["test_same_term"]))
        print(_line("    test, unseen titles: lexicon", contexts["after_lexicon"]["test_related_word"]))
        print(_line("    test, unseen titles: +fine-tune", ft["test_related_word"]))
        print(_line("    base regressions after fine-tune", {"all": {"n": len(ft["base_regressions"]),
                                                                     "term_error": None, "sentence_error": None}}))
    print(f"load {load_s:.2f}s; load average {machine()['load_avg']}")
    if "--show-failures" in argv:
        for f in report["failures_before"]:
            print(json.dumps(f, ensure_ascii=False))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
