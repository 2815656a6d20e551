"""An inaudible watermark in every rendered WAV: which item (and so which tenant and voice
version) a file came from, recoverable after resampling, gain, noise and MP3.

Scheme: spread spectrum on the short-time log spectrum. The 24 kHz signal is cut into
frames (1024 samples, hop 512); in each frame every bin of the 200–7000 Hz band is a chip
carrying one of the 80 code bits (64 payload bits + CRC-16) with a keyed ±1 sign.
Embedding scales each chip's magnitude by ``exp(±a)``, so the mark is a fine-grained
ripple that follows the speech's own spectrum: loud only where the speech is loud (which
masks it) and absent in silence, where it would be heard. The ripple is gentler on the
strong low harmonics, where it would cost the most energy. The band survives 16 kHz
resampling and a 64 kbit/s MP3 encoder; log magnitudes make it indifferent to gain.

Embedding is *informed* (improved spread spectrum): for each bit the host's own
correlation with its chips is measured and the amplitude raised (up to a cap) until the
bit reads right with a margin, so the speech itself does not drown the mark; a few
analysis/synthesis rounds correct for the smearing of overlapping frames. Detection
correlates the received log spectrum (minus a local mean, which removes the envelope;
spectral valleys, which noise and codecs overwrite first, weigh less) with the chips,
reads each bit's sign and checks the CRC. A payload is reported only when the CRC holds
*and* the mean per-bit z-score is far above what unmarked audio gives (~0.9), so a false
positive needs both a CRC collision and a many-sigma correlation.

Sync: frames are laid from the first sample and the detector searches offsets of ±85 ms
(a decoder's priming delay, a trimmed lead-in) in 128-sample steps; a clip cut from the
middle of a file is not supported. The key is the deployment's watermark key, derived
from its secret for this purpose alone (``shared.secret_keys``, :func:`watermark_key`), so
the mark cannot be read or forged without it, and the key can be given to whoever checks
files without giving them the secret; rotating the secret makes older files' marks
unreadable with the new key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from shared.audio_types import SAMPLE_RATE
from shared.secret_keys import derive
from worker.tts.synthesis.audio import resample_mono

PAYLOAD_BYTES = 8
_CRC_BITS = 16
_INFO_BITS = PAYLOAD_BYTES * 8 + _CRC_BITS
_CONSTRAINT = 7  # convolutional code, rate 1/2, the (171, 133) octal pair
_POLYS = (0o171, 0o133)
CODE_BITS = 2 * (_INFO_BITS + _CONSTRAINT - 1)  # chips carry these: 172 coded bits
_N_FFT = 1024
_HOP = 512
FRAME = _HOP  # samples per watermark frame: a stream's chunks start on this grid
_FINE = 128  # the detector's offset step
_MAX_SHIFT = 2048  # ±samples searched
_BAND_HZ = (200.0, 7000.0)
_SMOOTH = (3, 9)  # local-mean window (frames, bins) removed from the log spectrum
_BLOCK = 64  # frames per keyed chip block: any clip length gets a deterministic layout
_TARGET_Z = 5.0  # per-coded-bit z-score the embedder aims for on the clean signal
_MIN_AMP, _MAX_AMP = 0.04, 0.3  # per-chip log-magnitude step (nepers): ~0.35–2.6 dB
_ROUNDS = 6
_SILENCE_DB = 45.0  # frames this far below the loud frames carry no weight
# How well the z-scores agree with the decoded codeword (mean z·sign): unmarked audio gives
# ~0.65 (the decoder's best path through noise); a payload is only reported at or above
# this, so a chance CRC match on unmarked audio is still rejected.
DETECT_THRESHOLD = 1.0


@dataclass(frozen=True)
class Detection:
    """A detector's verdict. ``payload`` is None when no mark was found; ``confidence`` is
    the agreement of the best alignment with its codeword (unmarked ~0.65, marked 1–3)."""

    payload: bytes | None
    confidence: float
    offset_samples: int = 0

    @property
    def found(self) -> bool:
        return self.payload is not None


def watermark_key(secret: str) -> bytes:
    """The chip key of a deployment whose secret is ``secret``: the same key the render path
    (``SecretKeys.watermark``) and ``narrator watermark detect`` use."""
    return derive(secret, "watermark")


def item_payload(item_id: str) -> bytes:
    """An item id (UUID) → its first 64 bits, enough to find the item row."""
    hex_id = item_id.replace("-", "")[: PAYLOAD_BYTES * 2]
    try:
        payload = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise ValueError(f"item_id {item_id!r} is not a hex UUID") from exc
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"item_id {item_id!r} is shorter than {PAYLOAD_BYTES * 2} hex digits")
    return payload


def mark_item(audio: np.ndarray, sample_rate: int, item_id: str, key: bytes, at: int = 0) -> np.ndarray:
    """The render path's one call: ``audio`` marked with ``item_id`` under the deployment's
    watermark key (``SecretKeys.watermark``); ``at``: where it starts in its item, in samples
    (a multiple of ``FRAME``), for a stream marked chunk by chunk."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"the watermark is embedded at {SAMPLE_RATE} Hz, got {sample_rate}")
    return embed(audio, item_payload(item_id), key, at)


def pad_to_frame(audio: np.ndarray) -> np.ndarray:
    """``audio`` with silence appended up to a whole number of watermark frames (< 22 ms), so
    the next chunk of a stream starts on the frame grid of the chunks before it."""
    return np.concatenate([audio, np.zeros(-len(audio) % FRAME, audio.dtype)]) if len(audio) % FRAME else audio


def embed(audio: np.ndarray, payload: bytes, key: bytes, at: int = 0) -> np.ndarray:
    """Return ``audio`` (mono float32 at 24 kHz) carrying ``payload`` (8 bytes). A chunk that
    starts ``at`` samples into its item (a multiple of ``FRAME``) takes the layout's frames
    from there: the chunks of a stream, marked one by one as they are sent, then read as
    one mark from the whole file, as a render marked at once does."""
    if at % FRAME:
        raise ValueError(f"a chunk must start on the watermark's frame grid ({FRAME} samples), got {at}")
    if len(payload) != PAYLOAD_BYTES:
        raise ValueError(f"payload must be {PAYLOAD_BYTES} bytes, got {len(payload)}")
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {x.shape}")
    if x.size < _N_FFT or not np.any(x):
        return x.copy()
    bits = _code_bits(payload)
    signs = 2.0 * bits - 1.0  # the value each bit's chips are pushed towards
    spec = _stft(x.astype(np.float64), _HOP)
    lo, hi = _band_bins()
    layout = _Layout(key, spec.shape[0], hi - lo, at // FRAME)
    amps = np.full(CODE_BITS, _MIN_AMP)
    y = x
    for _ in range(_ROUNDS):
        delta = amps[layout.bit] * signs[layout.bit] * layout.chip * _profile()[None, :]
        gain = np.ones(spec.shape)
        gain[:, lo:hi] = np.exp(delta)
        y = _istft(spec * gain, x.size)
        z, count, energy = _bit_scores(_features(np.abs(_stft(y, _HOP))), layout)
        # raise each bit's amplitude by what is missing to reach the target z-score: a chip
        # step of a nepers moves the log power by 2a, of which about half survives the
        # overlap of neighbouring frames
        missing = np.maximum(0.0, _TARGET_Z - signs * z)
        z_per_amp = 0.9 * count / np.sqrt(np.maximum(energy, 1e-12))
        amps = np.clip(amps + missing / np.maximum(z_per_amp, 1e-9), _MIN_AMP, _MAX_AMP)
    return y.astype(np.float32)


def detect(audio: np.ndarray, sample_rate: int, key: bytes) -> Detection:
    """Look for a mark in mono (or channels-last) audio at any sample rate."""
    x = resample_mono(np.asarray(audio, dtype=np.float32), sample_rate, SAMPLE_RATE).astype(np.float64)
    if x.size < 2 * _N_FFT or not np.any(x):
        return Detection(None, 0.0)
    padded = np.concatenate([np.zeros(_MAX_SHIFT), x, np.zeros(_MAX_SHIFT + _N_FFT)])
    fine = np.abs(_stft(padded, _FINE))
    ratio = _HOP // _FINE
    n_frames = (x.size + _HOP - 1) // _HOP
    lo, hi = _band_bins()
    layout = _Layout(key, n_frames, hi - lo)
    best = Detection(None, 0.0)
    best_any = 0.0
    for shift in range(-_MAX_SHIFT, _MAX_SHIFT + 1, _FINE):
        first = (shift + _MAX_SHIFT) // _FINE
        frames = fine[first : first + ratio * n_frames : ratio]
        if frames.shape[0] < n_frames:
            continue
        z, _, _ = _bit_scores(_features(frames), layout)
        payload, agreement = _decode(z)
        best_any = max(best_any, agreement)
        if payload is not None and agreement >= DETECT_THRESHOLD and agreement > best.confidence:
            best = Detection(payload, round(agreement, 3), shift)
    return best if best.found else Detection(None, round(best_any, 3))


# --- internals -----------------------------------------------------------------------------


class _Layout:
    """Which code bit and which ±1 chip every (frame, band bin) carries: keyed, balanced
    (each frame gives every bit the same number of chips, within one) and defined for any
    clip length by generating it in blocks of frames."""

    def __init__(self, key: bytes, n_frames: int, n_bins: int, first: int = 0) -> None:
        """Frames ``first`` … ``first + n_frames − 1`` of the keyed layout (a stream's chunk
        takes the frames where it lies in the stream)."""
        begin, end = first - first % _BLOCK, first + n_frames
        bits = np.empty((end - begin, n_bins), dtype=np.int64)
        chips = np.empty((end - begin, n_bins))
        base = np.arange(n_bins) % CODE_BITS
        for start in range(begin, end, _BLOCK):
            seed = int.from_bytes(hashlib.sha256(key + start.to_bytes(8, "little")).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            for t in range(start, min(start + _BLOCK, end)):
                bits[t - begin] = rng.permutation(base)
                chips[t - begin] = rng.integers(0, 2, n_bins) * 2.0 - 1.0
        self.bit = bits[first - begin:]
        self.chip = chips[first - begin:]


def _band_bins() -> tuple[int, int]:
    hz_per_bin = SAMPLE_RATE / _N_FFT
    return int(np.ceil(_BAND_HZ[0] / hz_per_bin)), int(np.floor(_BAND_HZ[1] / hz_per_bin)) + 1


def _profile() -> np.ndarray:
    """Relative chip amplitude per band bin: gentler where speech is loud (low harmonics,
    where a ripple costs the most energy), full from ~2.5 kHz up."""
    lo, hi = _band_bins()
    hz = np.arange(lo, hi) * SAMPLE_RATE / _N_FFT
    low = 0.35
    return np.clip(low + (1 - low) * np.log(hz / _BAND_HZ[0]) / np.log(2500.0 / _BAND_HZ[0]), low, 1.0)


def _window() -> np.ndarray:
    """sqrt of a periodic Hann: analysis × synthesis sums to one at 50 % overlap."""
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_N_FFT) / _N_FFT))


def _stft(x: np.ndarray, hop: int) -> np.ndarray:
    """Frames starting at 0, hop, 2·hop … (zero-padded at the end): (frames, bins)."""
    n_frames = max(1, (x.size + hop - 1) // hop)
    padded = np.concatenate([x, np.zeros(n_frames * hop + _N_FFT - x.size)])
    idx = np.arange(n_frames)[:, None] * hop + np.arange(_N_FFT)[None, :]
    return np.fft.rfft(padded[idx] * _window(), axis=1)


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Overlap-add inverse of :func:`_stft` at hop ``_HOP``; exact where frames overlap twice."""
    frames = np.fft.irfft(spec, n=_N_FFT, axis=1) * _window()
    out = np.zeros(spec.shape[0] * _HOP + _N_FFT)
    for t in range(spec.shape[0]):
        out[t * _HOP : t * _HOP + _N_FFT] += frames[t]
    # the first half-frame is covered by one window only: divide by its sum of squares
    norm = np.zeros_like(out)
    w2 = _window() ** 2
    for t in range(spec.shape[0]):
        norm[t * _HOP : t * _HOP + _N_FFT] += w2
    return out[:length] / np.maximum(norm[:length], 1e-3)


def _features(mag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band log-power minus its local mean (the envelope), and each cell's weight: cells
    in silent frames weigh nothing and spectral valleys little, because noise and a lossy
    codec overwrite a valley first while the peaks keep the mark."""
    lo, hi = _band_bins()
    pad = _SMOOTH[1] // 2
    start = max(0, lo - pad)
    band = mag[:, start : hi + pad] ** 2
    power = band.mean(axis=1)
    loud = np.percentile(power, 95) if power.size else 0.0
    floor = max(loud * 10 ** (-_SILENCE_DB / 10), 1e-12)
    log_power = np.log(band + floor * 1e-2)
    feats = (log_power - uniform_filter(log_power, size=_SMOOTH, mode="nearest"))[:, lo - start : hi - start]
    rel = (band / (uniform_filter(band, size=_SMOOTH, mode="nearest") + floor * 1e-2))[:, lo - start : hi - start]
    cell = np.sqrt(np.clip(rel, 0.0, 4.0))
    return feats, cell * (power > floor)[:, None]


def _bit_scores(features: tuple[np.ndarray, np.ndarray], layout: _Layout) -> tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
    """Per code bit: z-score of the chip correlation, the weighted chip count, the energy."""
    feats, weight = features
    n = min(feats.shape[0], layout.bit.shape[0])
    f = feats[:n] * weight[:n]
    bits = layout.bit[:n].ravel()
    num = np.bincount(bits, weights=(f * layout.chip[:n]).ravel(), minlength=CODE_BITS)
    energy = np.bincount(bits, weights=(f**2).ravel(), minlength=CODE_BITS)
    count = np.bincount(bits, weights=weight[:n].ravel(), minlength=CODE_BITS)
    z = num / np.sqrt(np.maximum(energy, 1e-12))
    return z, count, energy


def _code_bits(payload: bytes) -> np.ndarray:
    """Payload + CRC-16, convolutionally encoded (zero tail): the 0/1 bits the chips carry."""
    data = np.unpackbits(np.frombuffer(payload + _crc16(payload).to_bytes(2, "big"), dtype=np.uint8))
    next_state, outputs = _trellis()
    coded = np.empty(CODE_BITS, dtype=np.float64)
    state = 0
    for i, bit in enumerate(np.concatenate([data, np.zeros(_CONSTRAINT - 1, np.uint8)])):
        coded[2 * i : 2 * i + 2] = outputs[state, bit]
        state = next_state[state, bit]
    return coded


def _decode(z: np.ndarray) -> tuple[bytes | None, float]:
    """Soft Viterbi over the per-bit z-scores: the payload when its CRC holds, and the mean
    agreement of the z-scores with the decoded codeword (unmarked audio ~0.65)."""
    _, outputs = _trellis()
    n_states = 1 << (_CONSTRAINT - 1)
    signed = 2.0 * outputs - 1.0  # (state, input, 2)
    steps = CODE_BITS // 2
    metric = np.full(n_states, -np.inf)
    metric[0] = 0.0
    states = np.arange(n_states)
    inputs = states >> (_CONSTRAINT - 2)  # the newest input bit is the next state's top bit
    prev0 = (states & (n_states // 2 - 1)) << 1
    prev1 = prev0 | 1
    choice = np.empty((steps, n_states), dtype=np.int64)
    for t in range(steps):
        branch = signed[:, :, 0] * z[2 * t] + signed[:, :, 1] * z[2 * t + 1]  # (state, input)
        cand0 = metric[prev0] + branch[prev0, inputs]
        cand1 = metric[prev1] + branch[prev1, inputs]
        choice[t] = cand1 > cand0
        metric = np.maximum(cand0, cand1)
    state, bits = 0, np.empty(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = state >> (_CONSTRAINT - 2)
        state = int(((state & (n_states // 2 - 1)) << 1) | choice[t, state])
    agreement = float(metric[0]) / CODE_BITS
    packed = np.packbits(bits[:_INFO_BITS]).tobytes()
    payload, crc = packed[:PAYLOAD_BYTES], int.from_bytes(packed[PAYLOAD_BYTES:], "big")
    return (payload if _crc16(payload) == crc else None), agreement


def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """Next state and the two output bits for every (state, input bit)."""
    n_states = 1 << (_CONSTRAINT - 1)
    next_state = np.empty((n_states, 2), dtype=np.int64)
    outputs = np.empty((n_states, 2, 2), dtype=np.float64)
    for state in range(n_states):
        for bit in (0, 1):
            register = (bit << (_CONSTRAINT - 1)) | state
            next_state[state, bit] = register >> 1
            outputs[state, bit] = [(register & poly).bit_count() % 2 for poly in _POLYS]
    return next_state, outputs


def _crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc
