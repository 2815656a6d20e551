"""Log-mel spectrograms as a grayscale PNG, stacked one above the other, for looking at what a
bench did to the audio (no plotting library: PNG is a zlib stream of rows)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from shared.audio_types import SAMPLE_RATE


def log_mel(audio: np.ndarray, n_mels: int = 80, hop: int = 240) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(y=audio.astype(np.float32), sr=SAMPLE_RATE, n_fft=1024, hop_length=hop,
                                         n_mels=n_mels, fmin=50.0)
    return librosa.power_to_db(mel, ref=np.max, top_db=80.0)  # (n_mels, T), 0 at the loudest, -80 floor


def write_png(path: Path, rows: np.ndarray) -> None:
    """A (height, width) uint8 image as an 8-bit grayscale PNG."""
    height, width = rows.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def save_stack(path: Path, clips: list[np.ndarray], seconds: float = 4.0, scale: int = 2) -> None:
    """Each clip's first ``seconds`` as a log-mel band (low frequencies at the bottom), separated
    by a white line; louder is darker."""
    width = int(seconds * SAMPLE_RATE / 240)
    bands = []
    for clip in clips:
        spec = log_mel(clip[: int(seconds * SAMPLE_RATE)])
        spec = np.pad(spec, ((0, 0), (0, max(0, width - spec.shape[1]))), constant_values=-80.0)[:, :width]
        image = (255 * (-spec / 80.0)).clip(0, 255).astype(np.uint8)[::-1]
        bands += [np.repeat(np.repeat(image, scale, axis=0), scale, axis=1),
                  np.full((2, width * scale), 255, np.uint8)]
    write_png(path, np.vstack(bands[:-1]))
