"""Speech recognition for the quality gate: Whisper-base (CTranslate2) on the CPU or CUDA.

The model files come from whisper_files.py; what a transcript is compared with, and how,
is scoring.py, so a test or a bench can score text without loading the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worker.tts.checks.scoring import traditional_to_simplified, whisper_language
from worker.tts.checks.whisper_files import whisper_model_dir
from worker.tts.synthesis.audio import resample_mono

WHISPER_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probability: float


class Transcriber:
    """Whisper-base on the CPU (int8) or CUDA (float16); loaded once per worker process and reused
    (the model cache holds it).

    ``beam_size`` 5 is Whisper's default and noticeably more accurate on synthetic
    Chinese than greedy decoding; the temperature fallback is disabled because a gate
    only needs the model's best reading, and fallback multiplies the cost on bad audio.
    """

    def __init__(self, cache_dir: Path, threads: int = 1, beam_size: int = 5, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local path never needs the hub
        # deferred: faster_whisper and CTranslate2 load only with the model
        from faster_whisper import WhisperModel

        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.model_dir = whisper_model_dir(Path(cache_dir))
        self.beam_size = beam_size
        # On CUDA, CTranslate2 runs the same weights in float16 (its int8 CPU kernels are the CPU's).
        self.device = device
        self._model = WhisperModel(
            str(self.model_dir), device=device, compute_type="float16" if device == "cuda" else "int8",
            cpu_threads=threads, num_workers=1,
        )
        self._t2s = traditional_to_simplified()

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str | None = None) -> Transcript:
        """Transcribe one clip; ``language=None`` lets Whisper detect it."""
        wav = resample_mono(audio, sample_rate, WHISPER_SAMPLE_RATE)
        if wav.size == 0:
            return Transcript(text="", language=whisper_language(language) or "", language_probability=0.0)
        segments, info = self._model.transcribe(
            wav,
            language=whisper_language(language),
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        text = "".join(segment.text for segment in segments).strip()
        if info.language in ("zh", "yue"):
            text = self._t2s(text)
        return Transcript(
            text=text, language=info.language, language_probability=float(info.language_probability)
        )

    def language_probabilities(self, audio: np.ndarray, sample_rate: int) -> dict[str, float]:
        """Whisper's belief over languages for the clip's first 30 s (its whole window).

        Reference QA asks this of an upload before it becomes a voice: a recording in
        another language than the one declared would steer the voice and the consent
        check wrong, and Whisper tells them apart from the sound alone.
        """
        wav = resample_mono(audio, sample_rate, WHISPER_SAMPLE_RATE)[: 30 * WHISPER_SAMPLE_RATE]
        if wav.size == 0:
            return {}
        _, _, ranked = self._model.detect_language(audio=wav)
        return {code: float(p) for code, p in ranked}
