"""A voice's immutable model state, as stored per voice version.

Like a piper voice (model file + config), a narrator voice is data: a Kokoro style
table fitted to the reference, the reference's speaker embedding (the quality gate
compares renders to it), and how it was made. It is written once and never changed;
a better fit is a new version.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy-backed; loaded with the first voice file, not to render a stock pack
    from worker.tts.synthesis.conversion import SpectralConversion


@dataclass(frozen=True)
class VoiceState:
    style: np.ndarray  # (510, 256) float32
    embedding: np.ndarray  # (256,) unit-norm speaker embedding of the cleaned reference
    language: str
    method: str
    engine_version: str
    metrics: dict[str, Any] = field(default_factory=dict)
    # The spectral conversion learned at enrollment (worker/tts/cloning/conversion_fit.py), applied
    # to every render of the voice; None when enrollment learned none or kept none.
    conversion: SpectralConversion | None = None

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta = {
            "language": self.language,
            "method": self.method,
            "engine_version": self.engine_version,
            "metrics": self.metrics,
        }
        np.savez_compressed(
            buf,
            style=self.style.astype(np.float32),
            embedding=self.embedding.astype(np.float32),
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            **(self.conversion.to_arrays() if self.conversion else {}),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> VoiceState:
        from worker.tts.synthesis.conversion import SpectralConversion  # deferred: see TYPE_CHECKING

        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            style = npz["style"]
            if style.ndim != 2 or style.shape[1] != 256:
                raise ValueError(f"not a narrator voice file: style table has shape {style.shape}")
            conversion = SpectralConversion.from_arrays({k: npz[k] for k in npz.files})
            return cls(style=style, embedding=npz["embedding"], conversion=conversion, **meta)
