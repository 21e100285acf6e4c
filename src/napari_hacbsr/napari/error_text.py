"""One user-facing sentence for every way a run can fail (status line, notification, console)."""

from __future__ import annotations


def friendly_error(exc: BaseException) -> str:
    """One sentence (or two) for the status line and the notification."""
    exc = getattr(exc, "original", exc)
    from ..core import errors
    from ..core.device import is_out_of_memory

    if isinstance(exc, errors.OutOfMemoryError):
        return f"HACBSR ran out of memory. {exc}"
    if is_out_of_memory(exc):
        return (
            "HACBSR ran out of memory (the memory has been released). Try a smaller crop, a smaller "
            "scale factor or device 'cpu', then press Run again."
        )
    if isinstance(exc, errors.EncoderUnavailableError):
        return (
            f"The CLIP feature encoder could not be loaded: {exc} "
            "Set Advanced → Encoder to 'auto' to use the built-in fallback."
        )
    if isinstance(exc, ValueError):
        return f"HACBSR cannot run on this input: {exc}"
    if isinstance(exc, errors.HACBSRError):
        return f"HACBSR failed: {exc}"
    return (
        f"HACBSR failed unexpectedly ({type(exc).__name__}: {exc}). The run was reset; the full "
        "traceback is in the log."
    )
