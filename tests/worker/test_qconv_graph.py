"""The int8 convolutions without ConvInteger: the matrix product is exact, QLinearConv within
its 8-bit output step, and the real engine renders through both and sounds the same."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from shared.settings import Settings
from tests.helpers import assert_engines_sound_the_same
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import KokoroEngine, kokoro_engine, rewritten_graph
from worker.tts.synthesis.qconv_graph import (
    MARGIN,
    SCALES,
    find_convs,
    int8_products_exact,
    to_matmul,
    to_qlinear,
)

SENTENCES = ("今天我们来聊一聊如何在家里做一杯好喝的咖啡。", "Our meeting moved to Thursday at half past three.")
NOISE_CONV = "/decoder/generator/noise_res.0/convs1.0/Conv_quant"


def quantized_conv_model(channels: tuple[int, int], taps: int, dilation: int = 1, bias: bool = True,
                         group: int = 1, name: str = NOISE_CONV) -> onnx.ModelProto:
    """One convolution as onnxruntime's dynamic quantizer writes it into Kokoro's graph: uint8
    weights with a zero point, the bias quantized at run time at the input scale · weight scale."""
    rng = np.random.default_rng(taps * 10 + dilation)
    out_ch, in_ch = channels
    pad = dilation * (taps - 1) // 2
    attrs = {"dilations": [dilation], "group": group, "kernel_shape": [taps], "pads": [pad, pad], "strides": [1]}
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("ConvInteger", ["xq", "w", "xz", "wz"], ["sum"], name=name, **attrs),
             helper.make_node("Mul", ["xs", "w_scale"], ["scale"])]
    last = "sum"
    if bias:
        nodes += [helper.make_node("Div", ["b", "scale"], ["b_div"]), helper.make_node("Floor", ["b_div"], ["b_floor"]),
                  helper.make_node("Cast", ["b_floor"], ["b_int"], to=TensorProto.INT32),
                  helper.make_node("Reshape", ["b_int", "shape"], ["b_3d"]),
                  helper.make_node("Add", ["sum", "b_3d"], ["biased"])]
        last = "biased"
    nodes += [helper.make_node("Cast", [last], ["sum_f"], to=TensorProto.FLOAT),
              helper.make_node("Mul", ["sum_f", "scale"], ["y"])]
    initializers = [
        numpy_helper.from_array(rng.integers(0, 256, (out_ch, in_ch // group, taps)).astype(np.uint8), "w"),
        numpy_helper.from_array(np.array(128, np.uint8), "wz"),
        numpy_helper.from_array(np.array(0.004, np.float32), "w_scale"),
        numpy_helper.from_array(rng.normal(0, 0.5, out_ch).astype(np.float32), "b"),
        numpy_helper.from_array(np.array([1, -1, 1], np.int64), "shape")]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_ch, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def signal(channels: int, frames: int = 700) -> np.ndarray:
    return np.random.default_rng(channels).normal(0, 1, (1, channels, frames)).astype(np.float32)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize(("taps", "dilation", "bias"), [(7, 3, True), (11, 1, True), (3, 5, False), (1, 1, True)])
def test_the_matrix_product_computes_the_convolution(taps: int, dilation: int, bias: bool, signed: bool) -> None:
    """Unfolded taps, zero-point padding, the bias and the layout back: the same sums as
    ConvInteger, so the same output up to float rounding (the bias is scaled before the sum).
    uint8 × int8 where this CPU's kernel is exact; where the probe finds it saturating (no VNNI),
    this random layer shows why, and the uint8 × uint8 product the engine takes there is exact."""
    model = quantized_conv_model((24, 16), taps, dilation, bias)
    x = signal(16)
    expected = run(model, x)
    assert to_matmul(model.graph, signed) == 1
    ops = [n.op_type for n in model.graph.node]
    assert "ConvInteger" not in ops and "MatMulIntegerToFloat" in ops
    assert {i.name for i in model.graph.initializer}.isdisjoint({"w", "wz"})  # the uint8 weights are gone
    got = run(model, x)
    assert got.shape == expected.shape
    tolerance = {"rtol": 1e-5, "atol": 1e-4 * np.abs(expected).max()}
    if signed and not int8_products_exact():
        assert not np.allclose(got, expected, **tolerance)  # clipped pairs of products
        return
    np.testing.assert_allclose(got, expected, **tolerance)


@pytest.mark.parametrize("shift", ["positive", "negative", "silent"])
def test_the_product_quantizes_as_dynamic_quantize_linear_would(shift: str) -> None:
    """The unread DynamicQuantizeLinear becomes its scale and zero-point arithmetic: inputs whose
    range does not straddle zero (widened to include it, as the kernel does) and an all-zero input
    (scale 1) give the same output as ConvInteger fed by the kernel itself."""
    model = quantized_conv_model((24, 16), 7, 3)
    x = {"positive": np.abs(signal(16)) + 0.5, "negative": -np.abs(signal(16)) - 0.5,
         "silent": np.zeros((1, 16, 700), np.float32)}[shift]
    expected = run(model, x)
    assert to_matmul(model.graph, int8_products_exact()) == 1  # the product this CPU's engine takes
    assert "DynamicQuantizeLinear" not in [n.op_type for n in model.graph.node]
    np.testing.assert_allclose(run(model, x), expected, rtol=1e-5, atol=1e-4 * np.abs(expected).max())


def test_a_grouped_convolution_keeps_conv_integer() -> None:
    model = quantized_conv_model((16, 16), 3, group=4)
    assert to_matmul(model.graph) == 0
    assert [n.op_type for n in model.graph.node].count("ConvInteger") == 1


def test_qlinear_conv_rounds_to_its_calibrated_step_and_clips_at_the_margin() -> None:
    """Within half an output step where the peak is under the calibrated one × MARGIN, clipped
    there above it; only the noise branch's convolutions, and only those with a scale, convert."""
    model = quantized_conv_model((24, 16), 7, 1)
    x = signal(16)
    expected = run(model, x)
    peak = float(np.abs(expected).max())
    assert to_qlinear(model.graph, {"elsewhere": 1.0}) == 0
    signed = int8_products_exact()  # uint8 weights where this CPU's uint8 × int8 kernel saturates
    assert to_qlinear(model.graph, {NOISE_CONV: peak / MARGIN / 2}, signed) == 1  # half the range this input needs
    got = run(model, x)
    limit = peak / 2
    step = limit / 127
    inside = np.abs(expected) < limit - step
    assert np.abs(got - expected)[inside].max() <= step / 2 + 1e-4 * peak
    assert np.all(np.abs(got) <= limit + step) and np.abs(got).max() >= limit - step


def test_convolutions_outside_the_noise_branch_are_not_offered_to_qlinear_conv() -> None:
    model = quantized_conv_model((24, 16), 7, name="/decoder/generator/resblocks.0/convs1.0/Conv_quant")
    assert len(find_convs(model.graph)) == 1
    assert to_qlinear(model.graph, {"/decoder/generator/resblocks.0/convs1.0/Conv_quant": 1.0}) == 0


@pytest.mark.slow
def test_the_engine_converts_its_convolutions_and_sounds_the_same() -> None:
    """The shipped model's scale table applies; every stride-1 convolution is converted, the noise
    branch's 12 to QLinearConv, and the AdaINs are one kernel each; against the Snake graph it is built
    from, the same length to the sample and spectra within 2 dB where there is sound (the held-out comparison is bench/engine_graphs.py)."""
    settings = Settings(synth_threads=2)
    engine = kokoro_engine(settings)
    assert json.loads(SCALES.read_text())["model_sha256"] == assets.kokoro_model_sha256()
    assert engine.version.endswith("-edges-snake-in-mm-q12")  # on every CPU: the same integers (int8_products_exact)
    ops = [n.op_type for n in onnx.load(str(engine.model_path)).graph.node]
    assert ops.count("QLinearConv") == 12 and ops.count("MatMulIntegerToFloat") == 72
    assert ops.count("ConvInteger") == 3  # the strided ones (F0, energy, noise input), a small part
    # every AdaIN but one, whose statistics the exporter's transpose optimizer reshaped (the prosody
    # predictor's first F0 block, at 80 frames a second): norm_graph leaves what it does not know
    assert ops.count("InstanceNormalization") == 68 and ops.count("ReduceMean") == 2
    source, stem = rewritten_graph(settings, "int8")
    unconverted = KokoroEngine(source, engine.vocab, version=stem, threads=2)
    style = assets.load_voice_pack(settings.model_cache, "zm_yunyang")  # not a calibration voice
    assert_engines_sound_the_same(engine, unconverted, style, SENTENCES)
