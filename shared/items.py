"""What one batch item may hold, checked in one place for every way items arrive.

A JSON batch, a schedule's inline items, a preview, and each line of a streamed CSV or
JSONL source all become items through :func:`check_item`, so a rule (text length, the
inline ``{word|reading}`` overrides, the external id) cannot hold on one path and not on
another. The voice is only named here: whether it exists and is ready needs the database,
which the caller holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInput
from shared.pronunciation.readings import check_overrides

MAX_VOICE_ID = 36
MAX_EXTERNAL_ID = 200


@dataclass(frozen=True)
class ItemProblem:
    """Why an item is refused: the field at fault (as the caller labels it) and a human reason."""

    field: str
    reason: str

    def error(self) -> InvalidInput:
        """The 422 the API answers for it."""
        return InvalidInput(self.reason, field=self.field)


def check_item(fields: Mapping[str, Any], max_chars: int, default_voice: Any = None,
               label: str = "") -> tuple[dict[str, Any], ItemProblem | None]:
    """The item ``fields`` become (``text``, ``voice_id``, ``external_id``) and why it is
    invalid, None when it is fine.

    ``default_voice`` is the batch's, for items that name none (checked as theirs would be).
    ``label`` prefixes the field names in reasons (``items[3].`` for a JSON batch's fourth
    item). The item comes back even when invalid, truncated to fit its columns, so that a
    streamed source can store it as a failed item beside its reason.
    """
    raw_text, raw_voice = fields.get("text"), fields.get("voice_id") or default_voice
    raw_id = fields.get("id", fields.get("external_id"))
    item = {
        "text": raw_text.strip()[:max_chars] if isinstance(raw_text, str) else "",
        "voice_id": None,
        "external_id": raw_id.strip()[:MAX_EXTERNAL_ID] or None if isinstance(raw_id, str) else None,
    }
    problem = (_text_problem(raw_text, max_chars, f"{label}text")
               or _id_problem(raw_id, f"{label}id")
               or _voice_problem(raw_voice, f"{label}voice_id"))
    if problem is None:
        item["voice_id"] = raw_voice.strip()
    return item, problem


def override_problem(text: str, field: str) -> ItemProblem | None:
    """Why an inline ``{word|reading}`` override of ``text`` cannot be read, None when every
    one can: refused before storing, never at render time."""
    try:
        check_overrides(text)
    except ValueError as exc:
        return ItemProblem(field, f"{field}: {exc}")
    return None


def _text_problem(value: Any, max_chars: int, field: str) -> ItemProblem | None:
    if value is None or value == "":
        return ItemProblem(field, f"'{field}' is required")
    if not isinstance(value, str):
        return ItemProblem(field, f"'{field}' must be a string")
    text = value.strip()
    if not text:
        return ItemProblem(field, f"'{field}' must not be blank")
    if len(text) > max_chars:
        return ItemProblem(field, f"'{field}' is longer than {max_chars} characters")
    return override_problem(text, field)


def _id_problem(value: Any, field: str) -> ItemProblem | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return ItemProblem(field, f"'{field}' must be a string")
    if len(value.strip()) > MAX_EXTERNAL_ID:
        return ItemProblem(field, f"'{field}' is longer than {MAX_EXTERNAL_ID} characters")
    return None


def _voice_problem(value: Any, field: str) -> ItemProblem | None:
    if value is None or value == "":
        return ItemProblem(field, f"'{field}' is required (in the item or as the batch's voice_id)")
    if not isinstance(value, str):
        return ItemProblem(field, f"'{field}' must be a string")
    voice_id = value.strip()
    if not voice_id:
        return ItemProblem(field, f"'{field}' must not be blank")
    if len(voice_id) > MAX_VOICE_ID:
        return ItemProblem(field, f"'{field}' is longer than {MAX_VOICE_ID} characters")
    return None
