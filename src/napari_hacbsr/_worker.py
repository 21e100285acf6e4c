"""One HACBSR run inside a napari viewer: the engine in a worker thread, live layers on the main thread.

Shared by the dock widget (``_widget.HACBSRWidget``) and the console helper
(``scripting.run_in_viewer``) so both behave identically:

* the engine (``core.engine.iterate``) runs in a napari ``GeneratorWorker`` thread on a *copy* of
  the layer data; every layer mutation happens in slots connected to the worker's signals, which
  Qt delivers on the main thread;
* the first yielded Step that carries arrays creates ``<source>_HACBSR_x<s>`` and
  ``<source>_HACBSR_kernel`` (numbered ``_2``, ``_3`` … when an earlier run's layers exist); later
  Steps update those layers in place; the final Result replaces their data and adds
  ``metadata["hacbsr"]``;
* stopping is cooperative: ``stop()`` (and ``worker.quit()``) sets an event the engine polls every
  inner step; the engine then returns its current estimate, which is written as the result;
* removing the source layer stops the run; closing the viewer aborts it without touching layers;
* errors (bad input, CUDA OOM, missing CLIP weights, anything else) become one friendly message,
  GPU memory is released, and ``finished`` always fires so the UI can reset.

torch is imported lazily (inside functions), never at module import.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from napari.qt.threading import create_worker
from superqt.utils import GeneratorWorker

from ._geometry import (
    channel_axis_for,
    kernel_layer_kwargs,
    layer_problem,
    output_names,
    sr_layer_kwargs,
)

log = logging.getLogger(__name__)

#: outer iterations used by default on a CPU (the paper's 300 takes hours there)
CPU_DEFAULT_ITERATIONS = 30
#: live-layer refresh interval (outer iterations) on a CPU, where one iteration takes seconds
CPU_LIVE_EVERY = 1

# names handed to runs that have not created their layers yet, per viewer (avoids two concurrent
# runs on the same source picking the same names)
_RESERVED: dict[int, set[str]] = {}


# ---------------------------------------------------------------------------- helpers
def unwrap(obj: Any) -> Any:
    """The object behind napari's PublicOnlyProxy (plugin widgets receive proxies)."""
    return getattr(obj, "__wrapped__", obj)


def default_iterations(device: str, mode: str = "hacbsr") -> int:
    """Outer iterations when the user gives none: the paper's default on a GPU, a short run on CPU."""
    from .core.config import DEFAULT_ITERATIONS

    if str(device).startswith(("cuda", "mps")):
        return DEFAULT_ITERATIONS[mode]
    return CPU_DEFAULT_ITERATIONS


def default_live_every(device: str) -> int:
    """Live-update interval: the engine's default (10) on a GPU, every iteration on a CPU."""
    from .core.config import HACBSRConfig

    return HACBSRConfig.yield_every if str(device).startswith(("cuda", "mps")) else CPU_LIVE_EVERY


def device_info(spec: str) -> tuple[str, str]:
    """(resolved device, human description) for a device choice such as "auto". Imports torch."""
    from .core.device import describe_device, resolve_device

    device = resolve_device(spec)
    return str(device), describe_device(device)


def preload_torch_runtime() -> None:
    """Import torch's lazily loaded compiler stack in the main thread, before any worker starts.

    The first ``torch.optim.Adam`` imports ``torch._dynamo``, which imports ``triton`` when it is
    installed (Linux CUDA wheels). triton bundles its own LLVM; if napari's OpenGL context runs on
    Mesa's llvmpipe (Xvfb, VNC, remote X, CI), Mesa's LLVM is already loaded and the dynamic
    linker binds triton's symbols to it, which segfaults the process. Loading triton with
    ``RTLD_DEEPBIND`` makes it use its own LLVM; doing it here, in the main thread, also keeps
    the one-off import out of the worker thread.
    """
    import torch  # noqa: F401

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


def free_device_memory() -> None:
    """Release GPU memory after a run; imports nothing when torch was never loaded."""
    gc.collect()
    if "torch" in sys.modules:
        from .core.device import free_device_memory as free

        free()


def friendly_error(exc: BaseException) -> str:
    """One sentence (or two) for the status line and the notification."""
    exc = getattr(exc, "original", exc)
    from .core import errors
    from .core.device import is_out_of_memory

    if isinstance(exc, errors.OutOfMemoryError):
        return f"HACBSR ran out of memory. {exc}"
    if is_out_of_memory(exc):
        return (
            "HACBSR ran out of memory (GPU memory has been released). Try a smaller crop, a smaller "
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


def _generate(image: np.ndarray, config: Any, should_stop: Callable[[], bool], channel_axis: int | None):
    """The worker-thread body: the engine's generator, with RuntimeErrors made visible."""
    from .core.engine import iterate

    try:
        result = yield from iterate(image, config, should_stop, channel_axis=channel_axis)
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
    hacbsr_run: HACBSRRun

    def quit(self) -> None:
        stop_event = getattr(self, "stop_event", None)
        if stop_event is None:
            super().quit()
        else:
            stop_event.set()

    def stop(self) -> None:
        """Alias of ``quit()``: stop after the current inner step and keep the estimate."""
        self.quit()

    def abort(self) -> None:
        """Hard stop: the engine ends at its next inner step and no result is written."""
        stop_event = getattr(self, "stop_event", None)
        if stop_event is not None:
            stop_event.set()
        super().quit()


# ---------------------------------------------------------------------------- the run
class HACBSRRun:
    """Prepare, start and follow one run on one source layer (main thread only).

    Raises ValueError (with a user-facing message) in the constructor when the layer or the
    config cannot be used, before any thread starts. Callbacks ``on_step(step)``,
    ``on_result(result)``, ``on_error(exc, message)`` and ``on_finished(run)`` are called on the
    main thread after the layers have been updated.
    """

    def __init__(
        self,
        viewer: Any,
        layer: Any,
        config: Any,
        *,
        progress: bool = True,
        notify: bool = True,
        on_step: Callable[[Any], None] | None = None,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException, str], None] | None = None,
        on_finished: Callable[[HACBSRRun], None] | None = None,
    ) -> None:
        problem = layer_problem(layer)
        if problem:
            raise ValueError(problem)
        from .core.engine import validate_image

        preload_torch_runtime()
        self.viewer = viewer
        self.config = config
        self.source = layer
        self.source_name = str(layer.name)
        self.scale = int(config.scale)
        self.channel_axis = channel_axis_for(layer)
        self.notify = notify
        self._callbacks: dict[str, Callable[..., None] | None] = {
            "step": on_step,
            "result": on_result,
            "error": on_error,
            "finished": on_finished,
            "warning": None,
        }

        # The engine only ever sees this private copy: the layer's own buffer is never touched.
        self.image = np.array(layer.data, copy=True)
        validate_image(self.image, self.scale, channel_axis=self.channel_axis)
        self.device, self.device_description = device_info(config.device)

        # Geometry is fixed at start: later edits of the source's transform do not move results.
        self._sr_geometry = sr_layer_kwargs(layer, self.scale, config.sampling)
        self._kernel_geometry = kernel_layer_kwargs(layer, self.scale)
        self._sr_style: dict[str, Any] = {"rgb": bool(layer.rgb), "blending": layer.blending}
        if not layer.rgb:
            self._sr_style["colormap"] = layer.colormap
            self._sr_style["gamma"] = float(layer.gamma)

        self._viewer_key = id(unwrap(viewer))
        reserved = _RESERVED.setdefault(self._viewer_key, set())
        self.sr_name, self.kernel_name = output_names(
            {str(x.name) for x in viewer.layers} | reserved, self.source_name, self.scale
        )
        reserved.update({self.sr_name, self.kernel_name})

        self.sr_layer: Any = None
        self.kernel_layer: Any = None
        self.last_step: Any = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.message = ""
        self.stop_reason = ""
        self.encoder_note = ""  # set from the engine's fallback warning while the run is going
        self.running = False
        self.done = False
        self._closed = False
        self._iterate_t0: float | None = None
        self._pending_live: Any = None
        self._pending_final: Any = None
        self._final_written = False
        self._flushing = False

        self.stop_event = threading.Event()
        holder: dict[str, Any] = {}

        def should_stop() -> bool:  # polled by the engine in the worker thread
            worker = holder.get("worker")
            return self.stop_event.is_set() or (worker is not None and worker.abort_requested)

        self.worker: HACBSRWorker = create_worker(
            _generate,
            self.image,
            config,
            should_stop,
            self.channel_axis,
            _worker_class=HACBSRWorker,
            _start_thread=False,
            _ignore_errors=True,
        )
        holder["worker"] = self.worker
        self.worker.stop_event = self.stop_event
        self.worker.hacbsr_run = self
        self.worker.yielded.connect(self._on_yielded)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_errored)
        self.worker.warned.connect(self._on_warned)
        self.worker.finished.connect(self._on_finished)

        self.pbar = None
        if progress:
            from napari.utils import progress as napari_progress

            self.pbar = napari_progress(
                total=config.outer_iterations, desc=f"HACBSR ×{self.scale} {self.source_name}: kernel warm-up"
            )

    # ------------------------------------------------------------------ control
    def start(self) -> HACBSRWorker:
        viewer = unwrap(self.viewer)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        qt_window = getattr(getattr(viewer, "window", None), "_qt_window", None)
        if qt_window is not None:
            qt_window.destroyed.connect(self._on_viewer_destroyed)
            self._qt_window_ref = weakref.ref(qt_window)
        self.running = True
        self.worker.start()
        return self.worker

    def stop(self, reason: str = "stopped by the user") -> None:
        """Cooperative stop: the engine returns its current estimate, written as the result."""
        if self.running and not self.stop_event.is_set():
            self.stop_reason = reason
            self.stop_event.set()

    def abort(self, reason: str = "viewer closed") -> None:
        """Hard stop: no further layer writes."""
        self._closed = True
        self.stop_reason = self.stop_reason or reason
        self.worker.abort()

    # ------------------------------------------------------------------ main-thread slots
    def _can_write(self) -> bool:
        if self._closed or not viewer_is_open(self.viewer):
            self._closed = True
            return False
        return True

    def _on_layer_removed(self, event: Any) -> None:
        if unwrap(event.value) is unwrap(self.source):
            self.stop("the source layer was removed")

    def _on_viewer_destroyed(self, *_: Any) -> None:
        self.abort("the viewer was closed")

    # napari re-enters the Qt event loop while we update it (its progress widget and new layer
    # controls call QApplication.processEvents()), so a later signal — even ``finished`` — can be
    # delivered while an earlier handler is still running. The handlers therefore only record what
    # arrived; ``_flush`` writes it, once, in order, and ignores nested calls.
    def _on_yielded(self, step: Any) -> None:
        if self._final_written:
            return
        self.last_step = step
        if step.stage == "warmup":
            self._iterate_t0 = step.elapsed
        if step.sr is not None and step.kernel is not None:
            self._pending_live = step
        self._flush()
        if not self.done:
            self._update_progress(step)
        if not self.done:  # a nested ``finished`` already told the UI the run is over
            self._call("step", step)

    def _on_returned(self, result: Any) -> None:
        self.result = result
        if result is not None:
            self._pending_final = result
        self._flush()
        self._call("result", result)

    def _flush(self) -> None:
        if self._flushing:
            return
        self._flushing = True
        try:
            while self._pending_final is not None or self._pending_live is not None:
                if not self._can_write():
                    self._pending_final = self._pending_live = None
                    break
                if self._pending_final is not None:
                    result, self._pending_final, self._pending_live = self._pending_final, None, None
                    self._final_written = True
                    provenance = dict(result.provenance())
                    provenance.update(
                        source_layer=self.source_name,
                        sr_layer=self.sr_name,
                        kernel_layer=self.kernel_name,
                        status="done",
                        stop_reason=self.stop_reason if result.stopped_early else "",
                    )
                    self._show(result.sr, result.kernel, provenance, final=True)
                else:
                    step, self._pending_live = self._pending_live, None
                    if not self._final_written:
                        self._show(step.sr, step.kernel, self._live_metadata(step), final=False)
        finally:
            self._flushing = False

    def _update_progress(self, step: Any) -> None:
        pbar = self.pbar
        if pbar is None:
            return
        if step.stage == "warmup":
            pbar.set_description(f"HACBSR ×{self.scale} {self.source_name}")
        if self.pbar is not pbar:  # closed by a nested ``finished`` meanwhile
            return
        delta = int(step.iteration) - int(pbar.n)
        if delta > 0:
            pbar.update(delta)

    def _on_warned(self, args: tuple) -> None:
        """Warnings raised in the worker thread: remember the encoder fallback note, notify once."""
        message = args[0]
        text = str(message if isinstance(message, str) else message.args[0] if message.args else message)
        if "CLIP" in text and ("unavailable" in text or "pixel encoder" in text):
            self.encoder_note = text.removeprefix("HACBSR: ")
        if self.notify:
            from napari.utils.notifications import notification_manager

            notification_manager.receive_warning(*args)
        self._call("warning", text)

    def _on_errored(self, exc: BaseException) -> None:
        original = getattr(exc, "original", exc)
        self.error = original
        free_device_memory()
        self.message = friendly_error(original)
        log.error("HACBSR run on %r failed", self.source_name, exc_info=original)
        if self.notify:
            from napari.utils.notifications import show_error

            show_error(self.message)
        self._call("error", original, self.message)

    def _on_finished(self) -> None:
        self.running = False
        self.done = True
        pbar, self.pbar = self.pbar, None
        if pbar is not None:
            pbar.close()
        try:
            unwrap(self.viewer).layers.events.removed.disconnect(self._on_layer_removed)
        except Exception:  # pragma: no cover - viewer already torn down
            pass
        qt_window = getattr(self, "_qt_window_ref", lambda: None)()
        if qt_window is not None:
            try:
                qt_window.destroyed.disconnect(self._on_viewer_destroyed)
            except (RuntimeError, TypeError):
                pass
        reserved = _RESERVED.get(self._viewer_key)
        if reserved is not None:
            reserved.difference_update({self.sr_name, self.kernel_name})
            if not reserved:
                _RESERVED.pop(self._viewer_key, None)
        self.image = None  # type: ignore[assignment]  # drop the input copy
        if self.error is None:
            free_device_memory()
        self._call("finished", self)

    def _call(self, name: str, *args: Any) -> None:
        callback = self._callbacks.get(name)
        if callback is not None:
            callback(*args)

    # ------------------------------------------------------------------ layers
    def _live_metadata(self, step: Any) -> dict[str, Any]:
        from . import __version__

        return {
            "status": "running",
            "version": __version__,
            "source_layer": self.source_name,
            "sr_layer": self.sr_name,
            "kernel_layer": self.kernel_name,
            "config": self.config.to_dict(),
            "seed": self.config.seed,
            "device": self.device,
            "device_name": self.device_description,
            "iteration": int(step.iteration),
            "total": int(step.total),
            "losses": dict(step.losses),
        }

    def _present(self, layer: Any) -> bool:
        raw = unwrap(layer)
        return layer is not None and any(unwrap(x) is raw for x in self.viewer.layers)

    def _show(self, sr: np.ndarray, kernel: np.ndarray, provenance: dict[str, Any], final: bool) -> None:
        metadata = {"hacbsr": provenance}
        # A live layer the user deleted is not re-created until the final result arrives.
        if self._present(self.sr_layer):
            self.sr_layer.data = sr
            self.sr_layer.metadata = metadata
        elif self.sr_layer is None or final:
            self.sr_layer = self.viewer.add_image(
                sr, name=self.sr_name, metadata=metadata, **self._sr_style, **self._sr_geometry
            )
        if self._present(self.sr_layer):
            self.sr_layer.reset_contrast_limits()

        if self._present(self.kernel_layer):
            self.kernel_layer.data = kernel
            self.kernel_layer.metadata = metadata
        elif self.kernel_layer is None or final:
            self.kernel_layer = self.viewer.add_image(
                kernel,
                name=self.kernel_name,
                metadata=metadata,
                colormap="inferno",
                blending="translucent_no_depth",
                **self._kernel_geometry,
            )
        if self._present(self.kernel_layer):
            self.kernel_layer.reset_contrast_limits()

    # ------------------------------------------------------------------ status text
    def eta_seconds(self, step: Any) -> float | None:
        """Remaining seconds, from the mean time per outer iteration since warm-up ended."""
        if step is None or step.iteration <= 0 or self._iterate_t0 is None:
            return None
        per_iteration = (step.elapsed - self._iterate_t0) / step.iteration
        return max(0.0, per_iteration * (step.total - step.iteration))
