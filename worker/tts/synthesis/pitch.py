"""A voice's pitch map: the clone's intonation moved into the speaker's register and range.

The style search picks a style whose pitch is near the speaker's, but Kokoro's style space has
gaps: a clone can sit three semitones below a speaker it otherwise resembles, and a speaker
encoder hears that at once. The spectral conversion cannot fix it (it filters the clone's
waveform; the excitation stays Kokoro's), so the F0 curve is moved inside the engine instead,
before the decoder turns it into a harmonic source: in log F0, the clone's mean becomes the
speaker's and its spread the speaker's spread,

    log f' = m_speaker + r · (log f − m_clone),   r = s_speaker / s_clone,

which the graph computes as ``f' = gain · f^r`` (``worker.tts.synthesis.edge_graph``). Timing,
voicing and the contour's shape stay the model's.

Statistics come from pYIN over the voiced frames of the reference and of the clone reading the
reference's transcript (the parallel speech the spectral conversion is fitted on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ANALYSIS_RATE = 16_000
FMIN, FMAX = 50.0, 600.0
MIN_VOICED_FRAMES = 100  # 16 ms frames: about 1.6 s of voiced speech on each side
MAX_SHIFT_SEMITONES = 8.0  # beyond this the estimate is more likely an octave error than a voice
RANGE_LIMITS = (0.6, 1.6)
NATURAL_PITCH = (1.0, 1.0)  # (gain, power) for the engine: the F0 the model predicts, unchanged


@dataclass(frozen=True)
class PitchMap:
    """Log-F0 statistics of clone and speaker; ``strength`` scales the move (0: the clone's own)."""

    clone_mean: float  # mean log F0 (Hz) of the clone's voiced frames
    shift: float  # speaker's mean log F0 minus the clone's
    range: float  # speaker's log-F0 spread over the clone's, within RANGE_LIMITS
    strength: float = 1.0

    @property
    def semitones(self) -> float:
        return 12.0 * self.shift / math.log(2.0)

    def curve(self) -> tuple[float, float]:
        """``(gain, power)`` for the engine: F0 → gain · F0^power."""
        power = 1.0 + self.strength * (self.range - 1.0)
        return math.exp(self.clone_mean * (1.0 - power) + self.strength * self.shift), power

    def to_dict(self) -> dict[str, float]:
        return {"semitones": round(self.semitones, 2), "range": round(self.range, 3), "strength": self.strength}

    def to_array(self) -> np.ndarray:
        return np.array([self.clone_mean, self.shift, self.range, self.strength], np.float64)

    @classmethod
    def from_array(cls, values: np.ndarray) -> PitchMap:
        if values.shape != (4,) or not np.all(np.isfinite(values)):
            raise ValueError(f"not a narrator pitch map: {values!r}")
        return cls(*(float(v) for v in values))


def log_f0(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log F0 (Hz) of the voiced frames, by pYIN at 16 kHz on its 0.1-semitone grid (2.8 s for 21 s
    of speech here). A quarter-semitone grid took a quarter of that, but on one sentence shifted by
    three semitones it read the spread 18 % wide, where this grid reads it within 15 %."""
    import librosa  # deferred: librosa's import costs seconds; only enrollment analyses pitch

    y = librosa.resample(audio.astype(np.float32), orig_sr=sample_rate, target_sr=ANALYSIS_RATE)
    f0, voiced, _ = librosa.pyin(y, fmin=FMIN, fmax=FMAX, sr=ANALYSIS_RATE, frame_length=1024)
    return np.log(f0[voiced & np.isfinite(f0)])


def fit_pitch(speaker: np.ndarray, clone: np.ndarray, sample_rate: int) -> PitchMap | None:
    """The map taking the clone's F0 statistics to the speaker's; None when either side has too
    little voiced speech to say, or the estimated shift is implausibly large."""
    theirs, mine = log_f0(speaker, sample_rate), log_f0(clone, sample_rate)
    if min(theirs.size, mine.size) < MIN_VOICED_FRAMES or mine.std() <= 0:
        return None
    found = PitchMap(clone_mean=float(mine.mean()), shift=float(theirs.mean() - mine.mean()),
                     range=float(np.clip(theirs.std() / mine.std(), *RANGE_LIMITS)))
    return found if abs(found.semitones) <= MAX_SHIFT_SEMITONES else None
