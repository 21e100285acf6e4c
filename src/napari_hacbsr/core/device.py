"""Device choice: "auto" picks cuda -> mps -> cpu; an explicit device that is absent is an error."""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import sys

import torch

from .errors import OutOfMemoryError

log = logging.getLogger(__name__)

DEVICE_ENV = "NAPARI_HACBSR_DEVICE"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Devices usable here, best first, e.g. ["cuda:0", "cpu"]."""
    devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn "auto" | "cpu" | "cuda" | "cuda:N" | "mps" into a usable torch.device.

    "auto" honours the NAPARI_HACBSR_DEVICE environment variable, then tries cuda, mps, cpu.
    """
    load_compiler_stack_safely()  # every run resolves its device before its first optimizer step
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = str(spec).strip().lower()
    if name == "auto":
        name = os.environ.get(DEVICE_ENV, "").strip().lower() or "auto"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ValueError(
                "device 'mps' was requested but Apple MPS is not available here; use device='auto' or 'cpu'"
            )
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {spec!r} was requested but no CUDA GPU is available "
                f"(torch {torch.__version__}); use device='auto' or 'cpu'"
            )
        index = torch.cuda.current_device()
        if ":" in name:
            try:
                index = int(name.split(":", 1)[1])
            except ValueError:
                raise ValueError(f"cannot read the GPU index in {spec!r}; write e.g. 'cuda:0'") from None
        count = torch.cuda.device_count()
        if not 0 <= index < count:
            raise ValueError(
                f"device {spec!r} does not exist: this machine has {count} CUDA device(s) (cuda:0 .. cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    raise ValueError(f"unknown device {spec!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")


def describe_device(device: torch.device) -> str:
    """Human-readable name for status lines: 'cuda:0 — NVIDIA H100', 'CPU — no GPU found'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} — {torch.cuda.get_device_name(index)}"
    if device.type == "mps":
        return "mps — Apple GPU"
    if torch.cuda.is_available() or _mps_available():
        return "CPU (a GPU is present but not selected)"
    return "CPU — no GPU found"


#: how out-of-memory reads where torch raises a plain RuntimeError: MPS, and the CPU allocator
#: ("DefaultCPUAllocator: can't allocate memory: you tried to allocate ... bytes")
_OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's out-of-memory errors on any device, the CPU allocator's included."""
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    if isinstance(exc, oom_type | MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(m in text for m in _OOM_MESSAGES)


def free_device_memory(device: torch.device | None = None) -> None:
    """Collect garbage and hand cached GPU memory back (all GPUs when `device` is None)."""
    gc.collect()
    if (device is None or device.type == "cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    if (device is None or device.type == "mps") and _mps_available() and hasattr(torch, "mps"):
        torch.mps.empty_cache()


def load_compiler_stack_safely() -> None:
    """Import ``torch._dynamo`` so that it cannot crash a process that runs Mesa's software OpenGL.

    Every torch optimizer imports ``torch._dynamo`` (Adam's constructor, every ``step()``, L-BFGS too),
    and it imports ``triton`` where installed (Linux CUDA wheels). triton bundles its own LLVM; when
    napari's OpenGL runs on Mesa's llvmpipe (Xvfb, VNC, remote X, CI), Mesa's LLVM is already loaded,
    the dynamic linker binds triton's symbols to it and the process segfaults. Loading triton with
    ``RTLD_DEEPBIND`` first makes it use its own LLVM. Called by `resolve_device` and `make_adam`, so
    every entry point (console ``super_resolve``, widget, CLI, batch) is safe; best called in the main
    thread (the widget does it before starting its worker). Cheap after the first call.
    """
    if "torch._dynamo" in sys.modules:
        return
    if (
        "triton" not in sys.modules
        and sys.platform.startswith("linux")
        and hasattr(os, "RTLD_DEEPBIND")
        and importlib.util.find_spec("triton") is not None
    ):
        flags = sys.getdlopenflags()
        sys.setdlopenflags(flags | os.RTLD_DEEPBIND)
        try:
            import triton  # noqa: F401
        except Exception:  # pragma: no cover - torch copes without triton
            log.debug("triton could not be imported", exc_info=True)
        finally:
            sys.setdlopenflags(flags)
    try:
        import torch._dynamo  # noqa: F401
    except Exception:  # pragma: no cover - optional on exotic torch builds
        log.debug("torch._dynamo could not be imported", exc_info=True)


def out_of_memory(device: torch.device, lr_shape: tuple[int, ...], scale: int) -> OutOfMemoryError:
    """The error of a run that ran out of memory on `device`, once its memory is released (freed here)."""
    free_device_memory(device)
    return OutOfMemoryError(
        f"{describe_device(device)} ran out of memory for a {lr_shape[0]}×{lr_shape[1]} image at ×{scale}. "
        f"Memory has been released: try a smaller crop, a smaller scale, or device='cpu'."
    )


def make_adam(params, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with default betas/eps; the fused kernel where torch has one for the device.

    Same update rule; the fused kernel does it in one pass, which is faster. Its cost is part of the bare DIP
    step that `python benchmarks/speed.py` times (results in docs/benchmarks.md, not here: they go stale).
    """
    load_compiler_stack_safely()  # Adam's constructor imports torch._dynamo
    params = list(params)
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):  # older torch: no fused kernel for this device
            pass
    return torch.optim.Adam(params, lr=lr)
