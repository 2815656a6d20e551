"""What reference QA decides and why: findings with messages for the uploader, the report
that carries them with the measurements, and the error raised when a reference is refused."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

REJECT = "reject"
WARN = "warn"
ACCEPT = "accept"


@dataclass(frozen=True)
class Finding:
    """One problem with the reference; ``message`` is meant for the person who uploaded it."""

    code: str
    message: str
    severity: str  # "reject" | "warn"


class ReferenceRejected(Exception):
    """The reference cannot be used to build a voice; ``reasons`` says why."""

    def __init__(self, reasons: list[Finding], report: QAReport | None = None) -> None:
        self.reasons = list(reasons)
        self.report = report  # the whole QA report, scores included, when the audio was analyzed
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        if not self.reasons:
            return "The reference audio was rejected."
        return "The reference audio was rejected: " + " ".join(f.message for f in self.reasons)

    @property
    def codes(self) -> list[str]:
        """Finding codes, handy for API error payloads and tests."""
        return [f.code for f in self.reasons]

    def __reduce__(self) -> tuple[type, tuple[list[Finding], QAReport | None]]:
        """Survive pickling (Celery ships task exceptions between processes) with reasons intact."""
        return (type(self), (self.reasons, self.report))


@dataclass(frozen=True)
class QAReport:
    """Outcome of reference QA: the decision, the reasons and the raw measurements behind them."""

    decision: str
    findings: list[Finding]
    scores: dict[str, float]

    @property
    def codes(self) -> list[str]:
        """Finding codes in report order."""
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (NaN scores become None) for the API and the job log."""
        return {
            "decision": self.decision,
            "findings": [asdict(f) for f in self.findings],
            "scores": {k: (None if not math.isfinite(v) else round(float(v), 4)) for k, v in self.scores.items()},
        }
