"""Accuracy of the text frontend on tests/data/frontend_hard.tsv.

Usage: .venv/bin/python bench/frontend_accuracy.py [--show-failures] [--wetext]
Prints (category, n, accuracy) and writes bench/results/frontend.json.

``--wetext`` also reads the set's normalization lines with WeTextProcessing's Chinese
grammars (TTS options: erhua and interjections kept), the normalizer the project
measured before writing its own; it needs ``pip install WeTextProcessing==1.2.0``
(pynini, ~0.4 GB), which is not a project dependency.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.tts.frontend import Frontend  # noqa: E402
from worker.tts.frontend_eval import Case, evaluate, load_cases  # noqa: E402


def wetext_normalization(cases: list[Case]) -> dict[str, object]:
    """Exact-match rate of WeTextProcessing on the cases that pin a normalized text."""
    try:
        from tn.chinese.normalizer import Normalizer
    except ImportError:
        raise SystemExit("--wetext needs WeTextProcessing: .venv/bin/pip install WeTextProcessing==1.2.0") from None
    normalizer = Normalizer(remove_erhua=False, remove_interjections=False, full_to_half=False)
    rows = [c for c in cases if c.expected_normalized]
    misses = [{"text": c.text, "expected": c.expected_normalized, "got": got} for c in rows
              if (got := normalizer.normalize(c.text)) != c.expected_normalized]
    return {"n": len(rows), "accuracy": 1 - len(misses) / max(len(rows), 1), "misses": misses}


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    frontend = Frontend()
    load_s = time.perf_counter() - t0
    cases = load_cases(ROOT / "tests" / "data" / "frontend_hard.tsv")
    report = evaluate(frontend, cases)
    report["load_s"] = load_s
    print(f"{'category':<12} {'n':>4} {'accuracy':>9}")
    for cat, row in report["categories"].items():  # type: ignore[union-attr]
        print(f"{cat:<12} {row['n']:>4} {row['accuracy']:>9.3f}")
    print(f"{'all':<12} {report['n']:>4} {report['accuracy']:>9.3f}")
    print(f"load {load_s:.2f}s, {report['ms_per_line']:.2f} ms/line")
    if "--wetext" in argv:
        report["wetext"] = wetext = wetext_normalization(cases)
        print(f"WeTextProcessing on the {wetext['n']} normalization lines: {wetext['accuracy']:.3f}")
    if "--show-failures" in argv:
        for f in report["failures"]:  # type: ignore[union-attr]
            print(json.dumps(f, ensure_ascii=False))
    out = ROOT / "bench" / "results" / "frontend.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
