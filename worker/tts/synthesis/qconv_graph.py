"""A copy of the Kokoro graph whose int8 convolutions avoid onnxruntime's ``ConvInteger``.

The shipped graph quantizes every convolution dynamically: ``DynamicQuantizeLinear`` on the
input, ``ConvInteger`` with uint8 weights, then the int32 sum plus bias cast to float and
scaled. onnxruntime's uint8 × uint8 ``ConvInteger`` is its slowest convolution, and the
convolutions were half of the engine's time. The weights convert exactly to int8
(``w − zero point`` fits in every layer), which opens the uint8 × int8 kernels, two ways:

- **As a matrix product** (every convolution): the input is quantized to int8 instead (the
  same integers less 128, from the same scale and zero point), padded with its zero point and
  unfolded along the channels (one ``Slice`` per kernel tap, concatenated), and
  ``MatMulIntegerToFloat`` multiplies the weights (uint8 around 128, on the left: the operand
  order onnxruntime's fast uint8 × int8 kernel takes) by it, scaling the int32 sums to float;
  the bias is added per channel. The integer arithmetic is the same as ``ConvInteger``'s, so the
  output is the same up to float rounding; it comes out channel-major, as the graph wants it.
  1.5-2 × faster per layer than ``ConvInteger`` (a 256-channel k7 layer over 7200 frames: 24 →
  11 ms). An earlier layout, the activations on the left in time-major order, needed a float
  transpose back per layer that cost as much as the product on an Intel host: this one is 28 %
  faster there (a 128-channel k7 layer over 24 000 frames, 17.5 → 12.6 ms).
- **As ``QLinearConv``** (the vocoder's noise branch, ``noise_res``, 12 layers): 3-5 × faster
  than ``ConvInteger`` (22.6 → 4.4 ms on the 256-channel layer above), but it re-quantizes its output to
  8 bits with a fixed scale. Each layer's scale is its peak output over a calibration run (stock
  voices reading mixed Chinese and English) times ``MARGIN``; the table ships beside this module
  (``qconv_scales.json``), made by ``scripts/calibrate_qconv.py`` for the model checksum it
  names. In the noise branch the 8-bit output cost nothing measurable (held-out voices, blends,
  speeds and pitch maps: speaker similarity 0.998 to the unconverted render, DNSMOS unchanged);
  in the main residual blocks it did (similarity 0.93, DNSMOS −0.14: their outputs feed the
  residual sum, where the rounding noise is heard), so those take the exact route.

A model whose checksum the table does not name gets only the exact conversion.

On a CPU without VNNI (AVX2 only), onnxruntime's uint8 × int8 kernels add pairs of products in
16 bits with saturation (``vpmaddubsw``): a pair of large weights and activations is clipped, and
both routes above stop being exact (a random layer: 2.7 % of outputs off by up to 1.7 where the
output spans ±13). ``int8_products_exact`` asks the kernel; where it saturates the product takes
uint8 activations and ``QLinearConv`` uint8 weights around 128 (uint8 × uint8, exact there): the same
integers, so the same output as on a CPU with VNNI, about a quarter slower per product.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from worker.tts.synthesis.cached_graph import GraphIndex, build_once, drop_unused_initializers, splice

QLINEAR_SCOPE = re.compile(r"/generator/noise_res\.\d+/")
MARGIN = 1.25  # over the calibrated peak: a layer's peak varied up to 1.9 × its median across renders
SCALES = Path(__file__).with_name("qconv_scales.json")
Y_ZERO_POINT = 128  # uint8 output centred on zero: the layers' outputs are signed and roughly symmetric
LAST = np.iinfo(np.int64).max  # a Slice end meaning "to the end"


@dataclass(frozen=True)
class QuantizedConv:
    """One ``ConvInteger`` and the nodes around it that a conversion replaces."""

    conv: Any
    activation: str  # the float tensor the DynamicQuantizeLinear quantizes
    input_scale: str  # the DynamicQuantizeLinear's scale output
    bias_add: Any | None  # Add(int32 sum, Reshape(bias)), absent for a convolution without bias
    bias: str | None  # the 1-D int32 bias the Reshape reads
    reshape: Any | None
    cast: Any
    scale_mul: Any  # Cast(sum) · (input scale · weight scale): its output is the float result
    weight_scale: str  # initializer name

    @property
    def output(self) -> str:
        return self.scale_mul.output[0]

    @property
    def output_scale(self) -> str:
        """The runtime product input scale · weight scale (also the int32 bias's scale)."""
        return next(i for i in self.scale_mul.input if i != self.cast.output[0])

    def attribute(self, name: str, default: Any) -> Any:
        from onnx import helper  # deferred: onnx is needed only to build the graph, once per model cache

        return next((helper.get_attribute_value(a) for a in self.conv.attribute if a.name == name), default)


def qconv_model_path(cache: Path, source: Path, stem: str, model_sha256: str) -> tuple[Path, str]:
    """The converted copy of ``source`` in the model cache (built the first time) and the suffix
    its engine version takes, which says whether the calibrated ``QLinearConv`` layers are in. On a
    CPU whose uint8 × int8 kernels saturate, uint8 × uint8 (``-u8`` in the file's name): the same
    arithmetic, so the same version."""
    signed = int8_products_exact()
    table = json.loads(SCALES.read_text()) if SCALES.is_file() else {}
    peaks = table.get("peaks", {}) if table.get("model_sha256") == model_sha256 else {}
    suffix = f"-mm-q{len(peaks)}" if peaks else "-mm"
    path = Path(cache) / f"{stem}{suffix}{'' if signed else '-u8'}.onnx"
    return build_once(path, lambda out: build_qconv_graph(source, out, peaks, signed)), suffix


@cache
def int8_products_exact() -> bool:
    """Whether this CPU's uint8 × int8 integer product is exact: 64 products of 127 × 127 stored
    as the operands the converted graph uses (uint8 255 with zero point 128, int8 127), which a
    kernel adding pairs in 16 bits clips. Asked once per process (a few milliseconds)."""
    import onnxruntime as ort  # deferred: as above
    from onnx import TensorProto, helper, numpy_helper

    k = 64
    initializers = [numpy_helper.from_array(np.full((8, k), 255, np.uint8), "a"),
                    numpy_helper.from_array(np.array(128, np.uint8), "a_zero"),
                    numpy_helper.from_array(np.array(1.0, np.float32), "one")]
    node = helper.make_node("MatMulIntegerToFloat", ["a", "b", "one", "one", "a_zero"], ["y"], domain="com.microsoft")
    graph = helper.make_graph([node], "probe", [helper.make_tensor_value_info("b", TensorProto.INT8, [k, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"b": np.full((k, 8), 127, np.int8)})[0]
    return bool(np.all(got == 127 * 127 * k))


def build_qconv_graph(source: Path, out_path: Path, peaks: dict[str, float], signed: bool = True) -> None:
    import onnx  # deferred: as above

    model = onnx.load(str(source))
    to_qlinear(model.graph, peaks, signed)
    to_matmul(model.graph, signed)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):  # MatMulIntegerToFloat's domain
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(out_path))


def find_convs(graph: Any, scope: re.Pattern[str] | None = None) -> list[QuantizedConv]:
    """The dynamically quantized convolutions of ``graph`` (those whose names ``scope`` matches),
    in the shape the quantizer wrote them; a convolution in any other shape is not returned."""
    index = GraphIndex(graph)
    initializers, producers, only_reader = index.initializers, index.producers, index.only_reader
    found = []
    for conv in graph.node:
        if conv.op_type != "ConvInteger" or (scope and not scope.search(conv.name)) or len(conv.input) != 4:
            continue
        quantize = producers.get(conv.input[0])
        if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or conv.input[1] not in initializers:
            continue
        bias_add = only_reader(conv.output[0], "Add")
        bias = reshape = None
        if bias_add is not None:
            reshape = producers.get(next(i for i in bias_add.input if i != conv.output[0]))
            if reshape is None or reshape.op_type != "Reshape" or len(index.readers(reshape.output[0])) != 1:
                continue
            bias = reshape.input[0]
        cast = only_reader((bias_add or conv).output[0], "Cast")
        scale_mul = cast and only_reader(cast.output[0], "Mul")
        scale = scale_mul and producers.get(next(i for i in scale_mul.input if i != cast.output[0]))
        if scale is None or scale.op_type != "Mul" or quantize.output[1] not in scale.input:
            continue
        weight_scale = next((i for i in scale.input if i in initializers), None)
        if weight_scale is not None:
            found.append(QuantizedConv(conv, quantize.input[0], quantize.output[1], bias_add, bias, reshape, cast, scale_mul, weight_scale))
    return found


def to_qlinear(graph: Any, peaks: dict[str, float], signed: bool = True) -> int:
    """Replace each convolution named in ``peaks`` (node name → peak |output|) by ``QLinearConv``
    and a ``DequantizeLinear`` that writes the tensor the old chain wrote; how many it replaced.
    ``signed`` gives it int8 weights; otherwise uint8 around 128 (the same integers), for CPUs
    whose uint8 × int8 kernel saturates."""
    from onnx import helper, numpy_helper  # deferred: as above

    def convert(q: QuantizedConv, weights: np.ndarray) -> tuple[list[Any], list[Any]]:
        name = q.conv.name
        inputs = [q.conv.input[0], q.input_scale, q.conv.input[2], f"{name}/w_int8", q.weight_scale,
                  "qconv/int8_zero" if signed else "qconv/uint8_128", f"{name}/y_scale", "qconv/y_zero_point"]
        conv = helper.make_node("QLinearConv", inputs + ([q.bias] if q.bias else []), [f"{name}/yq"],
                                name=f"{name}/qlinear")
        conv.attribute.extend(q.conv.attribute)
        dequantize = helper.make_node("DequantizeLinear", [f"{name}/yq", f"{name}/y_scale", "qconv/y_zero_point"],
                                      [q.output], name=f"{name}/dequantize")
        stored = weights if signed else (weights.astype(np.int16) + 128).astype(np.uint8)
        return [conv, dequantize], [
            numpy_helper.from_array(stored, f"{name}/w_int8"),
            numpy_helper.from_array(np.array(peaks[name] * MARGIN / 127, np.float32), f"{name}/y_scale")]

    shared = [numpy_helper.from_array(np.array(Y_ZERO_POINT, np.uint8), "qconv/y_zero_point"),
              numpy_helper.from_array(np.array(128, np.uint8), "qconv/uint8_128")]
    return _replace(graph, [q for q in find_convs(graph, QLINEAR_SCOPE) if q.conv.name in peaks], convert, shared)


def to_matmul(graph: Any, signed: bool = True) -> int:
    """Replace every 1-D, ungrouped, stride-1 convolution by the unfolded matrix product; how many.
    ``signed`` quantizes the input to int8 (uint8 × int8, the fast kernel); otherwise to uint8 as
    the graph did (uint8 × uint8, for CPUs whose uint8 × int8 kernel saturates)."""
    from onnx import TensorProto, helper, numpy_helper  # deferred: as above

    def convert(q: QuantizedConv, weights: np.ndarray) -> tuple[list[Any], list[Any]]:
        name, (out_channels, in_channels, taps) = q.conv.name, weights.shape
        dilation, (before, after) = q.attribute("dilations", [1])[0], q.attribute("pads", [0, 0])
        # Column k·C + c of the weights is channel c at tap k, as the unfolded input's rows;
        # stored as uint8 around 128 (the same integers): the fast kernel wants uint8 on the left.
        rows = (weights.transpose(0, 2, 1).reshape(out_channels, taps * in_channels).astype(np.int16) + 128)
        initializers = [numpy_helper.from_array(rows.astype(np.uint8), f"{name}/w_rows")]
        zero = f"{name}/zero_point"  # the input's zero point as int8: the same quantized values, less 128
        nodes = [helper.make_node("Cast", [q.conv.input[2]], [f"{name}/zp_wide"], to=TensorProto.INT32),
                 helper.make_node("Sub", [f"{name}/zp_wide", "qconv/int32_128"], [f"{name}/zp_shifted"]),
                 helper.make_node("Cast", [f"{name}/zp_shifted"], [zero], to=TensorProto.INT8)] if signed else []
        zero = zero if signed else q.conv.input[2]  # uint8: the graph's own zero point
        nodes.append(helper.make_node("QuantizeLinear", [q.activation, q.input_scale, zero], [f"{name}/int8"]))
        x = f"{name}/int8"
        if before or after:  # padded with the zero point: the quantized zero, as ConvInteger pads
            initializers.append(numpy_helper.from_array(np.array([0, 0, before, 0, 0, after], np.int64), f"{name}/pads"))
            nodes.append(helper.make_node("Pad", [x, f"{name}/pads", zero], [f"{name}/padded"]))
            x = f"{name}/padded"
        if taps > 1:
            span = dilation * (taps - 1)
            for k in range(taps):
                initializers += [numpy_helper.from_array(np.array([k * dilation], np.int64), f"{name}/start{k}"),
                                 numpy_helper.from_array(np.array([k * dilation - span or LAST], np.int64),
                                                         f"{name}/end{k}")]
                nodes.append(helper.make_node("Slice", [x, f"{name}/start{k}", f"{name}/end{k}", "qconv/time_axis"],
                                              [f"{name}/tap{k}"]))
            nodes.append(helper.make_node("Concat", [f"{name}/tap{k}" for k in range(taps)], [f"{name}/unfolded"],
                                          axis=1))
            x = f"{name}/unfolded"
        inputs = [f"{name}/w_rows", x, q.weight_scale, q.input_scale, "qconv/uint8_128", zero]
        product = q.output
        if q.bias and q.output not in normalized:  # the graph's int32 bias at its own scale, as float, per row
            product = f"{name}/product"
            nodes += [helper.make_node("Cast", [q.bias], [f"{name}/bias_sum"], to=TensorProto.FLOAT),
                      helper.make_node("Mul", [f"{name}/bias_sum", q.output_scale], [f"{name}/bias_flat"]),
                      helper.make_node("Unsqueeze", [f"{name}/bias_flat", "qconv/time_axis_last"], [f"{name}/bias"])]
        nodes.append(helper.make_node("MatMulIntegerToFloat", inputs, [product], domain="com.microsoft"))
        if product != q.output:
            nodes.append(helper.make_node("Add", [product, f"{name}/bias"], [q.output]))
        for node in nodes:
            node.name = f"{name}/{node.output[0].rsplit('/', 1)[-1]}"  # each new tensor's name starts with the convolution's
        return nodes, initializers

    convs = [q for q in find_convs(graph) if q.attribute("group", 1) == 1 and q.attribute("strides", [1]) == [1]
             and len(q.attribute("kernel_shape", [])) == 1 and _scalar(graph, q.weight_scale)]
    normalized = _only_normalized(graph)
    shared = [numpy_helper.from_array(np.array([2], np.int64), "qconv/time_axis"),
              numpy_helper.from_array(np.array([1], np.int64), "qconv/time_axis_last"),
              numpy_helper.from_array(np.array(128, np.int32), "qconv/int32_128"),
              numpy_helper.from_array(np.array(128, np.uint8), "qconv/uint8_128")]
    replaced = _replace(graph, convs, convert, shared)
    _scale_only_quantizers(graph)
    return replaced


def _scale_only_quantizers(graph: Any) -> None:
    """A ``DynamicQuantizeLinear`` whose uint8 output nothing reads any more (the product
    quantizes to int8 itself) becomes the arithmetic of its scale and zero point: onnxruntime
    keeps an unread output alive to the end of the run, which held ~210 MiB more for the bench
    sentences, and the write was wasted. The same float operations as onnxruntime's kernel
    (range widened to include zero, ``/ 255``, the zero point rounded half to even): the same
    scale and zero point, bit for bit."""
    from onnx import TensorProto, helper, numpy_helper  # deferred: as above

    read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    nodes = []
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear" or node.output[0] in read:
            nodes.append(node)
            continue
        x, (_, scale, zero_point), p = node.input[0], node.output, f"{node.name or node.output[1]}/"
        arithmetic = [helper.make_node("ReduceMin", [x], [p + "min_x"], keepdims=0),
                      helper.make_node("Min", [p + "min_x", "qconv/float_0"], [p + "min"]),
                      helper.make_node("ReduceMax", [x], [p + "max_x"], keepdims=0),
                      helper.make_node("Max", [p + "max_x", "qconv/float_0"], [p + "max"]),
                      helper.make_node("Sub", [p + "max", p + "min"], [p + "range"]),
                      helper.make_node("Div", [p + "range", "qconv/float_255"], [p + "step"]),
                      helper.make_node("Equal", [p + "range", "qconv/float_0"], [p + "flat"]),
                      helper.make_node("Where", [p + "flat", "qconv/float_1", p + "step"], [scale]),  # all zero: 1
                      helper.make_node("Div", [p + "min", scale], [p + "min_steps"]),
                      helper.make_node("Neg", [p + "min_steps"], [p + "zero"]),
                      helper.make_node("Clip", [p + "zero", "qconv/float_0", "qconv/float_255"], [p + "clipped"]),
                      helper.make_node("Round", [p + "clipped"], [p + "rounded"]),
                      helper.make_node("Cast", [p + "rounded"], [zero_point], to=TensorProto.UINT8)]
        for new in arithmetic:
            new.name = new.output[0]
        nodes += arithmetic
    if len(nodes) != len(graph.node):
        del graph.node[:]
        graph.node.extend(nodes)
        graph.initializer.extend(numpy_helper.from_array(np.array(v, np.float32), f"qconv/float_{v}")
                                 for v in (0, 1, 255))


def _only_normalized(graph: Any) -> set[str]:
    """Tensors read by nothing but instance norms (worker.tts.synthesis.norm_graph): a per-channel
    bias added to one is subtracted again with the channel's mean, so its pass is skipped (a
    residual block's first convolution feeds only its second norm)."""
    readers: dict[str, set[str]] = defaultdict(set)
    for node in graph.node:
        for i, name in enumerate(node.input):
            readers[name].add("norm" if node.op_type == "InstanceNormalization" and i == 0 else "other")
    outputs = {o.name for o in graph.output}
    return {name for name, kinds in readers.items() if kinds == {"norm"} and name not in outputs}


def _scalar(graph: Any, name: str) -> bool:
    """Whether initializer ``name`` is one number: a per-tensor weight scale, which the product's
    left-operand scale must be."""
    return next(int(np.prod(i.dims)) for i in graph.initializer if i.name == name) == 1


def _replace(graph: Any, convs: list[QuantizedConv],
             convert: Callable[[QuantizedConv, np.ndarray], tuple[list[Any], list[Any]]], shared: list[Any]) -> int:
    """Put ``convert``'s nodes in place of each convolution's chain whose weights fit int8 exactly
    (all of Kokoro's do), at the final Mul's place: it follows everything the new nodes read.
    ``convert`` gets the int8 weights and returns its nodes and initializers; ``shared`` are the
    initializers its nodes share. How many it replaced."""
    from onnx import numpy_helper  # deferred: as above

    initializers = {i.name: i for i in graph.initializer}
    replaced: dict[int, list[Any]] = {}  # id() of nodes that ``convs`` keeps alive
    added: list[Any] = []
    for q in convs:
        weights = numpy_helper.to_array(initializers[q.conv.input[1]]).astype(np.int16)
        weights -= numpy_helper.to_array(initializers[q.conv.input[3]]).astype(np.int16)
        if weights.min() < -128 or weights.max() > 127:
            continue
        nodes, new = convert(q, weights.astype(np.int8))
        added += new
        replaced[id(q.scale_mul)] = nodes
        replaced.update((id(node), []) for node in (q.conv, q.bias_add, q.reshape, q.cast) if node is not None)
    if not added:
        return 0
    splice(graph, replaced)
    graph.initializer.extend([*added, *shared, numpy_helper.from_array(np.array(0, np.int8), "qconv/int8_zero")])
    drop_unused_initializers(graph)  # the replaced weights; shared ones a second pass added again
    return sum(1 for q in convs if id(q.scale_mul) in replaced)


def calibrate(source: Path, renders: Iterable[dict[str, np.ndarray]], threads: int = 2) -> dict[str, float]:
    """Peak |float output| of each ``QLINEAR_SCOPE`` convolution of ``source`` over ``renders``
    (the engine's input feeds, ``KokoroEngine.feeds``): the table ``to_qlinear`` reads."""
    import onnx  # deferred: as above
    import onnxruntime as ort  # deferred: as above
    from onnx import TensorProto, helper

    model = onnx.load(str(source))
    outputs = {q.conv.name: q.output for q in find_convs(model.graph, QLINEAR_SCOPE)}
    model.graph.output.extend(helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs.values())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    peaks = dict.fromkeys(outputs, 0.0)
    for feeds in renders:
        for name, value in zip(outputs, session.run(list(outputs.values()), feeds), strict=True):
            peaks[name] = max(peaks[name], float(np.abs(value).max()))
    return peaks
