"""Whether a reference holds more than one voice: speaker embeddings of overlapping windows,
split into two groups, compared within and across the groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from worker.tts.checks.vad import VAD_RATE


class UtteranceEncoder(Protocol):
    """Anything that maps 16 kHz speech to a unit-norm speaker embedding (resemblyzer's VoiceEncoder fits)."""

    def embed_utterance(self, wav: np.ndarray) -> np.ndarray: ...


def speaker_windows(speech16: np.ndarray, *, window_s: float = 3.0, hop_s: float = 1.5) -> list[np.ndarray]:
    """~3 s overlapping windows of speech-only 16 kHz audio for per-window speaker embeddings."""
    win, hop = int(window_s * VAD_RATE), int(hop_s * VAD_RATE)
    if len(speech16) < win:
        return []
    starts = list(range(0, len(speech16) - win + 1, hop))
    if starts[-1] + win < len(speech16) - hop // 2:
        starts.append(len(speech16) - win)
    return [speech16[s : s + win] for s in starts]


def two_group_split(embeddings: np.ndarray, *, iterations: int = 10) -> np.ndarray:
    """Cosine 2-means seeded with the least similar pair; returns a 0/1 label per window."""
    sim = embeddings @ embeddings.T
    i, j = np.unravel_index(np.argmin(sim), sim.shape)
    centroids = embeddings[[i, j]].copy()
    labels = np.zeros(len(embeddings), int)
    for _ in range(iterations):
        labels = np.argmax(embeddings @ centroids.T, axis=1)
        for k in (0, 1):
            if np.any(labels == k):
                c = embeddings[labels == k].mean(axis=0)
                centroids[k] = c / (np.linalg.norm(c) + 1e-12)
    return labels


@dataclass(frozen=True)
class SpeakerSplit:
    """How well the speech splits into two voices.

    ``cross``: mean cosine similarity between windows of the two groups;
    ``within``: the lower of the two groups' mean internal similarity;
    ``minor_seconds``: how much speech the smaller group covers.
    """

    cross: float
    within: float
    minor_seconds: float

    @property
    def separation(self) -> float:
        """within - cross: ~0 for one voice split arbitrarily, clearly positive for two voices."""
        return self.within - self.cross


def _mean_offdiag(sim: np.ndarray) -> float:
    n = len(sim)
    return float((sim.sum() - np.trace(sim)) / (n * (n - 1))) if n > 1 else float("nan")


def speaker_split(speech16: np.ndarray, encoder: UtteranceEncoder, *, hop_s: float = 1.5) -> SpeakerSplit | None:
    """Embed ~3 s windows and measure the best two-group split; None when speech is too short.

    An absolute similarity threshold alone confuses similar voices with a single
    voice in changing conditions; comparing cross-group to within-group similarity
    is what separates "two people" from "one person, two halves".
    """
    windows = speaker_windows(speech16, hop_s=hop_s)
    if len(windows) < 3:
        return None
    emb = np.stack([np.asarray(encoder.embed_utterance(w), dtype=np.float64) for w in windows])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12
    labels = two_group_split(emb)
    sizes = np.bincount(labels, minlength=2)
    if sizes.min() == 0:
        whole = _mean_offdiag(emb @ emb.T)
        return SpeakerSplit(whole, whole, 0.0)
    sim = emb @ emb.T
    cross = float(np.mean(sim[np.ix_(labels == 0, labels == 1)]))
    within = [_mean_offdiag(sim[np.ix_(labels == k, labels == k)]) for k in (0, 1)]
    return SpeakerSplit(cross, float(np.nanmin(within)), float(sizes.min() * hop_s))
