"""The dock widget: Plugins → HACBSR → HACBSR Super-Resolution.

A magicgui ``Container`` (napari docks it and wires ``reset_choices``; every control is an
attribute, so tests and scripts can drive it). The heavy lifting (thread, live layers, stop,
errors) is ``_worker.HACBSRRun``, shared with ``scripting.run_in_viewer``.

torch is imported when the widget is created (to list devices), not when this module is imported.
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING, Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)

from ._geometry import layer_problem
from ._worker import (
    HACBSRRun,
    default_iterations,
    default_live_every,
    device_info,
    preload_torch_runtime,
    unwrap,
)

if TYPE_CHECKING:  # pragma: no cover
    import napari

ADVANCED_CLOSED = "▸ Advanced options"
ADVANCED_OPEN = "▾ Advanced options"


def format_seconds(seconds: float | None) -> str:
    """0:42, 12:05, 1:02:03."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class HACBSRWidget(Container):
    """Blind super-resolution of the selected Image layer, with live preview and Stop."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        from .core.config import MAX_SCALE, HACBSRConfig
        from .core.device import available_devices  # imports torch (once, when the widget opens)

        preload_torch_runtime()  # see its docstring: avoids an LLVM clash under software OpenGL
        self._viewer = viewer
        self._run: HACBSRRun | None = None
        self._auto_iterations = True  # follow the device's default until the user edits the field
        self._auto_live_every = True
        self._setting_default = False
        defaults = HACBSRConfig()

        # ------------------------------------------------------------ main inputs
        self.image = ComboBox(
            label="Image", choices=self._image_choices, tooltip="Image layer to super-resolve (2-D grey or RGB)"
        )
        self.scale = ComboBox(
            label="Scale ×",
            choices=[2, 3, 4],
            value=2,
            tooltip="Upscaling factor s (other integers: Advanced → Other scale)",
        )
        self.iterations = SpinBox(
            label="Iterations",
            min=1,
            max=100_000,
            value=1,
            tooltip="Outer iterations N. Default: the paper's 300 on a GPU, a short run on CPU",
        )
        self.iterations_hint = Label(value="")
        self.seed = SpinBox(
            label="Seed",
            min=0,
            max=2**31 - 1,
            value=defaults.seed,
            tooltip="Random seed: same seed + same settings = same result",
        )
        self.device = ComboBox(
            label="Device",
            choices=["auto", *available_devices()],
            value="auto",
            tooltip="'auto' uses the first GPU if there is one, else the CPU",
        )
        self.device_hint = Label(value="")
        self.main = Container(
            widgets=[
                self.image,
                self.scale,
                self.iterations,
                self.iterations_hint,
                self.seed,
                self.device,
                self.device_hint,
            ],
            labels=True,
        )

        # ------------------------------------------------------------ advanced inputs
        self.advanced_toggle = PushButton(text=ADVANCED_CLOSED)
        self.mode = ComboBox(
            label="Mode",
            choices=[("HACBSR", "hacbsr"), ("MLMC", "mlmc")],
            value=defaults.mode,
            tooltip="HACBSR (the paper) or its MLMC baseline",
        )
        self.custom_scale = SpinBox(
            label="Other scale",
            min=0,
            max=MAX_SCALE,
            value=0,
            tooltip=f"Any integer 2..{MAX_SCALE}; overrides 'Scale ×'. 0 = off",
        )
        self.use_cks = CheckBox(text="Contrastive kernel sampling", value=defaults.use_cks)
        self.cks_proposals = SpinBox(label="CKS proposals", min=1, max=64, value=defaults.cks_proposals)
        self.use_history = CheckBox(text="History contrast", value=defaults.use_history)
        self.theta_h = FloatSpinBox(label="History weight θh", min=0.0, max=10.0, step=0.05, value=defaults.theta_h)
        self.lr_image = FloatSpinBox(
            label="LR image",
            min=1e-5,
            max=1.0,
            step=1e-5,
            value=defaults.lr_image,
            tooltip="Learning rate of the image generator",
        )
        self.lr_kernel = FloatSpinBox(
            label="LR kernel",
            min=1e-5,
            max=1.0,
            step=1e-5,
            value=defaults.lr_kernel,
            tooltip="Learning rate of the kernel network",
        )
        self.kernel_warmup = SpinBox(
            label="Kernel warm-up",
            min=0,
            max=10_000,
            value=defaults.kernel_warmup,
            tooltip="Warm-up steps of the kernel prior",
        )
        self.inner_steps = SpinBox(
            label="Inner steps",
            min=1,
            max=100,
            value=defaults.inner_steps,
            tooltip="Image steps per outer iteration (P)",
        )
        self.yield_every = SpinBox(
            label="Live update every",
            min=1,
            max=10_000,
            value=defaults.yield_every,
            tooltip="Refresh the live layers every this many iterations (default: 10 on a GPU, 1 on CPU)",
        )
        self.encoder = ComboBox(
            label="Encoder",
            choices=["auto", "clip", "fallback"],
            value=defaults.encoder,
            tooltip="Feature encoder for the contrastive losses: 'auto' = CLIP if its "
            "weights are found, else the weight-free fallback (shown in status)",
        )
        self.clip_model = LineEdit(label="CLIP model", value=defaults.clip_model)
        self.clip_pretrained = LineEdit(label="CLIP tag", value=defaults.clip_pretrained)
        self.clip_checkpoint = FileEdit(
            label="CLIP checkpoint",
            mode="r",
            nullable=True,
            tooltip="Local CLIP weights file (overrides the tag); optional",
        )
        self.precision = ComboBox(
            label="Precision",
            choices=["fp32", "bf16"],
            value=defaults.precision,
            tooltip="bf16 autocast (CUDA only) uses less memory",
        )
        self.advanced = Container(
            widgets=[
                self.mode,
                self.custom_scale,
                self.use_cks,
                self.cks_proposals,
                self.use_history,
                self.theta_h,
                self.lr_image,
                self.lr_kernel,
                self.kernel_warmup,
                self.inner_steps,
                self.yield_every,
                self.encoder,
                self.clip_model,
                self.clip_pretrained,
                self.clip_checkpoint,
                self.precision,
            ],
            labels=True,
        )
        self.advanced.visible = False

        # ------------------------------------------------------------ actions and status
        self.run_button = PushButton(text="Run")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.buttons = Container(widgets=[self.run_button, self.stop_button], layout="horizontal", labels=False)
        self.message = Label(value="")
        self.status = Label(value="Idle.")
        from qtpy.QtWidgets import QSizePolicy

        for label in (self.iterations_hint, self.device_hint, self.message, self.status):
            label.native.setWordWrap(True)  # long texts wrap instead of widening the dock
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message.native.setStyleSheet("color: #e0a040;")

        self.extend([self.main, self.advanced_toggle, self.advanced, self.buttons, self.message, self.status])

        # ------------------------------------------------------------ wiring
        self.advanced_toggle.changed.connect(self._toggle_advanced)
        self.run_button.changed.connect(self._on_run)
        self.stop_button.changed.connect(self._on_stop)
        self.device.changed.connect(self._update_defaults)
        self.mode.changed.connect(self._update_defaults)
        self.iterations.changed.connect(self._on_iterations_edited)
        self.yield_every.changed.connect(self._on_live_every_edited)
        self.image.changed.connect(self._on_image_changed)
        layer_events = unwrap(viewer).layers.events
        for name in ("inserted", "removed", "moved"):
            getattr(layer_events, name).connect(self._refresh_layers)

        this = weakref.ref(self)

        def _on_destroyed(*_: Any) -> None:  # the dock was closed: detach, keep the run's layers
            widget = this()
            if widget is not None and not sys.is_finalizing():
                widget._detach()

        self.native.destroyed.connect(_on_destroyed)

        self._update_defaults()
        self.reset_choices()
        self._on_image_changed()

    # ------------------------------------------------------------------ layer list
    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Image

        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]

    def _refresh_layers(self, _event: Any = None) -> None:
        try:
            self.image.reset_choices()
        except RuntimeError:  # the Qt widget was already deleted
            self._detach()

    def _on_image_changed(self, _value: Any = None) -> None:
        problem = layer_problem(self.image.value) if self.image.value is not None else None
        self.message.value = problem or ""

    # ------------------------------------------------------------------ defaults
    def _update_defaults(self, _value: Any = None) -> None:
        try:
            device, description = device_info(self.device.value)
        except ValueError as exc:
            device, description = "cpu", str(exc)
        self.device_hint.value = f"{self.device.value} → {description}"
        default = default_iterations(device, self.mode.value)
        where = "GPU" if device.startswith(("cuda", "mps")) else "CPU"
        self.iterations_hint.value = f"Default on {where}: {default} iterations" + (
            "" if where == "GPU" else " (the paper's 300 needs a GPU; raise it for best quality)"
        )
        self._setting_default = True
        try:
            if self._auto_iterations:
                self.iterations.value = default
            if self._auto_live_every:
                self.yield_every.value = default_live_every(device)
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
        custom = int(self.custom_scale.value)
        return custom if custom >= 2 else int(self.scale.value)

    def make_config(self):
        """The HACBSRConfig for the current controls (raises ValueError on invalid values)."""
        from .core.config import HACBSRConfig

        checkpoint = self.clip_checkpoint.value
        checkpoint = str(checkpoint) if checkpoint not in (None, "") and str(checkpoint) != "." else None
        return HACBSRConfig(
            scale=self.scale_factor,
            mode=self.mode.value,
            iterations=int(self.iterations.value),
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
            yield_every=int(self.yield_every.value),
            encoder=self.encoder.value,
            clip_model=self.clip_model.value.strip(),
            clip_pretrained=self.clip_pretrained.value.strip(),
            clip_checkpoint=checkpoint,
            precision=self.precision.value,
        )

    # ------------------------------------------------------------------ run / stop
    @property
    def running(self) -> bool:
        return self._run is not None and self._run.running

    @property
    def worker(self):
        """The current (or last) run's worker, for tests and scripting."""
        return self._run.worker if self._run is not None else None

    def _report_problem(self, message: str) -> None:
        from napari.utils.notifications import show_warning

        self.message.value = message
        self.status.value = "Not started: see the message above."
        show_warning(message)

    def _on_run(self, _value: Any = None) -> None:
        if self.running:  # one run at a time (the button is disabled anyway)
            return
        layer = self.image.value
        problem = layer_problem(layer)
        if problem:
            self._report_problem(problem)
            return
        try:
            config = self.make_config()
            run = HACBSRRun(
                self._viewer,
                layer,
                config,
                on_step=self._on_step,
                on_result=self._on_result,
                on_error=self._on_error,
                on_finished=self._on_finished,
            )
        except ValueError as exc:
            self._report_problem(f"HACBSR cannot run on '{layer.name}': {exc}")
            return
        run._callbacks["warning"] = self._on_warning
        self._run = run
        self.message.value = ""
        self._set_running(True)
        self._status_line(f"Warming up the kernel prior on {run.device_description}…")
        run.start()

    def _on_stop(self, _value: Any = None) -> None:
        if self._run is not None and self._run.running:
            self._run.stop("stopped by the user")
            self.stop_button.text = "Stopping…"
            self.stop_button.enabled = False

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.stop_button.enabled = running
        self.stop_button.text = "Stop"
        self.main.enabled = not running
        self.advanced.enabled = not running

    # ------------------------------------------------------------------ status
    def _encoder_text(self, result: Any = None) -> tuple[str, str]:
        """(short status text, full note for the tooltip) about the feature encoder in use."""
        run = self._run
        if result is not None:
            name, note = result.encoder, result.encoder_note
        elif run is None:
            return "Encoder: –", ""
        else:
            cfg = run.config
            step = run.last_step
            note = getattr(step, "encoder_note", None) or run.encoder_note
            name = getattr(step, "encoder", None)
            if name:
                pass
            elif not cfg.history_enabled:
                name = "none (history contrast is off)"
            elif cfg.encoder == "fallback" or note:
                name = "weight-free fallback"
            elif step is None:
                name = (
                    f"loading CLIP {cfg.clip_model}…"
                    if cfg.encoder == "clip"
                    else (f"auto: CLIP {cfg.clip_model} if its weights are found, else the fallback")
                )
            else:  # the encoder loads before warm-up ends; no fallback warning means CLIP loaded
                name = f"CLIP {cfg.clip_model}"
        if note and note != "fallback requested":
            return f"Encoder: {name} — ⚠ CLIP weights not found, using the fallback (hover for details)", note
        return f"Encoder: {name}", ""

    def _status_line(self, progress: str, result: Any = None) -> None:
        run = self._run
        if result is not None:
            device = result.device_name  # describe_device() of the device the engine used
        elif run is not None:
            device = run.device_description
        else:
            device = self.device_hint.value
        encoder, note = self._encoder_text(result)
        self.status.value = f"Device: {device}\n{encoder}\n{progress}"
        self.status.tooltip = note or None

    def _on_warning(self, _text: str) -> None:
        if self._run is not None and self._run.last_step is None:
            self._status_line(f"Warming up the kernel prior on {self._run.device_description}…")

    def _on_step(self, step: Any) -> None:
        run = self._run
        if run is None:
            return
        if step.stage == "warmup":
            text = f"Kernel warm-up done · iteration 0/{step.total} · elapsed {format_seconds(step.elapsed)}"
        else:
            loss = step.losses.get("data", next(iter(step.losses.values()), None))
            loss_text = f"{loss:.3e}" if loss is not None else "–"
            text = (
                f"Iteration {step.iteration}/{step.total} · loss {loss_text} · "
                f"elapsed {format_seconds(step.elapsed)} · ETA {format_seconds(run.eta_seconds(step))}"
            )
        self._status_line(text)

    def _on_result(self, result: Any) -> None:
        run = self._run
        if result is None or run is None:
            return
        total = format_seconds(result.timings.get("total"))
        if result.stopped_early:
            why = run.stop_reason or "stopped"
            text = (
                f"Stopped ({why}) after {result.iterations_done}/{result.config.outer_iterations} "
                f"iterations in {total}; the current estimate is in '{run.sr_name}'."
            )
        else:
            text = f"Done: {result.iterations_done} iterations in {total} → '{run.sr_name}' and '{run.kernel_name}'."
        self._status_line(text, result)

    def _on_error(self, _exc: BaseException, message: str) -> None:
        self.message.value = message
        self._status_line("Failed — the run was reset; fix the cause and press Run again.")

    def _on_finished(self, run: HACBSRRun) -> None:
        self._set_running(False)
        if run.result is None and run.error is None:
            self._status_line(f"Aborted ({run.stop_reason or 'cancelled'}).")

    # ------------------------------------------------------------------ teardown
    def _detach(self) -> None:
        """The widget is going away: stop a running run (its layers stay) and drop UI callbacks.

        Layer-list events need no disconnecting: napari holds bound methods weakly, and
        ``_refresh_layers`` tolerates a deleted Qt widget.
        """
        run = self._run
        if run is not None and run.running:
            run._callbacks.update(step=None, result=None, error=None, finished=None, warning=None)
            run.stop("the HACBSR widget was closed")
