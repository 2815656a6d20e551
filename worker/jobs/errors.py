"""Why a job failed its row: one class per reason, whose ``code`` is stored before the reason
on the row (``consent_revoked: …``) and labels the ``items`` metric.

Only ``InvalidInput`` (``shared.errors``) is the caller's fault: the text, its inline
readings or the tenant's lexicon. A render that raises anything else — a ``ValueError``
deep in the model stack included — is the service's problem: the task tries it again, and
fails it as ``InternalError`` once its attempts are spent.
"""

from __future__ import annotations

from shared.errors import NarratorError


class ConsentRevoked(NarratorError):
    """The voice's consent is not in force (revoked, or the voice deleted) for this render."""

    code = "consent_revoked"


class WorkerLost(NarratorError):
    """The item's worker stopped mid-render on every attempt it was given."""

    code = "worker_lost"


class InternalError(NarratorError):
    """A render raised something no step expected, on every attempt."""

    code = "internal_error"


class Transient(NarratorError):
    """Storage, database or broker faults outlasted every retry."""

    code = "transient"


class RenderFailed(NarratorError):
    """A speech stream's render broke mid-stream (what was heard cannot be taken back: no retry)."""

    code = "render_failed"


class PoisonMessage(NarratorError):
    """The task's message stopped its worker on each delivery and was set aside."""

    code = "poison_message"


def recorded(error: NarratorError) -> str:
    """The error as a row stores it: ``code: reason``."""
    return f"{error.code}: {error.reason}"
