"""A graph derived from the shipped model (the float copy, the edge-cropping copy) is built
once per model cache and reused: the build takes seconds, loading the result does not. The
rewrites share how they leave a graph tidy."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
