"""Pronunciation feedback closed by a render: an applied correction is verified once a
render has used its lexicon entry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from shared.audit import record
from shared.models import Feedback, FeedbackState, utcnow
from worker.context import WorkerContext

if TYPE_CHECKING:  # the frontend: imported where it runs (``WorkerContext.models``)
    from worker.tts.text.analysis import Analysis


def verify_feedback(ctx: WorkerContext, tenant_id: str, item_id: str, analysis: Analysis) -> None:
    """Applied feedback whose lexicon entry this render used is now verified."""
    used = {f.entry_id: f for f in analysis.lexicon_matches() if f.entry_id}
    if not used:
        return
    with ctx.sessions.begin() as s:
        rows = s.scalars(select(Feedback).where(
            Feedback.tenant_id == tenant_id, Feedback.state == FeedbackState.applied.value,
            Feedback.lexicon_entry_id.in_(list(used)))).all()
        for fb in rows:
            fb.state = FeedbackState.verified.value
            fb.updated_at = utcnow()
            record(s, tenant_id, "worker", "feedback.verified", "feedback", fb.id, item_id=item_id,
                   word=fb.word, reading=used[fb.lexicon_entry_id or ""].reading)
