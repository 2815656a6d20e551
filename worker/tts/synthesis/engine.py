"""The synthesis model: phonemes + a style table in, 24 kHz float audio out.

An engine knows no language and no text; the pipeline (``worker.tts.synthesis.pipeline``) turns
text into phonemes. Callers depend on the ``Engine`` protocol, so a GPU engine can be
dropped in beside the CPU Kokoro one without touching them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from shared.audio_types import SAMPLE_RATE
from worker.tts.synthesis import assets
from worker.tts.synthesis.edge_graph import edge_model_path
from worker.tts.synthesis.float_graph import float_model_path
from worker.tts.synthesis.norm_graph import norm_model_path
from worker.tts.synthesis.pitch import NATURAL_PITCH
from worker.tts.synthesis.qconv_graph import qconv_model_path
from worker.tts.synthesis.snake_graph import snake_model_path
from worker.tts.synthesis.snake_op import fused_model_path
from worker.tts.synthesis.snake_op import register as register_snake

if TYPE_CHECKING:
    from shared.settings import Settings

MAX_TOKENS = 510
BUILT_IN = "kokoro"
# Symbols that sound nothing of their own at a chunk's edge: punctuation at either end, and
# at the end a closing tone mark too. The model gives the last of them (and the end pad) the
# chunk's closing silence, ~30 frames of 25 ms, and the leading pad ~17 frames.
EDGE_PUNCTUATION = frozenset(';:,.!?—…"()“” ')
CLOSING_MARKS = frozenset("↓→↗↘")
# Frames of that silence the decoder still renders (worker.tts.synthesis.edge_graph), at the
# start and at the end. Speech starts ~3 frames before the leading pad ends and rings ~2 into
# the closing silence, but the decoder normalizes over time, so the silence it sees shapes
# the speech too: keeping 6 made short phrases ~2-4 dB quieter and less like the voice
# (speaker similarity to its reference -0.018 on average, -0.08 on 你好); keeping 12 matched
# the full render (-0.003, within the spread between sentences). The pipeline trims the rest.
EDGE_KEEP_FRAMES = (12, 12)
# A chunk the rest of its sentence follows at once (a stream's opening phrase, the comma pieces
# after it) keeps fewer closing frames: its closing silence is trimmed and the next piece follows,
# and each closing frame rendered costs ~4 ms of a first chunk's ~250. Over 30 product and lesson
# sentences × 2 voices streamed (a tuning set), 6 against 12: Whisper's syllable error 2.85 → 2.34 %
# (8: 2.91 %, both within its noise), DNSMOS 3.305 → 3.310, speaker similarity to the 12-frame
# stream 0.997 (lowest 0.990); the opening phrase 今天的天气 in 231 instead of 254 ms (medians of 30).
CONTINUED_TAIL_KEEP_FRAMES = 6


class Engine(Protocol):
    name: str
    version: str
    sample_rate: int

    def synthesize(self, phonemes: str, style: np.ndarray, speed: float = 1.0,
                   pitch: tuple[float, float] = NATURAL_PITCH, continues: bool = False) -> np.ndarray:
        """Render one chunk (≤ MAX_TOKENS phonemes) with a (510, 256) style table; ``pitch``
        ``(gain, power)`` maps the predicted F0 to gain · F0^power (a voice's pitch map);
        ``continues``: the rest of the sentence follows at once, so the pipeline trims the
        chunk's closing silence and an engine may render less of it."""
        ...

    def tokenize(self, phonemes: str) -> list[int]: ...


class KokoroEngine:
    """Kokoro-82M v1.0 on onnxruntime: the int8 graph on the CPU provider, or its float graph
    (worker.tts.synthesis.float_graph) on the CUDA provider, where int8 kernels do not run. The
    float graph also runs on the CPU provider, which is how the tests check it.

    On the CPU the int8 graph beats a dequantized float32 copy (~20 % more CPU per audio second
    for the float copy, ~10 % more with its convolutions recast as 2-D for onnxruntime's NCHWc
    kernels), and more so with its convolutions moved off ConvInteger
    (worker.tts.synthesis.qconv_graph).
    """

    def __init__(self, model_path: Path, vocab: dict[str, int], version: str, threads: int | None = None,
                 device: str = "cpu", name: str = "kokoro-82m-int8",
                 operators: Callable[[Any], None] | None = None) -> None:
        import onnxruntime as ort  # deferred: onnxruntime loads only with an engine, not with the Engine protocol

        opts = ort.SessionOptions()
        if operators is not None:
            operators(opts)  # the custom operators the graph uses (worker.tts.synthesis.snake_op)
        opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: the worker shares its few cores with
        # Whisper, the frontend and other processes, and spinning threads burn the cores the
        # busy ones need (20-25 % less CPU for the same renders on a 2-core box, same speed).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(model_path), sess_options=opts, providers=providers)
        if device == "cuda" and self.session.get_providers()[0] != "CUDAExecutionProvider":
            raise RuntimeError(f"onnxruntime did not put {model_path.name} on CUDA: {self.session.get_providers()}")
        self.model_path, self.device, self.name = model_path, device, name
        self.threads, self._operators = opts.intra_op_num_threads, operators
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.vocab = vocab
        self.version = version
        self.sample_rate = SAMPLE_RATE

    def tokenize(self, phonemes: str) -> list[int]:
        return [self.vocab[c] for c in phonemes if c in self.vocab]

    @cached_property
    def single_threaded(self) -> KokoroEngine:
        """The same graph on a one-thread session, for chunks rendered side by side
        (worker.tts.synthesis.pipeline): two threads inside one render scale worse than two
        renders at once, each on its own core. Built on first use, so a process that only
        streams never holds it; its samples are the same to the bit (onnxruntime's kernels
        here do not round differently with the thread count, which a test pins)."""
        if self.threads == 1:
            return self
        return KokoroEngine(self.model_path, self.vocab, self.version, threads=1, device=self.device,
                            name=self.name, operators=self._operators)

    def edge_inputs(self, tokens: list[int], continues: bool = False) -> dict[str, np.ndarray]:
        """What the edge graph crops: the pads and the silent symbols next to them, less
        ``EDGE_KEEP_FRAMES`` (at the end ``CONTINUED_TAIL_KEEP_FRAMES`` for a chunk that
        ``continues``); nothing for a graph without those inputs (an operator's)."""
        if "edge_tokens" not in self._inputs:
            return {}
        opening = {self.vocab[c] for c in EDGE_PUNCTUATION if c in self.vocab}
        closing = opening | {self.vocab[c] for c in CLOSING_MARKS if c in self.vocab}
        lead = next((i for i, t in enumerate(tokens) if t not in opening), None)
        tail = next((i for i, t in enumerate(reversed(tokens)) if t not in closing), None)
        edges = [0, 0] if lead is None or tail is None else [1 + lead, 1 + tail]  # all silent: crop nothing
        keep = (EDGE_KEEP_FRAMES[0], CONTINUED_TAIL_KEEP_FRAMES) if continues else EDGE_KEEP_FRAMES
        return {"edge_tokens": np.array(edges, np.int64), "edge_keep": np.array(keep, np.int64)}

    def pitch_inputs(self, pitch: tuple[float, float]) -> dict[str, np.ndarray]:
        """The pitch map's inputs; a graph without them (an operator's) renders only the model's own F0."""
        if "pitch_gain" not in self._inputs:
            if tuple(pitch) != NATURAL_PITCH:
                raise ValueError(f"{self.model_path.name} has no pitch inputs: it cannot render a pitch map")
            return {}
        return {"pitch_gain": np.array([pitch[0]], np.float32), "pitch_power": np.array([pitch[1]], np.float32)}

    def synthesize(self, phonemes: str, style: np.ndarray, speed: float = 1.0,
                   pitch: tuple[float, float] = NATURAL_PITCH, continues: bool = False) -> np.ndarray:
        feeds = self.feeds(phonemes, style, speed, pitch, continues)
        if feeds is None:
            return np.zeros(0, np.float32)
        return np.asarray(self.session.run(None, feeds)[0], np.float32).ravel()

    def feeds(self, phonemes: str, style: np.ndarray, speed: float = 1.0,
              pitch: tuple[float, float] = NATURAL_PITCH, continues: bool = False) -> dict[str, np.ndarray] | None:
        """The graph's inputs for one chunk (what the scale calibration of
        worker.tts.synthesis.qconv_graph replays too); None when nothing in it is sounded."""
        tokens = self.tokenize(phonemes)[:MAX_TOKENS]
        if not tokens:
            return None
        if style.shape[-1] != 256:
            raise ValueError(f"style table must have 256 columns, got {style.shape}")
        ref = style[min(len(tokens), len(style)) - 1].reshape(1, 256).astype(np.float32)
        return {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": ref,
            "speed": np.array([speed], dtype=np.float32),
            **self.edge_inputs(tokens, continues),
            **self.pitch_inputs(pitch),
        }


def kokoro_engine(settings: Settings, device: str = "cpu", graph: str | None = None) -> KokoroEngine:
    """The built-in engine: the Kokoro model the set-up put into the cache. On ``cuda`` the
    float graph (built from the int8 one once, into the model cache); on ``cpu`` the int8
    graph unless ``graph="float"`` (the tests' check of the GPU path). Either runs as its
    edge-cropping, Sin-free copy (``rewritten_graph``) with one-kernel instance norms
    (worker.tts.synthesis.norm_graph); the int8 one with its convolutions moved off ConvInteger
    (worker.tts.synthesis.qconv_graph) and each Snake one operator (worker.tts.synthesis.snake_op)."""
    graph = graph or ("float" if device == "cuda" else "int8")
    path, stem = rewritten_graph(settings, graph)
    path, stem = norm_model_path(settings.model_cache, path, stem), f"{stem}-in"
    if graph == "float":
        return KokoroEngine(path, assets.kokoro_vocab(), version=stem, threads=settings.synth_threads,
                            device=device, name="kokoro-82m-float")
    path, suffix = qconv_model_path(settings.model_cache, path, stem, assets.kokoro_model_sha256())
    # The fused graph renders the same samples (tests/worker/test_snake_op.py), so it keeps the
    # version: cached renders and voice banks serve either.
    operators = None
    if settings.snake_operator:
        path, operators = fused_model_path(settings.model_cache, path, path.stem), register_snake
    return KokoroEngine(path, assets.kokoro_vocab(), version=stem + suffix, threads=settings.synth_threads,
                        device=device, name="kokoro-82m-int8", operators=operators)


def rewritten_graph(settings: Settings, graph: str) -> tuple[Path, str]:
    """The shipped ``graph`` ("int8" or "float") as its edge-cropping copy
    (worker.tts.synthesis.edge_graph) with Sin-free Snake activations
    (worker.tts.synthesis.snake_graph), each built once into the cache; and its name."""
    sha = assets.kokoro_model_sha256()
    path = assets.kokoro_model_path()
    if graph == "float":
        path = float_model_path(settings.model_cache, path, sha)
    stem = f"kokoro-v1.0-{graph}-{sha[:8]}"
    path = snake_model_path(settings.model_cache, edge_model_path(settings.model_cache, path, stem), f"{stem}-edges")
    return path, f"{stem}-edges-snake"


def load_engine(settings: Settings, device: str = "cpu") -> Engine:
    """The engine ``NARRATOR_ENGINE`` names: the built-in one, or an operator's factory.

    A factory is given as ``package.module:callable`` so a GPU engine can be installed
    beside narrator and chosen by configuration, with no change to the code that calls it.
    """
    spec = settings.engine.strip()
    if spec == BUILT_IN:
        return kokoro_engine(settings, device)
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"NARRATOR_ENGINE must be '{BUILT_IN}' or 'package.module:factory', got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"NARRATOR_ENGINE {spec!r} cannot be loaded: {exc}") from exc
    engine = factory(settings)
    missing = [name for name in ("name", "version", "sample_rate", "synthesize", "tokenize")
               if not hasattr(engine, name)]
    if missing:
        raise ValueError(f"NARRATOR_ENGINE {spec!r} made an object without {', '.join(missing)}")
    return engine
