"""What uploaded audio may declare: sample rate, channels and duration.

A file's header says how much audio it holds, and decoding believes it: a 160 KB WAV that
declares a 1 Hz sample rate resamples to gigabytes, a 50 MB silent FLAC decodes to a hundred
hours. The API reads only the header of every audio upload and refuses a file past these
limits (``api.validation.audio_upload``); the worker, as a second line for anything stored
before the check or behind its back, decodes no more than ``max_seconds`` of a file and
refuses a rate or channel count outside them before resampling (``worker.tts.checks.reference``).
Both read the limits from here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import Settings

# What a decode may hold, in samples per second of the limit: 48 kHz stereo in full. A file
# with more (a higher rate, more channels) is read for a shorter time, not refused.
DECODE_BUDGET_RATE = 48000
DECODE_BUDGET_CHANNELS = 2


@dataclass(frozen=True)
class AudioLimits:
    """Limits for one kind of upload; ``what`` names it in refusals ("reference", "recording")."""

    what: str
    max_seconds: float
    min_sample_rate: int = 8000
    max_sample_rate: int = 192000
    max_channels: int = 8

    @classmethod
    def reference(cls, settings: Settings) -> AudioLimits:
        """A voice's reference audio: about a minute is ideal; NARRATOR_MAX_REFERENCE_SECONDS."""
        return cls("reference", settings.max_reference_seconds, settings.audio_min_sample_rate,
                   settings.audio_max_sample_rate, settings.audio_max_channels)

    @classmethod
    def consent(cls, settings: Settings) -> AudioLimits:
        """A consent recording: one statement read aloud; NARRATOR_MAX_CONSENT_SECONDS."""
        return cls("recording", settings.max_consent_seconds, settings.audio_min_sample_rate,
                   settings.audio_max_sample_rate, settings.audio_max_channels)

    def max_frames(self, sample_rate: int, channels: int = 1) -> int:
        """The most frames a decoder may read from a file at ``sample_rate`` with ``channels``:
        ``max_seconds`` of it, and never more samples than ``max_seconds`` of 48 kHz stereo
        (10 min: 58 M samples, 230 MB as float32), however high the rate or many the channels
        within the limits (10 min at 192 kHz in 8 channels would be 3.7 GB)."""
        budget = int(self.max_seconds * DECODE_BUDGET_RATE * DECODE_BUDGET_CHANNELS)
        return max(1, min(int(self.max_seconds * sample_rate), budget // max(1, channels)))

    def format_violation(self, sample_rate: int, channels: int) -> tuple[str, str] | None:
        """(limit name, reason) for a rate or channel count outside the limits, else None."""
        if not self.min_sample_rate <= sample_rate <= self.max_sample_rate:
            return "sample_rate", (f"the {self.what} declares a sample rate of {sample_rate} Hz; narrator accepts "
                                   f"{self.min_sample_rate} to {self.max_sample_rate} Hz")
        if not 1 <= channels <= self.max_channels:
            return "channels", (f"the {self.what} declares {channels} channels; narrator accepts 1 to "
                                f"{self.max_channels}")
        return None

    def violation(self, sample_rate: int, channels: int, frames: int) -> tuple[str, str] | None:
        """(limit name, reason) for the first limit a header breaks, else None."""
        bad_format = self.format_violation(sample_rate, channels)
        if bad_format is not None:
            return bad_format
        seconds = frames / sample_rate
        if seconds > self.max_seconds:
            return "duration", (f"the {self.what} is {_duration(seconds)} long; the limit is "
                                f"{_duration(self.max_seconds)}")
        return None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
