"""One HACBSR run inside a napari viewer: the run controller (main thread only).

Shared by the dock widget (``widget.HACBSRWidget``) and the console (``scripting.run_in_viewer``):

* the layer is checked and its data prepared once, here, before any thread starts; the engine
  (``core.engine.iterate``) then runs in a ``HACBSRWorker`` thread on that prepared copy, and
  every layer mutation happens in slots that Qt delivers on the main thread;
* the "setup" Step creates ``<source>_HACBSR_x<s>`` showing a cubic upsample on the run's sampling
  grid (never generator noise), with the source's contrast limits, gamma and colormap; later Steps
  update it in place and keep that display; the kernel goes to a hidden layer (it would otherwise
  sit on image data) and to ``on_kernel`` listeners; no new layer steals the active layer;
* stopping is cooperative (``stop()``, ``worker.quit()``): the engine returns its current estimate,
  written as the result with the stop reason; removing the source stops the run; closing the
  viewer aborts it without touching layers; one run per source layer at a time;
* errors become one friendly message, memory is released, ``finished`` always fires.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.qt.threading import create_worker

from ..mission.georef import sr_layer_metadata
from ..outputs import free_output_names
from .error_text import friendly_error
from .frame_controls import frame_estimate
from .layer_rules import channel_axis_for, declared_sampling, layer_problem, unwrap
from .placement import kernel_layer_kwargs, region_source_metadata, sr_layer_kwargs
from .run_layers import RunLayers
from .worker import HACBSRWorker, free_device_memory, generate, preload_torch_runtime, viewer_is_open

if TYPE_CHECKING:  # pragma: no cover
    from napari.layers import Image

    import napari

    from ..core.config import HACBSRConfig
    from ..core.records import Result, Step

log = logging.getLogger(__name__)

# per viewer: names handed to runs that have not created their layers yet, and the sources being run
_RESERVED: dict[int, set[str]] = {}
_RUNNING_SOURCES: dict[int, set[int]] = {}

CALLBACKS = ("setup", "step", "result", "error", "finished")
# runs going, held until `finished`: a run outlives the widget that started it (its slots must stay alive)
_LIVE_RUNS: set[HACBSRRun] = set()


class HACBSRRun(RunLayers):
    """Prepare, start and follow one run on one source layer (main thread only).

    Raises ValueError (a user-facing message) in the constructor when the layer or the config
    cannot be used, or when this layer already has a run going, before any thread starts.
    Listeners ``on_setup(step)``, ``on_step(step)``, ``on_result(result)``, ``on_error(exc, message)``
    and ``on_finished(run)`` are called on the main thread after the layers have been updated.
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        layer: Image,
        config: HACBSRConfig,
        *,
        progress: bool = True,
        notify: bool = True,
        tile: int | str | None = "auto",
        tile_overlap: int | None = None,
        region: tuple[int, int, int, int] | None = None,
        budget_bytes: float | None = None,
        **listeners: Callable[..., None] | None,
    ) -> None:
        problem = layer_problem(layer)
        if problem:
            raise ValueError(problem)
        from ..core.device import describe_device, resolve_device
        from ..core.image import prepare_image
        from ..core.plan import resolve

        unknown = sorted(set(listeners) - {f"on_{name}" for name in CALLBACKS})
        if unknown:
            raise TypeError(f"unknown listener(s) {unknown}")
        self._viewer_key = id(unwrap(viewer))
        if id(unwrap(layer)) in _RUNNING_SOURCES.get(self._viewer_key, set()):
            raise ValueError(
                f"a HACBSR run on '{layer.name}' is already going; stop it first (Stop, or worker.quit() "
                f"in the console), or wait for it to finish"
            )
        preload_torch_runtime()
        device = resolve_device(config.device)  # resolved once per run
        # a layer that declares how it was sampled (the bundled samples) is run with that convention
        sampling = declared_sampling(layer) or config.sampling
        self.config = config.replace(device=str(device), sampling=sampling)  # (what a replay of the run needs)
        self.device, self.device_description = str(device), describe_device(device)
        self.viewer = viewer
        self.source = layer
        self.source_name = str(layer.name)
        self.scale = int(self.config.scale)
        # Prepared once (a float copy): the layer's own buffer is never touched. `region` is an LR box
        # (y0, x0, y1, x1) of the layer (rows and columns are its first two axes; RGB is channel-last).
        self.origin = (0, 0) if region is None else (int(region[0]), int(region[1]))
        data = np.asarray(layer.data)
        if region is not None:
            data = data[region[0] : region[2], region[1] : region[3]]
        self.prepared = prepare_image(data, self.scale, channel_axis_for(layer), self.config.gray_channels)
        self.plan = resolve(self.config, device, self.prepared)  # the run resolved once
        # refuses what cannot fit (budget_bytes: the memory limit; None: 60 % of the free memory)
        self.estimate = frame_estimate(self.prepared, self.plan, tile, tile_overlap, budget_bytes)
        self.notify = notify
        self._listeners: dict[str, Callable[..., None] | None] = {
            name: listeners.get(f"on_{name}") for name in CALLBACKS
        }

        # Geometry and display are fixed at start: later edits of the source do not move results.
        self._sr_geometry = sr_layer_kwargs(layer, self.scale, self.config.sampling, self.origin)
        self._kernel_geometry = kernel_layer_kwargs(layer, self.scale)
        # a mission product's georeference (moved to the region's corner), carried to the SR layer for the writer
        source_metadata = region_source_metadata(layer.metadata, self.origin)
        self._sr_georef = sr_layer_metadata(source_metadata, self.scale, self.config.sampling)
        self._sr_style: dict[str, Any] = {
            "rgb": bool(layer.rgb),
            "blending": layer.blending,
            "contrast_limits": list(layer.contrast_limits),
            "gamma": float(layer.gamma),
        }
        if not layer.rgb:
            self._sr_style["colormap"] = layer.colormap

        reserved = _RESERVED.setdefault(self._viewer_key, set())
        self.sr_name, self.kernel_name = free_output_names(
            {str(x.name) for x in viewer.layers} | reserved, self.source_name, self.scale
        )
        reserved.update({self.sr_name, self.kernel_name})

        self.sr_layer: Any = None
        self.kernel_layer: Any = None
        self.kernel_map_layers: list[Any] = []
        self.setup_step: Step | None = None
        self.last_step: Step | None = None
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.message = ""
        self.stop_reason = ""
        self.running = False
        self.done = False
        self._closed = False
        self._iterate_t0: float | None = None
        self._pending_live: Step | None = None
        self._pending_final: Result | None = None
        self._final_written = False
        self._flushing = False

        self.stop_event = threading.Event()
        holder: dict[str, Any] = {}

        def should_stop() -> bool:  # polled by the engine in the worker thread
            worker = holder.get("worker")
            return self.stop_event.is_set() or (worker is not None and worker.abort_requested)

        self.worker: HACBSRWorker = create_worker(
            generate,
            self.prepared,
            self.plan,
            should_stop,
            self.estimate.tile,
            self.estimate.overlap,
            _worker_class=HACBSRWorker,
            _start_thread=False,
            _ignore_errors=True,
        )
        holder["worker"] = self.worker
        self.worker.stop_event = self.stop_event
        self.worker.request_stop = self.stop
        self.worker.hacbsr_run = self  # (for console users; the worker itself only calls request_stop)
        self.worker.yielded.connect(self._on_yielded)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_errored)
        self.worker.finished.connect(self._on_finished)

        self.pbar = None
        if progress:
            from napari.utils import progress as napari_progress

            self.pbar = napari_progress(
                total=self.plan.iterations * self.estimate.tiles,
                desc=f"HACBSR ×{self.scale} {self.source_name}: kernel warm-up",
            )

    # ------------------------------------------------------------------ control
    def start(self) -> HACBSRWorker:
        """Start the run in a worker thread and return the worker."""
        viewer = unwrap(self.viewer)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        qt_window = getattr(getattr(viewer, "window", None), "_qt_window", None)
        if qt_window is not None:
            qt_window.destroyed.connect(self._on_viewer_destroyed)
            self._qt_window_ref = weakref.ref(qt_window)
        _RUNNING_SOURCES.setdefault(self._viewer_key, set()).add(id(unwrap(self.source)))
        self.running = True
        _LIVE_RUNS.add(self)
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

    def detach_listeners(self) -> None:
        """Drop every listener (the widget that registered them is going away); the run goes on."""
        self._listeners = dict.fromkeys(CALLBACKS)

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
    def _on_yielded(self, step: Step) -> None:
        if self._final_written:
            return
        if step.stage == "setup":
            self.setup_step = step
        else:
            self.last_step = step
        if step.stage == "warmup":
            self._iterate_t0 = step.elapsed
        if step.sr is not None:
            self._pending_live = step
        self._flush()
        if not self.done:
            self._update_progress(step)
        if not self.done:  # a nested ``finished`` already told the UI the run is over
            self._call("setup" if step.stage == "setup" else "step", step)

    def _on_returned(self, result: Result | None) -> None:
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
                    self._show(result.sr, result.kernel, provenance, final=True, result=result)
                else:
                    step, self._pending_live = self._pending_live, None
                    if not self._final_written:
                        sr = None if step.stage == "warmup" else step.sr  # G_x still untrained: keep the preview
                        self._show(sr, step.kernel, self._live_metadata(step), final=False, box=step.tile_box)
        finally:
            self._flushing = False

    def _update_progress(self, step: Step) -> None:
        pbar = self.pbar
        if pbar is None:
            return
        if step.stage == "warmup":
            pbar.set_description(f"HACBSR ×{self.scale} {self.source_name}")
        if self.pbar is not pbar:  # closed by a nested ``finished`` meanwhile
            return
        if step.stage == "reconstruct":  # the fast path's non-blind solve: its own count
            if pbar.total != step.total:
                pbar.set_description(f"HACBSR ×{self.scale} {self.source_name}: non-blind solve")
                pbar.total, pbar.n = int(step.total), 0
            pbar.update(int(step.iteration) - int(pbar.n))
            return
        delta = (step.tile - 1) * int(step.total) + int(step.iteration) - int(pbar.n)
        if delta > 0:
            pbar.update(delta)

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
        if self.result is not None and self.result.stopped_early and not self.stop_reason:
            self.stop_reason = "stopped"
        pbar, self.pbar = self.pbar, None
        if pbar is not None:
            pbar.close()
        with contextlib.suppress(Exception):  # pragma: no cover - viewer already torn down
            unwrap(self.viewer).layers.events.removed.disconnect(self._on_layer_removed)
        qt_window = getattr(self, "_qt_window_ref", lambda: None)()
        if qt_window is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                qt_window.destroyed.disconnect(self._on_viewer_destroyed)
        for registry, items in (
            (_RESERVED, {self.sr_name, self.kernel_name}),
            (_RUNNING_SOURCES, {id(unwrap(self.source))}),
        ):
            held = registry.get(self._viewer_key)
            if held is not None:
                held.difference_update(items)
                if not held:
                    registry.pop(self._viewer_key, None)
        self.prepared = None  # type: ignore[assignment]  # drop the input copy
        _LIVE_RUNS.discard(self)
        if self.error is None:
            free_device_memory()
        self._call("finished", self)

    def _call(self, name: str, *args: Any) -> None:
        listener = self._listeners.get(name)
        if listener is not None:
            listener(*args)

    # ------------------------------------------------------------------ status text
    def eta_seconds(self, step: Step | None) -> float | None:
        """Remaining seconds, from the mean time per outer iteration since warm-up ended."""
        if step is not None and step.tiles > 1:  # tiled: the mean time per iteration over the frame so far
            done = (step.tile - 1) * step.total + step.iteration
            return None if done <= 0 else step.elapsed / done * (step.tiles * step.total - done)
        if step is None or step.iteration <= 0 or self._iterate_t0 is None:
            return None
        per_iteration = (step.elapsed - self._iterate_t0) / step.iteration
        return max(0.0, per_iteration * (step.total - step.iteration))
