"""Which device each model of a worker runs on: ``NARRATOR_DEVICE`` = ``cpu``, ``cuda`` or
``auto`` (CUDA when a GPU is visible, else the CPU).

A GPU worker needs three runtimes to see the GPU: onnxruntime's CUDA provider (the Kokoro
engine, on its float graph: int8 kernels have no CUDA implementation), CTranslate2 (Whisper,
the quality gate's ears) and torch (the speaker encoder and the fine-tuning of pronunciation
adapters). ``cuda`` asked for where any of them sees no GPU stops the worker at start, naming
what is missing, instead of quietly rendering on the node's CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
CHOICES = ("auto", "cpu", "cuda")


class DeviceUnavailable(RuntimeError):
    """``NARRATOR_DEVICE=cuda`` on a machine where a runtime sees no GPU."""


@dataclass(frozen=True)
class DevicePlan:
    """The device of each model family; a worker logs it and exposes it in /metrics."""

    engine: str  # Kokoro on onnxruntime
    asr: str  # Whisper on CTranslate2
    torch: str  # speaker encoder, fine-tuning

    def as_dict(self) -> dict[str, str]:
        return {"engine": self.engine, "asr": self.asr, "torch": self.torch}


def gpu_runtimes() -> dict[str, str | None]:
    """For each runtime, None when it sees a GPU, else why not."""
    # deferred: each runtime costs up to seconds to import, and only a worker planning its devices asks
    import ctranslate2
    import onnxruntime as ort  # deferred: see above
    import torch  # deferred: see above

    found: dict[str, str | None] = {}
    found["onnxruntime"] = None if "CUDAExecutionProvider" in ort.get_available_providers() else (
        f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (install onnxruntime-gpu)")
    try:
        count = ctranslate2.get_cuda_device_count()
    except RuntimeError as exc:  # a CPU-only build, or no driver
        count, why = 0, str(exc)
    else:
        why = "CTranslate2 sees no CUDA device"
    found["ctranslate2"] = None if count > 0 else why
    found["torch"] = None if torch.cuda.is_available() else (
        f"torch {torch.__version__} sees no CUDA device (a CPU build, or no driver)")
    return found


NVIDIA_DRIVER_PATHS = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia/version")


def nvidia_driver_present() -> bool:
    """Whether the NVIDIA driver is visible here (its device nodes or its /proc entry): without
    it no runtime can see a GPU, so ``auto`` need not import three runtimes to find that out
    (about 2 s, mostly torch, which a CPU-only ``narrator say`` otherwise never loads)."""
    return any(Path(p).exists() for p in NVIDIA_DRIVER_PATHS)


def plan_devices(choice: str) -> DevicePlan:
    """The devices for ``NARRATOR_DEVICE``; raises DeviceUnavailable for ``cuda`` without a GPU."""
    if choice not in CHOICES:
        raise ValueError(f"NARRATOR_DEVICE must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "cpu":
        return DevicePlan("cpu", "cpu", "cpu")
    if choice == "auto" and not nvidia_driver_present():
        log.info("NARRATOR_DEVICE=auto: running on the CPU (no NVIDIA driver: none of %s)",
                 ", ".join(NVIDIA_DRIVER_PATHS))
        return DevicePlan("cpu", "cpu", "cpu")
    missing = {name: why for name, why in gpu_runtimes().items() if why}
    if not missing:
        return DevicePlan("cuda", "cuda", "cuda")
    if choice == "cuda":
        raise DeviceUnavailable("NARRATOR_DEVICE=cuda but no GPU is visible to "
                                + "; ".join(f"{name}: {why}" for name, why in sorted(missing.items())))
    log.info("NARRATOR_DEVICE=auto: running on the CPU (%s)", "; ".join(sorted(missing.values())))
    return DevicePlan("cpu", "cpu", "cpu")
