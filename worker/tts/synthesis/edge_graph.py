"""A copy of the Kokoro graph whose decoder skips most of the edge silence it would render.

Kokoro's duration predictor gives the tokens at a chunk's edges long durations: ~17 frames
(25 ms each) to the leading pad, and ~30 to the end (the last tone or stress mark, the final
punctuation and the pad). The decoder, the costly part of the graph, renders all of it as
silence, and the pipeline trims that silence afterwards: for a short streamed head it was about
half of the engine's work. The durations themselves are left as predicted: shortening the
leading pad made the model swallow the first syllable's onset (the predictor reads the frames
before it), whereas cropping only the decoder's inputs (the aligned text features and the F0 and
energy curves) kept onset, span and words, and the decoder renders only what is kept.

The graph gains two inputs, ``edge_tokens`` ``[lead, tail]`` (how many tokens at each end count
as edge silence) and ``edge_keep`` ``[lead, tail]`` (frames of that silence to render anyway);
the engine decides both.

It also gains ``pitch_gain`` and ``pitch_power`` (one float each): the cropped F0 curve becomes
``gain · F0 · |F0|^(power − 1)`` before the decoder reads it, which is a voice's pitch map
(worker.tts.synthesis.pitch) and, at ``[1.0]``, ``[1.0]``, exactly the curve the model predicted.

Built once from the shipped graph (or the float one) by ``onnx`` and cached beside the other
model files; never committed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.tts.synthesis.cached_graph import build_once

# The per-token durations (int64 [T], rounded and clipped) and the decoder's inputs it crops:
# each decoder input and its frames per duration frame (F0 and energy run at twice the rate).
DURATIONS = "/encoder/Gather_output_0"
F0 = "/encoder/Reshape_output_0"
DECODER_INPUTS = {"/encoder/MatMul_1_output_0": 1, F0: 2, "/encoder/Reshape_1_output_0": 2}
PITCHED = "pitch/f0"


class EdgeGraphError(RuntimeError):
    """The source graph lacks a tensor this rewrite hooks into (another export of Kokoro)."""


def edge_model_path(cache: Path, source: Path, stem: str) -> Path:
    """The edge-cropping copy of ``source`` in the model cache, built the first time; ``stem``
    names the source graph and its checksum, so a new model never meets an old copy."""
    return build_once(Path(cache) / f"{stem}-edges-pitch.onnx", lambda out: build_edge_graph(source, out))


def build_edge_graph(source: Path, out_path: Path) -> None:
    import onnx  # deferred: onnx is needed only to build the graph, once per model cache
    from onnx import TensorProto, helper, numpy_helper  # deferred: as above

    model = onnx.load(str(source))
    graph = model.graph
    producers = {o: i for i, n in enumerate(graph.node) for o in n.output}
    missing = [name for name in (DURATIONS, *DECODER_INPUTS) if name not in producers]
    if missing:
        raise EdgeGraphError(f"{source.name} has no {', '.join(missing)}")
    graph.input.extend([helper.make_tensor_value_info(name, TensorProto.INT64, [2])
                        for name in ("edge_tokens", "edge_keep")])
    graph.input.extend([helper.make_tensor_value_info(name, TensorProto.FLOAT, [1])
                        for name in ("pitch_gain", "pitch_power")])
    consts = {"edge/0": [0], "edge/1": [1], "edge/2": [2], "edge/last": [-1]}
    graph.initializer.extend(numpy_helper.from_array(np.array(v, np.int64), k) for k, v in consts.items())
    graph.initializer.extend(numpy_helper.from_array(np.array([v], np.float32), k)
                             for k, v in {"pitch/one": 1.0, "pitch/tiny": 1e-6}.items())
    for name in DECODER_INPUTS:  # every reader of a decoder input reads the cropped one (F0: pitched too)
        for node in graph.node:
            reads = PITCHED if name == F0 else f"{name}/edge"
            node.input[:] = [reads if i == name else i for i in node.input]
    inserts = {producers[DURATIONS]: _crop_frames(helper)}
    for name, rate in DECODER_INPUTS.items():
        inserts.setdefault(producers[name], []).extend(_crop(helper, name, rate))
    inserts[producers[F0]].extend(_pitch(helper, f"{F0}/edge"))
    for index in sorted(inserts, reverse=True):  # each after its producer: the order stays topological
        for offset, node in enumerate(inserts[index], start=1):
            graph.node.insert(index + offset, node)
    onnx.save(model, str(out_path))


def _crop_frames(helper) -> list:  # type: ignore[no-untyped-def]
    """Nodes computing ``edge/start`` and ``edge/end``: the frames of edge silence beyond
    ``edge_keep`` at each end (the sum of the edge tokens' durations, less what is kept)."""
    d = DURATIONS
    return [
        helper.make_node("Shape", [d], ["edge/T"]),
        helper.make_node("Slice", ["edge_tokens", "edge/0", "edge/1"], ["edge/n_lead"]),
        helper.make_node("Slice", ["edge_tokens", "edge/1", "edge/2"], ["edge/n_tail"]),
        helper.make_node("Slice", ["edge_keep", "edge/0", "edge/1"], ["edge/keep_lead"]),
        helper.make_node("Slice", ["edge_keep", "edge/1", "edge/2"], ["edge/keep_tail"]),
        helper.make_node("Slice", [d, "edge/0", "edge/n_lead"], ["edge/lead_durations"]),
        helper.make_node("Sub", ["edge/T", "edge/n_tail"], ["edge/tail_from"]),
        helper.make_node("Slice", [d, "edge/tail_from", "edge/T"], ["edge/tail_durations"]),
        helper.make_node("ReduceSum", ["edge/lead_durations"], ["edge/lead"], keepdims=1),
        helper.make_node("ReduceSum", ["edge/tail_durations"], ["edge/tail"], keepdims=1),
        helper.make_node("Sub", ["edge/lead", "edge/keep_lead"], ["edge/lead_extra"]),
        helper.make_node("Sub", ["edge/tail", "edge/keep_tail"], ["edge/tail_extra"]),
        helper.make_node("Max", ["edge/lead_extra", "edge/0"], ["edge/start"]),
        helper.make_node("Max", ["edge/tail_extra", "edge/0"], ["edge/end"]),
    ]


def _crop(helper, name: str, rate: int) -> list:  # type: ignore[no-untyped-def]
    """Nodes slicing ``name`` (time last) to ``name/edge``: ``rate`` of its frames per duration frame."""
    r = "edge/1" if rate == 1 else "edge/2"
    return [
        helper.make_node("Shape", [name], [f"{name}/edge_shape"]),
        helper.make_node("Gather", [f"{name}/edge_shape", "edge/last"], [f"{name}/edge_len"]),
        helper.make_node("Mul", ["edge/start", r], [f"{name}/edge_from"]),
        helper.make_node("Mul", ["edge/end", r], [f"{name}/edge_cut"]),
        helper.make_node("Sub", [f"{name}/edge_len", f"{name}/edge_cut"], [f"{name}/edge_to"]),
        helper.make_node("Slice", [name, f"{name}/edge_from", f"{name}/edge_to", "edge/last"], [f"{name}/edge"]),
    ]


def _pitch(helper, f0: str) -> list:  # type: ignore[no-untyped-def]
    """Nodes computing ``PITCHED`` = gain · f0 · (|f0| + tiny)^(power − 1): gain · f0^power for the
    voiced (positive) frames, the sign kept elsewhere, and f0 itself, exactly, at gain = power = 1."""
    return [
        helper.make_node("Abs", [f0], ["pitch/abs"]),
        helper.make_node("Add", ["pitch/abs", "pitch/tiny"], ["pitch/magnitude"]),
        helper.make_node("Sub", ["pitch_power", "pitch/one"], ["pitch/exponent"]),
        helper.make_node("Pow", ["pitch/magnitude", "pitch/exponent"], ["pitch/factor"]),
        helper.make_node("Mul", [f0, "pitch/factor"], ["pitch/raised"]),
        helper.make_node("Mul", ["pitch/raised", "pitch_gain"], [PITCHED]),
    ]
