"""A graph derived from the shipped model (the float copy, the edge-cropping copy) is built
once per model cache and reused: the build takes seconds, loading the result does not. The
rewrites share how they find their patterns (``GraphIndex``) and how they put new nodes in
place of old ones and leave the graph tidy."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """``target``, made by ``build`` the first time. The build writes to a private temporary
    file that is renamed into place (atomic), so another process never loads half a file."""
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            build(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def drop_unused_initializers(graph: Any) -> None:
    """Drop the initializers of ``graph`` (an ``onnx.GraphProto``) that no node reads any more
    (a rewrite's replaced constants; onnxruntime warns of each at every load), and keep each
    name once (passes that add a shared constant again)."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    kept, seen = [], set()
    for initializer in graph.initializer:
        if initializer.name in used and initializer.name not in seen:
            kept.append(initializer)
            seen.add(initializer.name)
    del graph.initializer[:]
    graph.initializer.extend(kept)


class GraphIndex:
    """Who makes and who reads each tensor of a graph (an ``onnx.GraphProto``), which tensors
    the graph returns, and its constants: what a rewrite matches its pattern against. A
    node that reads a tensor twice (``Mul(d, d)``) counts as one reader of it."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.initializers = {i.name: i for i in graph.initializer}
        self.producers = {o: n for n in graph.node for o in n.output}
        self.outputs = {o.name for o in graph.output}
        self._readers: dict[str, list[Any]] = {}
        for node in graph.node:
            for name in dict.fromkeys(node.input):
                self._readers.setdefault(name, []).append(node)

    @cached_property
    def constants(self) -> dict[str, np.ndarray]:
        """The value of every initializer and every ``Constant`` node's output."""
        from onnx import numpy_helper  # deferred: onnx is needed only to build a graph

        values = {name: numpy_helper.to_array(i) for name, i in self.initializers.items()}
        for node in self.graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        return values

    def readers(self, tensor: str) -> list[Any]:
        return self._readers.get(tensor, [])

    def only_reader(self, tensor: str, op_type: str, among: list[Any] | None = None) -> Any | None:
        """The one node reading ``tensor`` (of ``among``, when given), when it is an ``op_type``
        and the graph does not also return ``tensor``; None otherwise (the pattern's
        intermediate is needed elsewhere)."""
        nodes = self.readers(tensor) if among is None else among
        return nodes[0] if len(nodes) == 1 and nodes[0].op_type == op_type and tensor not in self.outputs else None


def splice(graph: Any, replaced: dict[int, list[Any]]) -> None:
    """Put in place of each node of ``graph`` whose ``id()`` ``replaced`` holds the nodes it
    maps to (none drops it). Each rewrite maps a pattern's new nodes to the old node that comes
    after all of the pattern's inputs are made, so the order stays topological. The caller keeps
    those nodes referenced until then: protobuf hands out a new wrapper per access, and a
    freed wrapper's ``id()`` is soon another node's."""
    nodes = [new for node in graph.node for new in replaced.get(id(node), [node])]
    del graph.node[:]
    graph.node.extend(nodes)
