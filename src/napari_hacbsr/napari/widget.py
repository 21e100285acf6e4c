"""The dock widget: Plugins → HACBSR → Super-Resolution.

A magicgui ``Container`` (napari docks it and wires ``reset_choices``; every control is an
attribute, so tests and scripts can drive it). The heavy lifting (thread, live layers, stop,
errors) is ``run.HACBSRRun``, shared with ``scripting.run_in_viewer``; defaults come from the
one schedule policy (``core.plan.resolve``). The Image list follows the active layer until
the user picks one by hand; a layer is checked as soon as it is selected.

torch is imported when the widget is created (to list devices), not when this module is imported.
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING, Any

from magicgui.widgets import (
    Container,
    Label,
    PushButton,
)

from .controls import MAIN_NAMES, OPTION_NAMES, AdvancedOptions, MainInputs, preset
from .dock_removal import watch_removal
from .frame_controls import FrameControls
from .kernel_view import KernelView
from .layer_rules import image_problem, unwrap
from .run import HACBSRRun
from .status_text import result_text, step_text, wrappable
from .worker import preload_torch_runtime

if TYPE_CHECKING:  # pragma: no cover
    from napari.layers import Image

    import napari

    from ..core.config import HACBSRConfig
    from ..core.records import Result, Step

STOPPING = "Stopping after the current step… (the estimate so far is kept)"
ADVANCED_CLOSED = "▸ Advanced options"
ADVANCED_OPEN = "▾ Advanced options"


class HACBSRWidget(Container):
    """Blind super-resolution of the selected Image layer, with live preview and Stop."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        from ..core.device import available_devices  # imports torch (once, when the widget opens)

        preload_torch_runtime()  # see its docstring: avoids an LLVM clash under software OpenGL
        self._viewer = viewer
        self._run: HACBSRRun | None = None
        self._auto_iterations = True  # follow the device's default until the user edits the field
        self._auto_live_every = True
        self._setting_default = False
        self._image_picked_by_hand = False  # until then the Image list follows the active layer
        self._following = True  # (until the end of __init__: filling the list is not a user's choice)
        # ------------------------------------------------------------ main inputs
        self.main = MainInputs(self._image_choices, ["auto", *available_devices()])
        for name in MAIN_NAMES:  # every control is an attribute of the widget, for tests and scripts
            setattr(self, name, getattr(self.main, name))

        # ------------------------------------------------------------ advanced inputs
        self.advanced_toggle = PushButton(text=ADVANCED_CLOSED)
        self.advanced = AdvancedOptions()
        for name in OPTION_NAMES:  # every option is an attribute of the widget, for tests and scripts
            setattr(self, name, getattr(self.advanced, name))
        self.advanced.visible = False

        # ------------------------------------------------------------ actions and status
        self.run_button = PushButton(text="Run")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.buttons = Container(widgets=[self.run_button, self.stop_button], layout="horizontal", labels=False)
        self.message = Label(value="")
        self.status = Label(value="Idle.")
        self.kernel_view = KernelView()
        from qtpy.QtWidgets import QSizePolicy

        for label in (self.iterations_hint, self.device_hint, self.preset_hint, self.message, self.status):
            label.native.setWordWrap(True)  # long texts wrap instead of widening the dock
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message.native.setStyleSheet("color: #e0a040;")

        self.frame = FrameControls()  # region and resource estimate (whole frames, tiles)
        parts = [self.main, self.frame, self.advanced_toggle, self.advanced, self.buttons, self.message, self.status]
        # in a scroll area: in a short window the dock scrolls instead of clipping the status and kernel text
        # (napari docks `native`, so the scroll area goes inside it: a scrollable self would lose it)
        self.content = Container(labels=False, scrollable=True, widgets=[*parts, self.kernel_view])
        self.native.layout().setContentsMargins(0, 0, 0, 0)
        self.native.layout().addWidget(self.content.root_native_widget)

        # ------------------------------------------------------------ wiring
        self.advanced_toggle.changed.connect(self._toggle_advanced)
        self.run_button.changed.connect(self._on_run)
        self.stop_button.changed.connect(self._on_stop)
        self.device.changed.connect(self._update_defaults)
        self.mode.changed.connect(self._update_defaults)
        self.iterations.changed.connect(self._on_iterations_edited)
        self.yield_every.changed.connect(self._on_live_every_edited)
        self.image.changed.connect(self._on_image_picked)
        # every setting moves the estimate (inner steps, warm-up, encoder… in Advanced too)
        for control in (self.frame.region, self.frame.reconstruction, self.frame.tiles, self.frame.memory_limit):
            control.changed.connect(self._update_estimate)
        self.main.changed.connect(self._update_estimate)
        self.advanced.changed.connect(self._update_estimate)
        self.scale.changed.connect(self._on_image_changed)
        self.custom_scale.changed.connect(self._on_image_changed)
        unwrap(viewer).layers.selection.events.active.connect(self._follow_active_layer)
        layer_events = unwrap(viewer).layers.events
        for name in ("inserted", "removed", "moved"):
            getattr(layer_events, name).connect(self._refresh_layers)

        this = weakref.ref(self)

        def _on_destroyed(*_: Any) -> None:  # the dock was closed: detach, keep the run's layers
            widget = this()
            if widget is not None and not sys.is_finalizing():
                widget._detach()

        self.native.destroyed.connect(_on_destroyed)
        # remove_dock_widget (and the dock's ×) only unparents the widget: `destroyed` may never come
        self._removal_watcher = watch_removal(self.native, _on_destroyed)

        self._update_defaults()
        self.reset_choices()
        self._following = False
        self._follow_active_layer()
        self._on_image_changed()

    # ------------------------------------------------------------------ layer list
    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Image]]:
        from napari.layers import Image

        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]

    def reset_choices(self, *args: Any) -> None:
        """(napari calls this on layer changes too) Refreshing the list is not the user's choice."""
        following, self._following = self._following, True
        try:
            super().reset_choices(*args)
            self.content.reset_choices(*args)
        finally:
            self._following = following

    def _refresh_layers(self, _event: Any = None) -> None:
        try:
            self.reset_choices()
        except RuntimeError:  # the Qt widget was already deleted
            self._detach()

    def _follow_active_layer(self, _event: Any = None) -> None:
        """Point the Image list at the active layer when it is an Image, unless the user chose one."""
        from napari.layers import Image

        if self._image_picked_by_hand:
            return
        active = unwrap(self._viewer).layers.selection.active
        if isinstance(active, Image):
            choices = [layer for layer in self.image.choices if unwrap(layer) is active]
            if choices and self.image.value is not choices[0]:
                self._following = True
                try:
                    self.image.value = choices[0]
                finally:
                    self._following = False

    def _on_image_picked(self, _value: Any = None) -> None:
        if not self._following:  # a choice made in the list, not by following or refreshing
            self._image_picked_by_hand = True
        self._on_image_changed()

    def _on_image_changed(self, _value: Any = None) -> None:
        """Check the selected layer at the chosen scale now, not after Run."""
        layer = self.image.value
        problem = image_problem(layer, self.scale_factor) if layer is not None else None
        self.message.value = wrappable(problem) if problem else ""
        self._update_estimate()

    def _update_estimate(self, _value: Any = None) -> None:
        layer = self.image.value
        if layer is not None and image_problem(layer, self.scale_factor):  # refused: no estimate beside it
            self.frame.estimate.value = ""
            return
        try:
            config = self.make_config()
        except ValueError:
            return
        self.frame.update_estimate(self._viewer, layer, config)

    # ------------------------------------------------------------------ defaults
    def _update_defaults(self, _value: Any = None) -> None:
        """Show the device's schedule (the one policy, core.plan.resolve) in the fields."""
        from ..core.config import HACBSRConfig, schedule_kind
        from ..core.device import describe_device, resolve_device
        from ..core.plan import resolve

        try:
            device = resolve_device(self.device.value)
            description = describe_device(device)
        except ValueError as exc:
            device, description = "cpu", str(exc)
        self.device_hint.value = f"{self.device.value} → {description}"
        schedule = resolve(HACBSRConfig(mode=self.mode.value), device)
        kind = schedule_kind(device).upper()
        self.iterations_hint.value = f"Default on {kind}: {schedule.iterations} iterations" + (
            "" if kind == "GPU" else " (the paper's 300 needs a GPU; raise it for best quality)"
        )
        self._setting_default = True
        try:
            if self._auto_iterations:
                self.iterations.value = schedule.iterations
            if self._auto_live_every:
                self.yield_every.value = schedule.live_every
        finally:
            self._setting_default = False

    def _on_iterations_edited(self, _value: Any = None) -> None:
        if not self._setting_default:
            self._auto_iterations = False

    def _on_live_every_edited(self, _value: Any = None) -> None:
        if not self._setting_default:
            self._auto_live_every = False

    def _toggle_advanced(self, _value: Any = None) -> None:
        show = self.advanced.native.isHidden()  # (isVisible() is False while the dock is not shown)
        self.advanced.visible = show
        self.advanced_toggle.text = ADVANCED_OPEN if show else ADVANCED_CLOSED

    # ------------------------------------------------------------------ config
    @property
    def scale_factor(self) -> int:
        """The scale the controls ask for (the custom one when it is 2 or more)."""
        custom = int(self.custom_scale.value)
        return custom if custom >= 2 else int(self.scale.value)

    def make_config(self) -> HACBSRConfig:
        """The HACBSRConfig for the current controls (raises ValueError on invalid values)."""
        checkpoint = self.clip_checkpoint.value
        checkpoint = str(checkpoint) if checkpoint not in (None, "") and str(checkpoint) != "." else None
        return preset(self.preset.value).replace(  # the preset's fields that have no control come with it
            scale=self.scale_factor,
            mode=self.mode.value,
            iterations=None if self._auto_iterations else int(self.iterations.value),
            seed=int(self.seed.value),
            device=self.device.value,
            use_cks=bool(self.use_cks.value),
            cks_proposals=int(self.cks_proposals.value),
            use_history=bool(self.use_history.value),
            theta_h=float(self.theta_h.value),
            lr_image=float(self.lr_image.value),
            lr_kernel=float(self.lr_kernel.value),
            kernel_warmup=int(self.kernel_warmup.value),
            inner_steps=int(self.inner_steps.value),
            yield_every=None if self._auto_live_every else int(self.yield_every.value),
            encoder=self.encoder.value,
            clip_model=self.clip_model.value.strip(),
            clip_pretrained=self.clip_pretrained.value.strip(),
            clip_checkpoint=checkpoint,
            precision=self.precision.value,
            reconstruction=self.frame.reconstruction.value,
        )

    # ------------------------------------------------------------------ run / stop
    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._run is not None and self._run.running

    @property
    def worker(self):
        """The current (or last) run's worker, for tests and scripting."""
        return self._run.worker if self._run is not None else None

    def _report_problem(self, message: str) -> None:
        from napari.utils.notifications import show_warning

        self.message.value = wrappable(message)
        self.status.value = "Not started: see the message above."
        show_warning(message)

    def _on_run(self, _value: Any = None) -> None:
        if self.running:  # one run at a time (the button is disabled anyway)
            return
        layer = self.image.value
        try:
            config = self.make_config()
            region = self.frame.region_box(self._viewer, layer)
            run = HACBSRRun(
                self._viewer,
                layer,
                config,
                on_setup=self._on_setup,
                on_step=self._on_step,
                on_result=self._on_result,
                on_error=self._on_error,
                on_finished=self._on_finished,
                region=region,
                tile=self.frame.tile_choice(),
                budget_bytes=self.frame.budget_bytes(),
            )
        except ValueError as exc:
            name = f" on '{layer.name}'" if layer is not None else ""
            self._report_problem(f"HACBSR cannot run{name}: {exc}")
            return
        self._run = run
        self.message.value = ""
        self._set_running(True)
        self._status_line(f"Loading the networks on {run.device_description}…")
        run.start()

    def _on_stop(self, _value: Any = None) -> None:
        if self._run is not None and self._run.running:
            self._run.stop("stopped by the user")
            self.stop_button.text = "Stopping…"
            self.stop_button.enabled = False
            self._status_line(STOPPING)

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.stop_button.enabled = running
        self.stop_button.text = "Stop"
        self.main.enabled = not running
        self.advanced.enabled = not running

    # ------------------------------------------------------------------ status
    def _status_line(self, progress: str) -> None:
        """Device, encoder (in words, from the run's setup Step — said once, here) and progress."""
        from ..core.encoder import describe_encoder

        run = self._run
        device = run.device_description if run is not None else self.device_hint.value
        lines = [f"Device: {device}"]
        setup = run.setup_step if run is not None else None
        if setup is not None:
            lines.append(describe_encoder(setup.encoder, setup.encoder_note))
        lines.append(progress)
        self.status.value = "\n".join(lines)

    def _on_setup(self, step: Step) -> None:
        self._status_line("Warming up the kernel prior… (the SR layer shows a cubic upsample until then)")

    def _on_step(self, step: Step) -> None:
        run = self._run
        if run is None:
            return
        if step.kernel is not None:
            self.kernel_view.show_kernel(step.kernel)
        stopping = run.stop_event.is_set()  # (the Steps still in the queue must not hide that Stop was heard)
        self._status_line(STOPPING if stopping else step_text(step, run.eta_seconds(step)))

    def _on_result(self, result: Result | None) -> None:
        run = self._run
        if result is None or run is None:
            return
        self.kernel_view.show_kernel(result.kernel)
        text = result_text(result, run.stop_reason, run.sr_name, run.kernel_name)
        self._status_line(text)

    def _on_error(self, _exc: BaseException, message: str) -> None:
        self.message.value = wrappable(message)
        self._status_line("Failed — the run was reset; fix the cause and press Run again.")

    def _on_finished(self, run: HACBSRRun) -> None:
        self._set_running(False)
        if run.result is None and run.error is None:
            self._status_line(f"Aborted ({run.stop_reason or 'cancelled'}).")

    # ------------------------------------------------------------------ teardown
    def _detach(self) -> None:
        """The widget is going away: stop a running run (its layers stay) and drop UI listeners.

        Layer-list events need no disconnecting: napari holds bound methods weakly, and
        ``_refresh_layers`` tolerates a deleted Qt widget.
        """
        run = self._run
        if run is not None and run.running:
            run.detach_listeners()
            run.stop("the HACBSR widget was closed")
