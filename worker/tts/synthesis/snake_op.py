"""The vocoder's Snake activation as one operator: a copy of the int8 graph in which each Snake
is a single node, computed by a compiled loop instead of twelve passes of onnxruntime arithmetic.

After the Snake rewrite (worker.tts.synthesis.snake_graph) each activation is ``Mul(α, x)``,
``Round``, ``Sub``, a square, a cubic by Horner's rule and ``Add(x, ·)``: twelve elementwise
operators, each one a pass over up to 512 channels × 24 000 frames. Those passes are bound by
memory, not arithmetic (a ``Mul`` over 3 million floats costs what a copy does), and together
they were the largest share of the engine's time (37 % on an Intel host). Here the twelve
become one ``Snake`` node that reads the activation once and writes it once, doing the same
float32 operations in the same order per element, so the result is the same to the bit.

The node is an onnxruntime custom operator. Its kernel is a numba-compiled loop (numba, which
librosa needs too), run through onnxruntime-extensions' Python-operator bridge, since no C
compiler or onnxruntime header can be counted on at set-up: the bridge copies the input into a
numpy array, calls Python, and copies the returned array into the output. The bridge's own
Python side turns every result into a Python list first (70 ns per element: 215 ms for a
128 × 24 000 activation, against 1.3-1.8 ms this way), so this module declares the operator
on the bridge's native module directly and hands results back as arrays (one ``memcpy``). The
native module is loaded from its file rather than through its package, whose ``__init__``
imports torch and transformers (2.3 s) for converters the engine never uses, and which would
put its own result hook back (nothing in narrator imports it).

Only the int8 graph on the CPU takes this copy: the float graph serves CUDA, where a Python
operator would pull every activation back to the host.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from worker.tts.synthesis.cached_graph import GraphIndex, build_once, drop_unused_initializers, splice
from worker.tts.synthesis.snake_graph import DEGREE

DOMAIN = "ai.onnx.contrib"  # the bridge registers Python operators under this domain
OP_TYPE = "Snake"
BRIDGE = "onnxruntime_extensions._extensions_pydll"


def fused_model_path(cache_dir: Path, source: Path, stem: str) -> Path:
    """The copy of ``source`` with one ``Snake`` node per activation, built the first time;
    ``stem`` names the source graph, so a new model never meets an old copy."""
    return build_once(Path(cache_dir) / f"{stem}-fs.onnx", lambda out: build_fused_graph(source, out))


def build_fused_graph(source: Path, out_path: Path) -> None:
    import onnx  # deferred: onnx is needed only to build the graph, once per model cache

    model = onnx.load(str(source))
    if fuse_snakes(model.graph):
        model.opset_import.append(onnx.helper.make_opsetid(DOMAIN, 1))
    onnx.save(model, str(out_path))


def fuse_snakes(graph: Any) -> int:
    """Replace each Sin-free Snake of ``graph`` (an ``onnx.GraphProto``) by one ``Snake`` node, in
    place; how many it replaced. A chain that differs anywhere from the Snake rewrite's shape
    (a tensor read elsewhere, a constant that is not per channel) is left as it is."""
    from onnx import helper, numpy_helper  # deferred: as above

    index = _SnakeIndex(graph)
    replaced: dict[int, list[Any]] = {}
    for node in graph.node:
        if node.op_type != "Round":
            continue
        snake = index.snake(node)
        if snake is None:
            continue
        nodes, x, alpha, coefficients, out = snake
        name = f"{out}/snake"
        graph.initializer.extend([numpy_helper.from_array(alpha.reshape(-1), f"{name}/alpha"),
                                  numpy_helper.from_array(np.stack([c.reshape(-1) for c in coefficients]),
                                                          f"{name}/coefficients")])
        fused = helper.make_node(OP_TYPE, [x, f"{name}/alpha", f"{name}/coefficients"], [out], name=name,
                                 domain=DOMAIN)
        for old in nodes:
            replaced[id(old)] = []
        replaced[id(nodes[-1])] = [fused]  # where the chain's last node was: its inputs are all made by then
    splice(graph, replaced)
    drop_unused_initializers(graph)
    return sum(1 for new in replaced.values() if new)


class _SnakeIndex(GraphIndex):
    """The graph's index, with the Sin-free Snake's shape to match against it."""

    def snake(self, rounding: Any) -> tuple[list[Any], str, np.ndarray, list[np.ndarray], str] | None:
        """The Snake whose period reduction is ``rounding``: its nodes (in order), its input, α,
        its coefficients (lowest power first) and its output; None unless it has exactly the
        shape ``snake_graph`` writes: ``t = α·x``, ``f = t − round(t)``, ``v = f·f``, Horner's
        rule in ``v`` with per-channel constants, then ``x + p·v``."""
        t = rounding.input[0]
        scale = self.producers.get(t)
        split = self._pair(scale, "Mul")
        if split is None:
            return None
        alpha, x = split
        sub = self.only_reader(rounding.output[0], "Sub")
        if sub is None or list(sub.input) != [t, rounding.output[0]] or self._reader_ids(t) != {id(rounding), id(sub)} or t in self.outputs:
            return None
        square = self.only_reader(sub.output[0], "Mul")
        if square is None or list(square.input) != [sub.output[0]] * 2:
            return None
        v = square.output[0]
        nodes, coefficients = [scale, rounding, sub, square], []
        step = self.only_reader(v, "Mul", among=[n for n in self.readers(v) if self._pair(n, "Mul")])
        if step is None:
            return None
        coefficients.append(self._pair(step, "Mul")[0])
        nodes.append(step)
        for _ in range(DEGREE):
            add = self.only_reader(step.output[0], "Add")
            pair = self._pair(add, "Add")
            step = self.only_reader(add.output[0], "Mul") if pair else None
            if step is None or sorted(step.input) != sorted([add.output[0], v]):
                return None
            coefficients.append(pair[0])
            nodes += [add, step]
        total = self.only_reader(step.output[0], "Add")
        if total is None or sorted(total.input) != sorted([x, step.output[0]]):
            return None
        if len(self.readers(v)) != DEGREE + 1:
            return None  # v read by something outside the chain
        nodes.append(total)
        channels = alpha.size
        if any(c.size != channels for c in coefficients):
            return None
        return nodes, x, alpha.astype(np.float32), coefficients[::-1], total.output[0]

    def _pair(self, node: Any, op_type: str) -> tuple[np.ndarray, str] | None:
        """(constant, runtime input) of a binary ``op_type`` node with a per-channel constant
        [1, C, 1] on one side; None otherwise."""
        if node is None or node.op_type != op_type or len(node.input) != 2:
            return None
        constant = [self.constants[i] for i in node.input if i in self.constants]
        runtime = [i for i in node.input if i not in self.constants]
        if len(constant) != 1 or len(runtime) != 1 or constant[0].ndim != 3 or constant[0].shape[::2] != (1, 1):
            return None
        return constant[0], runtime[0]

    def _reader_ids(self, tensor: str) -> set[int]:
        return {id(n) for n in self.readers(tensor)}


@cache
def snake_kernel() -> Any:
    """The compiled loop, numba-compiled once per process (and cached on disk by numba).

    Per element the same float32 operations as the twelve operators, in the same order and
    without fused multiply-adds, so the output equals theirs to the bit; the loop holds no GIL,
    so other threads of the process go on while it runs."""
    import numba  # deferred: numba loads with the engine, not with every import of this module

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def snake(x: np.ndarray, alpha: np.ndarray, coefficients: np.ndarray) -> None:  # pragma: no cover - compiled
        batch, channels, frames = x.shape
        for b in range(batch):
            for c in range(channels):
                a, c0, c1, c2, c3 = alpha[c], coefficients[0, c], coefficients[1, c], coefficients[2, c], coefficients[3, c]
                row = x[b, c]
                for i in range(frames):
                    value = row[i]
                    t = a * value
                    f = t - np.rint(t)
                    v = f * f
                    row[i] = value + (((c3 * v + c2) * v + c1) * v + c0) * v

    return snake


def snake(x: np.ndarray, alpha: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """The ``Snake`` operator's body: ``x`` in place (the bridge hands over a fresh copy of the
    input and copies the result out, so writing over it saves allocating a third buffer)."""
    if x.ndim != 3 or alpha.shape != (x.shape[1],) or coefficients.shape != (DEGREE + 1, x.shape[1]):
        raise ValueError(f"Snake: input {x.shape}, alpha {alpha.shape}, coefficients {coefficients.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    snake_kernel()(x, alpha, coefficients)
    return x


def register(options: Any) -> None:
    """Make the ``Snake`` operator known to a session built with ``options``
    (``onnxruntime.SessionOptions``)."""
    options.register_custom_ops_library(_bridge().library)


@dataclass(frozen=True)
class _Bridge:
    """The bridge's native module with ``Snake`` declared on it. The declaration is held here
    because the bridge keeps only a pointer to it."""

    library: str
    declaration: Any
    invoke: Callable[[int, list[np.ndarray], dict[str, Any]], tuple[Any, ...]]


@cache
def _bridge() -> _Bridge:
    """Declared once per process: the bridge keeps its operators and its result hook
    process-wide, and a second declaration of the same operator would be refused."""
    module = sys.modules.get(BRIDGE) or _load_native(BRIDGE)
    declaration = module.PyCustomOpDef()
    declaration.op_type = OP_TYPE
    declaration.obj_id = id(snake)
    declaration.input_types = [module.PyCustomOpDef.dt_float] * 3
    declaration.output_types = [module.PyCustomOpDef.dt_float]
    declaration.attrs = {}
    module.add_custom_op(declaration)
    bodies = {id(snake): snake}

    def invoke(op_id: int, feed: list[np.ndarray], attributes: dict[str, Any]) -> tuple[Any, ...]:
        result = bodies[op_id](*feed)
        return (op_id, result.shape, result)  # an array, copied out by one memcpy; not a list

    module.PyCustomOpDef.install_hooker(invoke)
    snake_kernel()  # compiled (or read from numba's cache) now, not inside the first render
    return _Bridge(module.__file__, declaration, invoke)


def _load_native(name: str) -> Any:
    """The extension module ``name`` loaded from its file, without running its package's
    ``__init__``; registered under its name, so the package, if imported later, reuses it."""
    package = importlib.util.find_spec(name.split(".")[0])
    if package is None or not package.submodule_search_locations:
        raise RuntimeError("onnxruntime-extensions is not installed: the engine's Snake operator needs it")
    folder, stem = Path(package.submodule_search_locations[0]), name.rpartition(".")[2]
    library = next((folder / f"{stem}{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES
                    if (folder / f"{stem}{suffix}").is_file()), None)
    spec = importlib.util.spec_from_file_location(name, library) if library else None
    if spec is None or spec.loader is None:
        raise RuntimeError(f"onnxruntime-extensions has no native module {stem} in {folder}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module
