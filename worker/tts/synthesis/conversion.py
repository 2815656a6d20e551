"""A per-speaker spectral conversion: the clone's spectral envelope mapped toward the speaker's.

Kokoro's style space holds the 54 stock voices and what lies between them; a speaker outside
it is cloned as a stock voice nudged toward them. What the style cannot carry (the speaker's
formant positions, spectral tilt, the channel they were recorded on) is learned here from
*parallel* speech: the reference itself and the clone reading the reference's own transcript.

The recipe (DIFFVC with a frame-context ridge regression, MLPG and global variance):

* Features are a cepstrum of the log mel spectrum (``ORDER`` coefficients, c0 left out: loudness
  is the level stage's business) on a 10 ms hop.
* Clone and reference frames are DTW-aligned; a ridge regression maps ±2 frames of clone
  cepstra to the speaker's static and delta cepstra.
* At render time the predicted statics and deltas become one smooth trajectory by maximum
  likelihood parameter generation (MLPG), its per-coefficient variance is widened toward the
  speaker's (global variance: regression averages, and averaged spectra sound muffled), and
  only the *difference* between it and the clone's own cepstra is applied, as a time-varying
  filter on the clone's waveform. The excitation (pitch, voicing, timing) is Kokoro's, so the
  conversion cannot make the words less clear the way a resynthesis can.

Applying it costs one STFT, a small matrix product and one inverse STFT per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.fft import dct, idct
from scipy.linalg import solveh_banded
from scipy.ndimage import convolve1d

from worker.tts.synthesis.pitch import NATURAL_PITCH, PitchMap

N_FFT = 1024
HOP = 240  # 10 ms at 24 kHz
N_MELS = 40
ORDER = 24  # cepstra c1..c24
CONTEXT = 2  # frames either side in the regression's input
MAX_GAIN_DB = 12.0  # a frame's correction never boosts or cuts a band by more than this
SPEECH_FLOOR_DB = 35.0  # frames this far below the loudest are silence: not fitted, not filtered
_EPS = 1e-8


@dataclass(frozen=True)
class Frames:
    """A clip's analysis: its STFT (kept for the filter) and its cepstra, one row per frame."""

    spectrum: np.ndarray  # (bins, T) complex
    cepstra: np.ndarray  # (T, ORDER)
    speech: np.ndarray  # (T,) bool


class Analyzer:
    """The mel filterbank and its way back to STFT bins, built once per sample rate."""

    def __init__(self, sample_rate: int) -> None:
        import librosa  # deferred: librosa's import costs seconds; only conversion needs it here

        self.sample_rate = sample_rate
        self._librosa = librosa
        self.mel = librosa.filters.mel(sr=sample_rate, n_fft=N_FFT, n_mels=N_MELS, fmin=50.0,
                                       fmax=sample_rate / 2).astype(np.float32)
        centres = librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=50.0, fmax=sample_rate / 2)[1:-1]
        bins = np.linspace(0.0, sample_rate / 2, N_FFT // 2 + 1)
        # Linear interpolation between band centres: each STFT bin takes the correction of the
        # mel bands around it (bands beyond the edges extend flat).
        self.to_bins = np.stack([np.interp(bins, centres, np.eye(N_MELS)[k]) for k in range(N_MELS)])

    def analyze(self, audio: np.ndarray, denoise: bool = False) -> Frames:
        """``denoise``: subtract a stationary noise floor from the power before the cepstra, so a
        mapping fitted on a noisy recording learns the speaker rather than the room's hiss."""
        spectrum = self._librosa.stft(audio.astype(np.float32), n_fft=N_FFT, hop_length=HOP, window="hann")
        power = np.abs(spectrum) ** 2
        if denoise:
            power = subtract_noise_floor(power)
        log_mel = np.log(self.mel @ power + _EPS).T  # (T, N_MELS)
        full = dct(log_mel, type=2, norm="ortho", axis=1)
        energy = log_mel.max(axis=1) if log_mel.size else log_mel
        floor = energy.max() - SPEECH_FLOOR_DB / 10 * np.log(10) if energy.size else 0.0
        return Frames(spectrum=spectrum, cepstra=full[:, 1:ORDER + 1].astype(np.float64), speech=energy > floor)

    def filter(self, frames: Frames, difference: np.ndarray, length: int) -> np.ndarray:
        """The clip with each frame's spectral envelope moved by ``difference`` (T, ORDER) cepstra."""
        padded = np.zeros((difference.shape[0], N_MELS))
        padded[:, 1:ORDER + 1] = difference
        log_gain = idct(padded, type=2, norm="ortho", axis=1) @ self.to_bins  # (T, bins), log power
        limit = MAX_GAIN_DB / 10 * np.log(10)
        gain = np.exp(np.clip(log_gain, -limit, limit) / 2).T  # magnitude
        out = self._librosa.istft(frames.spectrum * gain, hop_length=HOP, window="hann", length=length)
        return out.astype(np.float32)


NOISE_PERCENTILE = 10.0
NOISE_FLOOR_GAIN = 0.05  # power kept where the subtraction would leave less (no holes: "musical noise")


def subtract_noise_floor(power: np.ndarray) -> np.ndarray:
    """Power spectral subtraction with the noise estimated by minimum statistics: each bin's
    ``NOISE_PERCENTILE``-th percentile over the clip (speech comes and goes; stationary noise stays)."""
    if power.shape[1] < 10:
        return power
    noise = np.percentile(power, NOISE_PERCENTILE, axis=1, keepdims=True)
    return np.maximum(power - noise, NOISE_FLOOR_GAIN * power)


def with_context(cepstra: np.ndarray) -> np.ndarray:
    """(T, D) → (T, (2·CONTEXT+1)·D + 1): each frame with its neighbours (edges repeated) and a bias."""
    padded = np.pad(cepstra, ((CONTEXT, CONTEXT), (0, 0)), mode="edge")
    n = cepstra.shape[0]
    columns = [padded[k:k + n] for k in range(2 * CONTEXT + 1)]
    return np.hstack(columns + [np.ones((n, 1))])


def deltas(cepstra: np.ndarray) -> np.ndarray:
    padded = np.pad(cepstra, ((1, 1), (0, 0)), mode="edge")
    return 0.5 * (padded[2:] - padded[:-2])


def delta_operator(n: int) -> sparse.csr_matrix:
    """D as ``deltas`` applies it (edges repeated), sparse (n, n)."""
    rows = np.arange(n)
    return sparse.csr_matrix((np.r_[np.full(n, 0.5), np.full(n, -0.5)],
                              (np.r_[rows, rows], np.r_[np.minimum(rows + 1, n - 1), np.maximum(rows - 1, 0)])),
                             shape=(n, n))


def mlpg(static: np.ndarray, delta: np.ndarray, static_var: np.ndarray, delta_var: np.ndarray) -> np.ndarray:
    """The smooth trajectory most likely under per-frame static and delta means (Tokuda et al.).

    Solves (I/σs² + DᵀD/σd²) c = μs/σs² + Dᵀμd/σd² per coefficient, D the delta operator;
    DᵀD has bands 0, ±1 (at the edges) and ±2, so each solve is a banded one, linear in T.
    """
    n, dims = static.shape
    if n < 3:
        return static
    op = delta_operator(n)
    gram = (op.T @ op).todia()
    bands = np.zeros((3, n))  # upper form: bands[2 - k, j] = gram[j - k, j]
    for k in range(3):
        bands[2 - k, k:] = gram.diagonal(k)
    out = np.empty_like(static)
    projected = op.T @ delta  # (n, dims)
    for d in range(dims):
        ab = bands / delta_var[d]
        ab[2] += 1.0 / static_var[d]
        out[:, d] = solveh_banded(ab, static[:, d] / static_var[d] + projected[:, d] / delta_var[d])
    return out


@dataclass(frozen=True)
class SpectralConversion:
    """A fitted mapping: regression weights, MLPG variances and the global-variance stretch."""

    weights: np.ndarray  # ((2·CONTEXT+1)·ORDER + 1, 2·ORDER)
    static_var: np.ndarray  # (ORDER,)
    delta_var: np.ndarray  # (ORDER,)
    gv_mean: np.ndarray  # (ORDER,) converted speech frames' mean on the fitting data
    gv_scale: np.ndarray  # (ORDER,) speaker's spread / converted spread, ≥ 1
    strength: float = 1.0  # fraction of the difference applied
    # The F0 move the engine makes before this filter runs (worker.tts.synthesis.pitch); None: the clone's own.
    pitch: PitchMap | None = None

    @classmethod
    def offset(cls, shift: np.ndarray, pitch: PitchMap | None = None) -> SpectralConversion:
        """Every speech frame moved by one cepstral ``shift`` (zeros: the envelope untouched): the
        long-term average spectral difference, the simplest conversion there is."""
        weights = np.zeros(((2 * CONTEXT + 1) * ORDER + 1, 2 * ORDER))
        weights[CONTEXT * ORDER:(CONTEXT + 1) * ORDER, :ORDER] = np.eye(ORDER)
        weights[-1, :ORDER] = shift
        ones = np.ones(ORDER)
        return cls(weights=weights, static_var=ones * 1e-6, delta_var=ones * 1e6, gv_mean=np.zeros(ORDER),
                   gv_scale=ones, pitch=pitch)

    def pitch_curve(self) -> tuple[float, float]:
        """The engine's ``pitch`` argument for a render of this voice."""
        return self.pitch.curve() if self.pitch is not None else NATURAL_PITCH

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Per-frame static and delta means of the speaker's cepstra, (T, 2·ORDER), from the clone's
        cepstra in context (``with_context``)."""
        return inputs @ self.weights

    def convert(self, cepstra: np.ndarray) -> np.ndarray:
        predicted = self.predict(with_context(cepstra))
        trajectory = mlpg(predicted[:, :ORDER], predicted[:, ORDER:], self.static_var, self.delta_var)
        return self.gv_mean + (trajectory - self.gv_mean) * self.gv_scale

    def apply(self, audio: np.ndarray, analyzer: Analyzer) -> np.ndarray:
        """The clip with its envelope moved toward the speaker's; silence is left alone."""
        if audio.size < N_FFT:
            return audio
        frames = analyzer.analyze(audio)
        difference = (self.convert(frames.cepstra) - frames.cepstra) * self.strength
        difference[~frames.speech] = 0.0
        # a frame's correction blends into its neighbours'
        difference = convolve1d(difference, np.array([0.25, 0.5, 0.25]), axis=0, mode="constant")
        return analyzer.filter(frames, difference, audio.size)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"conversion_weights": self.weights.astype(np.float32),
                "conversion_static_var": self.static_var.astype(np.float32),
                "conversion_delta_var": self.delta_var.astype(np.float32),
                "conversion_gv_mean": self.gv_mean.astype(np.float32),
                "conversion_gv_scale": self.gv_scale.astype(np.float32),
                "conversion_strength": np.array([self.strength], np.float32),
                **({"conversion_pitch": self.pitch.to_array()} if self.pitch is not None else {})}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SpectralConversion | None:
        if "conversion_weights" not in arrays:
            return None
        weights = arrays["conversion_weights"].astype(np.float64)
        if weights.shape != ((2 * CONTEXT + 1) * ORDER + 1, 2 * ORDER):
            raise ValueError(f"not a narrator spectral conversion: weights have shape {weights.shape}")
        return cls(weights=weights,
                   static_var=arrays["conversion_static_var"].astype(np.float64),
                   delta_var=arrays["conversion_delta_var"].astype(np.float64),
                   gv_mean=arrays["conversion_gv_mean"].astype(np.float64),
                   gv_scale=arrays["conversion_gv_scale"].astype(np.float64),
                   strength=float(arrays["conversion_strength"][0]),
                   pitch=PitchMap.from_array(arrays["conversion_pitch"]) if "conversion_pitch" in arrays else None)

