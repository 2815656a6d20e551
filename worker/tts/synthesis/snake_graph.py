"""A copy of the Kokoro graph whose Snake activations use no ``Sin``.

Kokoro's vocoder applies Snake, ``x + sin²(αx) / α`` (α one number per channel), 48 times,
to every channel at up to 4.8 kHz: about 20 million sines per second of audio. onnxruntime
computes ``Sin`` on one thread, element by element (1.4 ns each here), so with ``Pow`` after it
the activation took ~19 % of the engine's time while the int8 convolutions, the real work, run
on every core. Here ``sin²`` becomes elementwise arithmetic, which onnxruntime runs vectorised
on all threads:

- the period is reduced exactly: with ``t = αx / π`` (π folded into α), ``f = t − round(t)`` lies
  in ``[−½, ½]`` and ``sin²(πt) = sin²(πf)``;
- ``sin²(πf) = v · p(v)`` with ``v = f²`` and ``p`` a cubic fitted once, by least squares, to
  ``sin²(π√v) / v`` over ``[0, ¼]``; the largest error is 1.5 · 10⁻⁴, below the 8-bit
  quantization the next convolution applies to the activation anyway;
- the Snake's ``1/α`` (a per-channel constant) is multiplied into the coefficients, so the
  polynomial gives ``sin²(αx) / α`` directly: each pass over the activation costs about as much
  as the arithmetic in it, and this saves one of the thirteen.

Only the pattern ``Mul(α, x) → Sin → Pow(·, 2)`` is rewritten, and only where α is a constant
used by nothing else; the harmonic source's sine and the inverse STFT keep ``Sin`` (they need
it exactly, and are a small part). Built once, like the edge graph, into the model cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from worker.tts.synthesis.cached_graph import GraphIndex, build_once, drop_unused_initializers, splice

DEGREE = 3  # of p; a quartic came no closer to the original audio and costs two passes more


def snake_model_path(cache: Path, source: Path, stem: str) -> Path:
    """The Sin-free copy of ``source`` in the model cache, built the first time; ``stem`` names
    the source graph (its checksum and earlier rewrites), so a new model never meets an old copy."""
    return build_once(Path(cache) / f"{stem}-snake{DEGREE}f.onnx", lambda out: build_snake_graph(source, out))


def build_snake_graph(source: Path, out_path: Path) -> None:
    import onnx  # deferred: onnx is needed only to build the graph, once per model cache

    model = onnx.load(str(source))
    rewrite_snakes(model.graph)
    onnx.save(model, str(out_path))


def sin2_coefficients(degree: int = DEGREE) -> np.ndarray:
    """``c`` with ``Σ cᵢ vⁱ ≈ sin²(π√v) / v`` on ``0 < v ≤ ¼``, lowest power first."""
    v = np.linspace(0.0, 0.25, 20_001)[1:]
    target = np.sin(np.pi * np.sqrt(v)) ** 2 / v
    return np.linalg.lstsq(np.vander(v, degree + 1, increasing=True), target, rcond=None)[0]


def rewrite_snakes(graph: Any) -> int:
    """Rewrite every Snake of ``graph`` (an ``onnx.GraphProto``) in place; how many it rewrote."""
    from onnx import helper, numpy_helper  # deferred: as above

    index = GraphIndex(graph)
    initializers = index.initializers
    replaced: dict[int, list[Any]] = {}
    for sin in [n for n in graph.node if n.op_type == "Sin"]:
        alpha = _alpha(index.producers.get(sin.input[0]), index)
        squares = index.readers(sin.output[0])
        if alpha is None or len(squares) != 1 or not _is_square(squares[0], index):
            continue
        square = squares[0]
        alpha.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(alpha) / np.float32(np.pi), alpha.name))
        inverse = _inverse(square, index)  # the Snake's 1/α, folded into the coefficients
        coefficients = sin2_coefficients().reshape(-1, 1, 1, 1)
        if inverse is not None:
            one_over_alpha = next(i for i in inverse.input if i in initializers)
            coefficients = coefficients * numpy_helper.to_array(initializers[one_over_alpha])
            replaced[id(inverse)] = []
        names = [f"{sin.name or sin.output[0]}/c{i}" for i in range(DEGREE + 1)]
        graph.initializer.extend(numpy_helper.from_array(c.astype(np.float32), n) for c, n in zip(coefficients, names))
        out = (inverse or square).output[0]
        replaced[id(sin)] = _sin2(helper, sin.input[0], out, sin.name or sin.output[0], names)
        replaced[id(square)] = []
    splice(graph, replaced)  # each replacement sits where its Sin was
    drop_unused_initializers(graph)  # the 1/α tensors now in the coefficients
    return sum(1 for new in replaced.values() if new)


def _inverse(square: Any, index: GraphIndex) -> Any | None:
    """The ``Mul(1/α, ·)`` that scales a Snake's ``sin²`` when it is its only reader and 1/α is a
    per-channel constant: the rewrite multiplies it into the polynomial's coefficients, one
    pass over the activation less (each is about as costly as the arithmetic of the whole)."""
    uses = index.readers(square.output[0])
    if len(uses) != 1 or uses[0].op_type != "Mul":
        return None
    constants = [i for i in uses[0].input if i in index.initializers]
    return uses[0] if len(constants) == 1 and len(index.initializers[constants[0]].dims) == 3 else None


def _alpha(scale: Any, index: GraphIndex) -> Any:
    """The α initializer of a Snake's ``Mul(α, x)``, when the product feeds only the Sin and
    nothing else reads α (it is rescaled in place); otherwise None."""
    if scale is None or scale.op_type != "Mul" or len(index.readers(scale.output[0])) != 1:
        return None
    constants = [index.initializers[i] for i in scale.input if i in index.initializers]
    return constants[0] if len(constants) == 1 and len(index.readers(constants[0].name)) == 1 else None


def _is_square(node: Any, index: GraphIndex) -> bool:
    if node.op_type != "Pow" or node.input[1] not in index.constants:
        return False
    exponent = index.constants[node.input[1]]
    return exponent.size == 1 and float(exponent) == 2.0


def _sin2(helper: Any, t: str, out: str, name: str, coefficients: list[str]) -> list[Any]:
    """Nodes computing ``out = Σ cᵢ vⁱ⁺¹ ≈ c · sin²(π·t)``: period reduction, then Horner's rule in
    ``v = f²`` with the ``coefficients`` (lowest power first; per channel when 1/α is folded in)."""
    f, v = f"{name}/f", f"{name}/v"
    nodes = [helper.make_node("Round", [t], [f"{name}/k"]),
             helper.make_node("Sub", [t, f"{name}/k"], [f]),
             helper.make_node("Mul", [f, f], [v])]
    acc = coefficients[DEGREE]
    for i in range(DEGREE - 1, -1, -1):
        nodes += [helper.make_node("Mul", [acc, v], [f"{name}/m{i}"]),
                  helper.make_node("Add", [f"{name}/m{i}", coefficients[i]], [f"{name}/p{i}"])]
        acc = f"{name}/p{i}"
    nodes.append(helper.make_node("Mul", [acc, v], [out]))
    return nodes
