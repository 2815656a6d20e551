"""Kokoro's adaptive instance norms as one ``InstanceNormalization`` each.

Every AdaIN of the model (48 in the vocoder, more in the decoder and the prosody predictor)
was exported as its arithmetic: ``ReduceMean``, ``Sub``, ``Mul``, ``ReduceMean``, ``Add``,
``Sqrt``, ``Div``, then the style's ``(1 + γ) · n + β``. Five of those ops read and write the
whole activation (up to 128 channels at 4.8 kHz), and onnxruntime's elementwise ops are bound
by memory here: each pass costs about as much as the arithmetic of a whole norm done in one
sweep. ``InstanceNormalization`` with the style's scale and shift as its (runtime) inputs does
the same in one kernel; on 2 cores about a third of the decomposed ops' time.

Only the exact pattern is rewritten: statistics over axis 2 (time, in Kokoro's ``[1, C, T]``
activations), an epsilon constant, and an affine whose scale and shift are computed at run time
(from the style); they are flattened to the ``[C]`` inputs ``InstanceNormalization`` takes,
which holds for the engine's batches of one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from worker.tts.synthesis.cached_graph import GraphIndex, build_once, splice


def norm_model_path(cache: Path, source: Path, stem: str) -> Path:
    """The copy of ``source`` with one-kernel norms in the model cache, built the first time;
    ``stem`` names the source graph, so a new model never meets an old copy."""
    return build_once(Path(cache) / f"{stem}-in.onnx", lambda out: build_norm_graph(source, out))


def build_norm_graph(source: Path, out_path: Path) -> None:
    import onnx  # deferred: onnx is needed only to build the graph, once per model cache

    model = onnx.load(str(source))
    rewrite_instance_norms(model.graph)
    onnx.save(model, str(out_path))


def rewrite_instance_norms(graph: Any) -> int:
    """Rewrite every decomposed AdaIN of ``graph`` (an ``onnx.GraphProto``) in place; how many
    norms it wrote (a normalization shared by several affines becomes one norm each)."""
    from onnx import helper, numpy_helper  # deferred: as above

    index = GraphIndex(graph)
    replaced: dict[int, list[Any]] = {}
    count = 0
    for mean in [n for n in graph.node if n.op_type == "ReduceMean"]:
        match = _adain(mean, index)
        if match is None or any(id(n) in replaced for n in match["nodes"]):
            continue
        for node in match["nodes"]:
            replaced[id(node)] = []
        for i, affine in enumerate(match["affines"]):
            name = f"{mean.name or mean.output[0]}/{i}"
            # in place of the affine's Add: its scale and shift exist by then
            replaced[id(affine["nodes"][-1])] = [
                helper.make_node("Reshape", [affine["scale"], "instance_norm/channels"], [f"{name}/scale"]),
                helper.make_node("Reshape", [affine["shift"], "instance_norm/channels"], [f"{name}/shift"]),
                helper.make_node("InstanceNormalization", [match["x"], f"{name}/scale", f"{name}/shift"],
                                 [affine["out"]], name=f"{name}/InstanceNormalization", epsilon=match["eps"])]
            count += 1
    if replaced:
        graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "instance_norm/channels"))
    splice(graph, replaced)
    return count


def _adain(mean: Any, index: GraphIndex) -> dict[str, Any] | None:
    """The nodes of ``(1 + γ) · (x − E x) / √(Var x + ε) + β`` starting at ``mean``, or None."""
    x = mean.input[0]
    if not _time_mean(mean, index.constants):
        return None
    centred = index.only_reader(mean.output[0], "Sub")
    if centred is None or list(centred.input) != [x, mean.output[0]]:
        return None
    d = centred.output[0]
    uses = index.readers(d)
    square = next((n for n in uses if n.op_type == "Mul" and list(n.input) == [d, d]), None)
    divide = next((n for n in uses if n.op_type == "Div" and n.input[0] == d), None)
    if len(uses) != 2 or square is None or divide is None:
        return None
    variance = index.only_reader(square.output[0], "ReduceMean")
    if variance is None or not _time_mean(variance, index.constants):
        return None
    plus_eps = index.only_reader(variance.output[0], "Add")
    eps = next((index.constants[i] for i in plus_eps.input if i in index.constants), None) if plus_eps else None
    if eps is None or eps.size != 1:
        return None
    root = index.only_reader(plus_eps.output[0], "Sqrt")
    if root is None or list(divide.input) != [d, root.output[0]] or len(index.readers(root.output[0])) != 1:
        return None
    affines = [_affine(mul, divide.output[0], index) for mul in index.readers(divide.output[0])]
    if not affines or None in affines:
        return None
    nodes = [mean, centred, square, variance, plus_eps, root, divide]
    return {"x": x, "eps": float(eps.ravel()[0]), "affines": affines,
            "nodes": nodes + [n for affine in affines for n in affine["nodes"]]}


def _affine(scale_mul: Any, normed: str, index: GraphIndex) -> dict[str, Any] | None:
    """``Add(Mul(scale, normed), shift)`` with scale and shift computed at run time (from the
    style), or None. The three residual blocks of a vocoder stage read one input, and the
    exporter shares its normalization among their norms: each affine becomes a norm of its own."""
    if scale_mul.op_type != "Mul":
        return None
    scale = next(i for i in scale_mul.input if i != normed)
    shift_add = index.only_reader(scale_mul.output[0], "Add")
    if shift_add is None:
        return None
    shift = next(i for i in shift_add.input if i != scale_mul.output[0])
    if scale in index.constants or shift in index.constants or scale not in index.producers or shift not in index.producers:
        return None  # a fixed affine is another pattern: leave it
    return {"scale": scale, "shift": shift, "out": shift_add.output[0], "nodes": [scale_mul, shift_add]}


def _time_mean(node: Any, constants: dict[str, np.ndarray]) -> bool:
    from onnx import helper  # deferred: as above

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1] in constants:
        axes = constants[node.input[1]].tolist()
    return attrs.get("keepdims", 1) == 1 and axes is not None and list(np.ravel(axes)) == [2]
