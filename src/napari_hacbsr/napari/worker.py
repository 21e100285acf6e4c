"""Thread plumbing for runs inside napari: the engine in a superqt worker thread.

* the engine's generator runs in a ``HACBSRWorker`` thread; RuntimeErrors (torch raises them) are
  carried out wrapped, because superqt's GeneratorWorker swallows them;
* ``quit()`` is a cooperative stop that keeps the current estimate, ``abort()`` a hard one;
* torch's lazily imported compiler stack is loaded in the main thread first (see
  ``preload_torch_runtime``).

torch is imported lazily (inside functions), never at module import.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from superqt.utils import GeneratorWorker

from .layer_rules import unwrap

if TYPE_CHECKING:  # pragma: no cover
    from ..core.image import PreparedImage
    from ..core.plan import RunPlan
    from ..core.records import Result, Step

log = logging.getLogger(__name__)


def preload_torch_runtime() -> None:
    """Import torch's lazily loaded compiler stack in the main thread, before any worker starts.

    See `core.device.load_compiler_stack_safely` (the LLVM clash under software OpenGL); doing it here,
    in the main thread, also keeps the one-off import out of the worker thread.
    """
    from ..core.device import load_compiler_stack_safely

    load_compiler_stack_safely()


def free_device_memory() -> None:
    """Release GPU memory after a run; imports nothing when torch was never loaded."""
    gc.collect()
    if "torch" in sys.modules:
        from ..core.device import free_device_memory as free

        free()


def viewer_is_open(viewer: Any) -> bool:
    """False once the viewer's window was closed (Qt deletes it on close)."""
    raw = unwrap(viewer)
    window = getattr(raw, "window", None)
    if window is None:  # a bare ViewerModel: nothing to close
        return True
    qt_window = getattr(window, "_qt_window", None)
    if qt_window is None:  # Window.close() deletes the attribute
        return False
    try:
        qt_window.objectName()  # RuntimeError once the C++ object is gone
    except RuntimeError:
        return False
    return True


class EngineFailure(Exception):
    """Carries an engine exception out of the worker thread.

    superqt's GeneratorWorker swallows ``RuntimeError`` raised by the generator (it treats it as a
    deleted worker and emits neither ``errored`` nor ``finished``); torch and HACBSR errors are
    RuntimeErrors, so the generator re-raises them wrapped in this plain Exception.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def generate(
    prepared: PreparedImage,
    plan: RunPlan,
    should_stop: Callable[[], bool],
    tile: int | None = None,
    overlap: int | None = None,
) -> Generator[Step, None, Result]:
    """The worker-thread body: the engine's one generator (`core.frame`), RuntimeErrors made visible."""
    from ..core.frame import iterate_frame

    try:
        result = yield from iterate_frame(prepared, plan, should_stop, tile=tile, overlap=overlap)
    except RuntimeError as exc:
        raise EngineFailure(exc) from exc
    return result


class HACBSRWorker(GeneratorWorker):
    """A GeneratorWorker whose ``quit()`` is a *cooperative* stop that keeps the current estimate.

    Based on superqt's worker rather than napari's, whose mixin turns every worker error into a
    raw exception notification: we show one friendly message instead, and relay warnings ourselves.

    ``quit()`` (what napari's activity dock and console users call) sets the stop event polled by
    the engine every inner step; the engine returns a Result with ``stopped_early=True`` and it is
    written to the layers like any final result. ``abort()`` is the hard stop (no result written),
    used when the viewer closes.
    """

    stop_event: threading.Event
    #: set by the run controller: its cooperative stop (the worker knows nothing else of the run)
    request_stop: Callable[[str], None] | None = None
    #: the run controller, for console users (``worker.hacbsr_run.result``); the worker never reads it
    hacbsr_run: Any = None

    def quit(self) -> None:
        """Stop cooperatively after the current inner step (the run keeps its estimate)."""
        if self.request_stop is None:
            super().quit()
        else:
            self.request_stop("stopped by the user")

    def stop(self) -> None:
        """Alias of ``quit()``: stop after the current inner step and keep the estimate."""
        self.quit()

    def abort(self) -> None:
        """Hard stop: the engine ends at its next inner step and no result is written."""
        stop_event = getattr(self, "stop_event", None)
        if stop_event is not None:
            stop_event.set()
        super().quit()
