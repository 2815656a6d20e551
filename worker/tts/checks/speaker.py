"""Speaker embeddings for the quality gate (resemblyzer's GE2E encoder, bundled weights).

The gate compares each rendered item with the voice's reference embedding, so a render
that drifted to another timbre (or a wrong voice id) is caught. Embeddings are unit-norm,
so the cosine is a plain dot product.
"""

from __future__ import annotations

import warnings

import numpy as np

from worker.tts.synthesis.audio import resample_mono

ENCODER_SAMPLE_RATE = 16_000
EMBEDDING_SIZE = 256
# resemblyzer's partial utterances are 1.6 s; a window shorter than one partial is
# mostly padding and gives an unreliable embedding, so trailing scraps are dropped.
_MIN_WINDOW_S = 1.6


class SpeakerEncoder:
    """resemblyzer's VoiceEncoder on CPU, loaded once per process."""

    def __init__(self, device: str = "cpu") -> None:
        with warnings.catch_warnings():  # resemblyzer imports webrtcvad, whose pkg_resources import warns
            warnings.simplefilter("ignore", UserWarning)
            from resemblyzer import VoiceEncoder  # deferred: resemblyzer brings torch and librosa (seconds)

        self._encoder = VoiceEncoder(device=device, verbose=False)
        self._warm_up()

    def _warm_up(self) -> None:
        """Pay librosa's lazy mel-filter setup (about 2 s) at load time, not on the first item."""
        noise = np.random.default_rng(0).standard_normal(int(1.6 * ENCODER_SAMPLE_RATE)) * 0.01
        self._encoder.embed_utterance(noise.astype(np.float32))

    def preprocess(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono 16 kHz (soxr), volume-normalised, long silences removed: what GE2E was trained on.

        Raises ValueError when nothing voiced is left, because an embedding of silence
        is a meaningless point that would still produce a plausible-looking cosine.
        """
        from resemblyzer import preprocess_wav  # deferred: as in __init__

        wav = resample_mono(audio, sample_rate, ENCODER_SAMPLE_RATE)
        if wav.size == 0 or not np.any(wav):
            raise ValueError("cannot embed a speaker from empty or silent audio")
        # Already at 16 kHz, so source_sr=None skips librosa's resampling. resemblyzer's
        # VAD converts to int16 without clipping, so overs would wrap around: clip first.
        wav = preprocess_wav(np.clip(wav, -1.0, 1.0), source_sr=None)
        if wav.size < int(0.3 * ENCODER_SAMPLE_RATE):
            raise ValueError("audio has too little voiced speech to embed a speaker (< 0.3 s)")
        return wav.astype(np.float32)

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Unit-norm float32 (256,) embedding of the whole clip."""
        wav = self.preprocess(audio, sample_rate)
        return _unit(self._encoder.embed_utterance(wav))

    def embed_utterance(self, wav: np.ndarray) -> np.ndarray:
        """16 kHz speech → embedding: the shape reference QA's speaker check asks for."""
        return self.embed(wav, ENCODER_SAMPLE_RATE)

    def embed_windows(self, audio: np.ndarray, sample_rate: int, window_s: float = 3.0) -> np.ndarray:
        """(n, 256) embeddings of consecutive windows of voiced speech.

        Used to spot a speaker change inside one render: one window far from the voice
        is invisible in the whole-clip average. A clip shorter than one window gives
        a single row.
        """
        if window_s < _MIN_WINDOW_S:
            raise ValueError(f"window_s must be >= {_MIN_WINDOW_S}")
        wav = self.preprocess(audio, sample_rate)
        size = int(window_s * ENCODER_SAMPLE_RATE)
        starts = range(0, max(1, len(wav) - int(_MIN_WINDOW_S * ENCODER_SAMPLE_RATE) + 1), size)
        windows = [wav[s : s + size] for s in starts] or [wav]
        return np.stack([_unit(self._encoder.embed_utterance(w)) for w in windows]).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (they need not be normalised)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"embedding shapes differ: {a.shape} vs {b.shape}")
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denom == 0.0:
        raise ValueError("cosine of a zero vector is undefined")
    return float(np.dot(a, b) / denom)


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise ValueError("speaker encoder returned a zero embedding")
    return vector / norm
