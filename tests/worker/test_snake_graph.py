"""The Sin-free Snake rewrite: exact enough on its own, and the real engine still sounds the same."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from shared.settings import Settings
from tests.helpers import assert_engines_sound_the_same
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import KokoroEngine, kokoro_engine, rewritten_graph
from worker.tts.synthesis.snake_graph import rewrite_snakes

SENTENCES = ("今天我们来聊一聊如何在家里做一杯好喝的咖啡。", "Our meeting moved to Thursday at half past three.")


def snake_model(alpha: np.ndarray) -> onnx.ModelProto:
    """``x + sin²(αx) / α`` as Kokoro's export writes it, plus a Sin that is not a Snake's."""
    shape = [1, alpha.size, None]
    nodes = [helper.make_node("Mul", ["alpha", "x"], ["ax"]), helper.make_node("Sin", ["ax"], ["s"]),
             helper.make_node("Pow", ["s", "two"], ["s2"]), helper.make_node("Mul", ["inv", "s2"], ["scaled"]),
             helper.make_node("Add", ["x", "scaled"], ["y"]), helper.make_node("Sin", ["x"], ["plain"])]
    graph = helper.make_graph(
        nodes, "snake", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("y", "plain")],
        [numpy_helper.from_array(alpha.reshape(1, -1, 1), "alpha"),
         numpy_helper.from_array((1 / alpha).reshape(1, -1, 1), "inv"),
         numpy_helper.from_array(np.array(2.0, np.float32), "two")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def test_rewritten_snake_computes_the_activation_without_sin() -> None:
    """Over the whole range the vocoder's activations take, α negative and near zero included
    (Kokoro has both), the rewrite is within 2·10⁻⁴/|α| of the exact activation."""
    alpha = np.array([-0.026, 0.2, 0.85, 2.3], np.float32)
    x = np.random.default_rng(0).uniform(-60, 60, (1, 4, 20_000)).astype(np.float32)
    model = snake_model(alpha)
    assert rewrite_snakes(model.graph) == 1
    assert [n.op_type for n in model.graph.node].count("Sin") == 1  # the plain Sin is left alone
    assert "Pow" not in {n.op_type for n in model.graph.node}
    assert not any("inv" in n.input for n in model.graph.node)  # 1/α is in the coefficients: one pass less
    assert "inv" not in {i.name for i in model.graph.initializer}
    y, plain = run(model, x)
    a, x64 = alpha.reshape(1, -1, 1).astype(np.float64), x.astype(np.float64)
    exact = x64 + np.sin(a * x64) ** 2 / a
    assert np.all(np.abs(y - exact) <= 2e-4 / np.abs(a) + 1e-4 * np.abs(exact))
    np.testing.assert_allclose(plain, np.sin(x), atol=1e-6)


def test_a_snake_whose_alpha_is_shared_is_left_alone() -> None:
    """α is rescaled in place, so a graph where something else reads it keeps its Sin."""
    model = snake_model(np.array([0.5, 1.0], np.float32))
    model.graph.node.append(helper.make_node("Identity", ["alpha"], ["alpha_copy"]))
    assert rewrite_snakes(model.graph) == 0
    assert [n.op_type for n in model.graph.node].count("Sin") == 2


@pytest.mark.slow
def test_the_engine_renders_every_snake_without_sin_and_sounds_the_same() -> None:
    """Against the graph it is built from (onnxruntime's Sin): the same length to the sample and
    spectra within 2 dB where there is sound (measured 1.1 dB; nudging the style by 10⁻⁵ alone
    moves them 1.4 dB, which is how close int8 kernels let two graphs come). The arithmetic
    itself is pinned above: this checks that the engine runs the rewrite, on every Snake."""
    settings = Settings(synth_threads=2)
    snake, stem = rewritten_graph(settings, "int8")
    engine = KokoroEngine(snake, assets.kokoro_vocab(), version=stem, threads=2)
    source = snake.with_name(snake.name.replace("-snake3f", "-pitch"))  # built beside it
    sines = [sum(n.op_type == "Sin" for n in onnx.load(str(p)).graph.node) for p in (source, snake)]
    assert sines == [51, 3]  # the vocoder's 48 Snakes; the harmonic source and the inverse STFT keep theirs
    assert sum(n.op_type == "Sin" for n in onnx.load(str(kokoro_engine(settings).model_path)).graph.node) == 3
    with_sin = KokoroEngine(source, engine.vocab, version="edges", threads=2)
    style = assets.load_voice_pack(Settings.from_env().model_cache, "zf_xiaoxiao")
    assert_engines_sound_the_same(engine, with_sin, style, SENTENCES)
