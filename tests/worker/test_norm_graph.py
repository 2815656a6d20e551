"""The one-kernel AdaIN rewrite: the same numbers as the exported arithmetic, and only where the
pattern is exact; the engine's own graph is checked in test_qconv_graph (it runs on this one)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from worker.tts.synthesis.norm_graph import rewrite_instance_norms

CHANNELS = 6


def adain_model(styles: int, fixed_affine: bool = False) -> onnx.ModelProto:
    """Kokoro's exported AdaIN: the normalization written out, shared by ``styles`` affines whose
    scale ``1 + γ`` and shift ``β`` come from a style input (as three residual blocks share one)."""
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=1),
             helper.make_node("Sub", ["x", "mean"], ["d"]),
             helper.make_node("Mul", ["d", "d"], ["sq"]),
             helper.make_node("ReduceMean", ["sq", "axes"], ["var"], keepdims=1),
             helper.make_node("Add", ["var", "eps"], ["var_eps"]),
             helper.make_node("Sqrt", ["var_eps"], ["std"]),
             helper.make_node("Div", ["d", "std"], ["n"])]
    outputs = []
    for i in range(styles):
        scale = "fixed" if fixed_affine else f"g{i}"
        if not fixed_affine:
            nodes += [helper.make_node("Slice", ["style", f"from{i}", f"to{i}", "one"], [f"gamma{i}"]),
                      helper.make_node("Add", [f"gamma{i}", "unit"], [f"g_flat{i}"]),
                      helper.make_node("Reshape", [f"g_flat{i}", "column"], [f"g{i}"]),
                      helper.make_node("Slice", ["style", f"to{i}", f"end{i}", "one"], [f"beta{i}"]),
                      helper.make_node("Reshape", [f"beta{i}", "column"], [f"b{i}"])]
        nodes += [helper.make_node("Mul", [scale, "n"], [f"scaled{i}"]),
                  helper.make_node("Add", [f"scaled{i}", "fixed" if fixed_affine else f"b{i}"], [f"y{i}"])]
        outputs.append(f"y{i}")
    constants = [numpy_helper.from_array(np.array([2], np.int64), "axes"),
                 numpy_helper.from_array(np.array(1e-5, np.float32), "eps"),
                 numpy_helper.from_array(np.array(1.0, np.float32), "unit"),
                 numpy_helper.from_array(np.array([1], np.int64), "one"),
                 numpy_helper.from_array(np.array([1, CHANNELS, 1], np.int64), "column"),
                 numpy_helper.from_array(np.full((1, CHANNELS, 1), 0.7, np.float32), "fixed")]
    for i in range(styles):
        constants += [numpy_helper.from_array(np.array([2 * i * CHANNELS], np.int64), f"from{i}"),
                      numpy_helper.from_array(np.array([(2 * i + 1) * CHANNELS], np.int64), f"to{i}"),
                      numpy_helper.from_array(np.array([(2 * i + 2) * CHANNELS], np.int64), f"end{i}")]
    graph = helper.make_graph(
        nodes, "adain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, None]),
         helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, 2 * CHANNELS * styles])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1, CHANNELS, None]) for o in outputs], constants)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])  # axes as an input, as exported


def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def test_a_shared_normalization_becomes_one_instance_norm_per_style_with_the_same_output() -> None:
    """Channels far from zero mean and of very different loudness, as the vocoder's are: the
    one-kernel norm agrees with the written-out arithmetic to float rounding."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((1, CHANNELS, 4_000)) * np.logspace(-3, 2, CHANNELS).reshape(1, -1, 1)
         + rng.uniform(-5, 5, (1, CHANNELS, 1))).astype(np.float32)
    feeds = {"x": x, "style": rng.standard_normal((1, 2 * CHANNELS * 3)).astype(np.float32)}
    model = adain_model(styles=3)
    expected = run(model, feeds)
    assert rewrite_instance_norms(model.graph) == 3
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("InstanceNormalization") == 3
    assert not {"ReduceMean", "Sqrt", "Div"} & set(ops)
    for got, want in zip(run(model, feeds), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))


def test_a_norm_with_a_fixed_affine_is_left_alone() -> None:
    """A constant scale is not the style's: another pattern, which the rewrite does not guess at."""
    model = adain_model(styles=1, fixed_affine=True)
    assert rewrite_instance_norms(model.graph) == 0
    assert [n.op_type for n in model.graph.node].count("ReduceMean") == 2


def test_statistics_over_another_axis_are_left_alone() -> None:
    model = adain_model(styles=2)
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.array([1], np.int64), "axes"))
    assert rewrite_instance_norms(model.graph) == 0
