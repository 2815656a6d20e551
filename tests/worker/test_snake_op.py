"""The Snake as one operator: the same numbers as the arithmetic it replaces, to the bit, in a
toy graph and in the real engine; anything not in the Snake rewrite's exact shape is left alone."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from shared.settings import Settings
from tests.worker.test_snake_graph import SENTENCES, snake_model
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import kokoro_engine, rewritten_graph
from worker.tts.synthesis.norm_graph import norm_model_path
from worker.tts.synthesis.qconv_graph import qconv_model_path
from worker.tts.synthesis.snake_graph import rewrite_snakes
from worker.tts.synthesis.snake_op import DOMAIN, fuse_snakes, register
from worker.tts.text.frontend import Frontend

ALPHA = np.array([-0.026, 0.2, 0.85, 2.3], np.float32)  # negative and near-zero α, as Kokoro has


def arithmetic_model() -> onnx.ModelProto:
    """A Snake (and a plain Sin) as the Sin-free rewrite leaves them: twelve elementwise nodes."""
    model = snake_model(ALPHA)
    assert rewrite_snakes(model.graph) == 1
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    options = ort.SessionOptions()
    register(options)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def fused(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    model = copy.deepcopy(model)
    count = fuse_snakes(model.graph)
    model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return model, count


def test_the_fused_snake_gives_the_arithmetic_s_numbers_to_the_bit() -> None:
    """Over the range the vocoder's activations take, and where ``αx/π`` lands on a rounding tie
    (half-integers: ``Round`` goes to even), one node replaces the twelve with the same output."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-60, 60, (1, 4, 20_001)).astype(np.float32)
    x[0, 1, :100] = (np.arange(100) - 50.5) * np.pi / ALPHA[1]  # ties, up to float rounding
    x[0, 2, :4] = [0.0, -0.0, 1e30, -1e-30]
    model = arithmetic_model()
    one, count = fused(model)
    assert count == 1
    ops = [n.op_type for n in one.graph.node]
    assert ops == ["Snake", "Sin"]  # the plain Sin is no Snake's
    assert {i.name for i in one.graph.initializer} == {i for n in one.graph.node for i in n.input} - {"x"}
    expected, got = run(model, x), run(one, x)
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])


@pytest.mark.parametrize("inner", ["s/f", "s/v", "s/p1"])
def test_a_chain_something_else_reads_is_left_alone(inner: str) -> None:
    """A tensor inside the chain that another node (here the graph's output) reads keeps the
    arithmetic: the fused node would not make it."""
    model = arithmetic_model()
    assert inner in {o for n in model.graph.node for o in n.output}
    model.graph.node.append(helper.make_node("Identity", [inner], ["leaked"]))
    model.graph.output.append(helper.make_tensor_value_info("leaked", onnx.TensorProto.FLOAT, None))
    one, count = fused(model)
    assert count == 0 and "Snake" not in {n.op_type for n in one.graph.node}


def test_a_chain_tensor_the_graph_returns_is_left_alone() -> None:
    model = arithmetic_model()
    model.graph.output.append(helper.make_tensor_value_info("s/v", onnx.TensorProto.FLOAT, None))
    assert fused(model)[1] == 0


def test_a_constant_that_is_not_per_channel_is_left_alone() -> None:
    model = arithmetic_model()
    alpha = next(i for i in model.graph.initializer if i.name == "alpha")
    alpha.CopyFrom(onnx.numpy_helper.from_array(np.float32(0.5), "alpha"))
    assert fused(model)[1] == 0


@pytest.mark.slow
def test_the_engine_runs_every_snake_as_one_operator_with_the_same_audio() -> None:
    """All 48 of the vocoder's Snakes are fused, and the engine renders exactly the samples of the
    graph it is built from (the converted-convolution graph, with its twelve-operator Snakes): so
    both keep one version, and with the operator turned off the engine runs that graph."""
    settings = Settings(synth_threads=2)
    engine, plain = kokoro_engine(settings), kokoro_engine(settings.with_(snake_operator=False))
    assert "-mm-q12" in engine.model_path.name and engine.model_path.name.endswith("-fs.onnx")
    assert engine.version == plain.version
    path, stem = rewritten_graph(settings, "int8")
    path, stem = norm_model_path(settings.model_cache, path, stem), f"{stem}-in"
    source, _ = qconv_model_path(settings.model_cache, path, stem, assets.kokoro_model_sha256())
    assert plain.model_path == source
    before, after = ([n.op_type for n in onnx.load(str(p)).graph.node] for p in (source, engine.model_path))
    assert after.count("Snake") == 48 and before.count("Round") - after.count("Round") == 48
    style = assets.load_voice_pack(settings.model_cache, "zm_yunyang")
    frontend = Frontend()
    for text in SENTENCES:
        (sentence,) = frontend.analyze(text).sentences
        a, b = engine.synthesize(sentence.phonemes, style), plain.synthesize(sentence.phonemes, style)
        assert np.array_equal(a, b), text
