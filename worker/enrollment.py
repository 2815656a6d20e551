"""Enrollment: a reference recording, checked against the speaker's consent recording,
becomes a voice state.

One core for both callers: the enroll job (``worker.jobs.enroll.enroll_voice``), which reads the
audio from storage and records the outcome on the voice's rows, and the CLI's in-memory
enrollment (``narrator enroll``, ``narrator say --reference``), which reads files and writes
a voice file. They differ only in where the audio comes from, which limits apply, and where
the outcome goes; the cleaning, the speaker check and the clone are these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shared.audio_limits import AudioLimits
from shared.audio_types import SAMPLE_RATE
from worker.tts.checks.decode import DEFAULT_LIMITS
from worker.tts.checks.reference import CleanedReference, clean_reference
from worker.tts.checks.speaker import cosine
from worker.tts.synthesis.voice import VoiceState

if TYPE_CHECKING:
    from worker.model_cache import ModelCache

class SpeakerMismatch(Exception):
    """The reference does not sound like the speaker who recorded the consent."""

    def __init__(self, reason: str, similarity: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.similarity = similarity


@dataclass(frozen=True)
class Enrollment:
    """A cloned voice and how closely its reference matched the consent recording."""

    state: VoiceState
    similarity: float


def clean(models: ModelCache, data: bytes, language: str, limits: AudioLimits = DEFAULT_LIMITS) -> CleanedReference:
    """Speech-only, normalized reference audio at 24 kHz, checked to be spoken in ``language``;
    raises ``ReferenceRejected`` (with the QA report) when it cannot make a voice."""
    return clean_reference(data, speaker_encoder=models.encoder, language=language,
                           language_id=models.transcriber, limits=limits)


def same_speaker(models: ModelCache, consent: tuple[np.ndarray, int], reference: tuple[np.ndarray, int],
                 threshold: float) -> tuple[float, str | None]:
    """Cosine of the two recordings' speaker embeddings, and the refusal reason when too low."""
    similarity = cosine(models.encoder.embed(*consent), models.encoder.embed(*reference))
    if similarity >= threshold:
        return similarity, None
    return similarity, (f"consent_mismatch: the reference does not sound like the speaker who recorded the consent "
                        f"(similarity {similarity:.2f} < {threshold:.2f})")


def enroll_cleaned(models: ModelCache, cleaned: CleanedReference, consent_audio: tuple[np.ndarray, int],
                   language: str, threshold: float) -> Enrollment:
    """Clone the voice of a cleaned reference, once it is the consenting speaker's; raises
    ``SpeakerMismatch`` (before the costly clone) when it is not."""
    similarity, mismatch = same_speaker(models, consent_audio, (cleaned.audio, SAMPLE_RATE), threshold)
    if mismatch:
        raise SpeakerMismatch(mismatch, similarity)
    return Enrollment(models.enroll(cleaned.audio, SAMPLE_RATE, language), similarity)
