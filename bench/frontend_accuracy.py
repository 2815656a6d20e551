"""Accuracy of the text frontend on tests/data/frontend_hard.tsv.

Usage: .venv/bin/python bench/frontend_accuracy.py [--show-failures]
Prints (category, n, accuracy) and writes bench/results/frontend.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.tts.frontend import Frontend  # noqa: E402
from worker.tts.frontend_eval import evaluate, load_cases  # noqa: E402


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    frontend = Frontend()
    load_s = time.perf_counter() - t0
    report = evaluate(frontend, load_cases(ROOT / "tests" / "data" / "frontend_hard.tsv"))
    report["load_s"] = load_s
    print(f"{'category':<12} {'n':>4} {'accuracy':>9}")
    for cat, row in report["categories"].items():  # type: ignore[union-attr]
        print(f"{cat:<12} {row['n']:>4} {row['accuracy']:>9.3f}")
    print(f"{'all':<12} {report['n']:>4} {report['accuracy']:>9.3f}")
    print(f"load {load_s:.2f}s, {report['ms_per_line']:.2f} ms/line")
    if "--show-failures" in argv:
        for f in report["failures"]:  # type: ignore[union-attr]
            print(json.dumps(f, ensure_ascii=False))
    out = ROOT / "bench" / "results" / "frontend.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
