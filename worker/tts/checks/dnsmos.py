"""A non-intrusive speech quality estimate: Microsoft's DNSMOS P.835, as the ``speechmos`` package
ships its ONNX models.

Enrollment's conversion guard asks one question of it: does a filtered render sound worse than
the unfiltered one? DNSMOS needs no clean reference to answer, which a synthetic voice never has.
It judges 9 s windows (shorter clips are looped to 9 s), so a verdict on a few seconds of
audio is noisy; callers give it tens of seconds. The package's own loop slides the window by
one second and runs a second (P.808) model on each; here the windows overlap by half and
only the P.835 model runs, a quarter of the cost for the same mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.tts.synthesis.audio import resample_mono

DNSMOS_SAMPLE_RATE = 16_000


WINDOW_S = 9.01  # the model's input length
# The P.835 model's raw outputs mapped to MOS, as speechmos (and Microsoft's DNSMOS script) fit them.
_SIG = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
_BAK = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
_OVRL = np.poly1d([-0.06766283, 1.11546468, 0.04602535])


class Dnsmos:
    """The P.835 model (SIG, BAK, OVRL), loaded once per process."""

    def __init__(self, threads: int = 1) -> None:
        # deferred: only enrollment's conversion guard rates quality; the model loads on first use
        import onnxruntime as ort
        import speechmos

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        model = Path(speechmos.__file__).parent / "dnsmos_models" / "sig_bak_ovr.onnx"
        self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def scores(self, audio: np.ndarray, sample_rate: int) -> dict[str, float]:
        """Mean OVRL, SIG and BAK (1-5, higher is better) over the clip's windows."""
        wav = np.clip(resample_mono(audio, sample_rate, DNSMOS_SAMPLE_RATE), -1.0, 1.0).astype(np.float32)
        if wav.size == 0 or not np.any(wav):
            raise ValueError("cannot rate the quality of empty or silent audio")
        size = int(WINDOW_S * DNSMOS_SAMPLE_RATE)
        while wav.size < size:
            wav = np.concatenate([wav, wav])
        starts = range(0, wav.size - size + 1, size // 2)
        raw = np.array([self._session.run(None, {"input_1": wav[None, s:s + size]})[0][0] for s in starts])
        return {"ovrl": float(_OVRL(raw[:, 2]).mean()), "sig": float(_SIG(raw[:, 0]).mean()),
                "bak": float(_BAK(raw[:, 1]).mean())}

    def overall(self, audio: np.ndarray, sample_rate: int) -> float:
        return self.scores(audio, sample_rate)["ovrl"]
