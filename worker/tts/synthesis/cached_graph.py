"""A graph derived from the shipped model (the float copy, the edge-cropping copy) is built
once per model cache and reused: the build takes seconds, loading the result does not."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


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
