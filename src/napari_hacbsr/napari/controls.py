"""The dock widget's controls: the main inputs (layer, scale, iterations, seed, device) and the advanced options."""

from __future__ import annotations

from collections.abc import Callable

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, FloatSpinBox, Label, LineEdit, SpinBox

from ..core.config import ENCODERS, MAX_SCALE, MODES, PRECISIONS, HACBSRConfig
from ..core.presets import PRESET_NAMES, preset


def describe_preset(name: str) -> str:
    """What the preset changes from the defaults, field by field (most of it is not shown as a control)."""
    default, chosen = HACBSRConfig().to_dict(), preset(name).to_dict()
    changes = [
        f"{field}={value:.4g}" if isinstance(value, float) else f"{field}={value}"
        for field, value in chosen.items()
        if value != default[field]
    ]
    return ", ".join(changes) if changes else "the defaults"


#: the main inputs, in display order (also exposed as attributes of the dock widget)
MAIN_NAMES = ("image", "scale", "iterations", "iterations_hint", "seed", "device", "device_hint")


class MainInputs(Container):
    """Layer, scale, iterations (with the device default shown under it), seed and device."""

    def __init__(self, image_choices: Callable, devices: list[str]) -> None:
        super().__init__(labels=True)
        defaults = HACBSRConfig()
        self.image = ComboBox(
            label="Image", choices=image_choices, tooltip="Image layer to super-resolve (2-D grey or RGB)"
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
            choices=devices,
            value="auto",
            tooltip="'auto' uses the first GPU if there is one, else the CPU",
        )
        self.device_hint = Label(value="")
        self.extend([getattr(self, name) for name in MAIN_NAMES])


#: the options a preset fills in (each a HACBSRConfig field); the others keep following the device or the user
PRESET_FIELDS = (
    "mode",
    "use_cks",
    "cks_proposals",
    "use_history",
    "theta_h",
    "lr_image",
    "lr_kernel",
    "kernel_warmup",
    "inner_steps",
    "encoder",
    "clip_model",
    "clip_pretrained",
    "clip_checkpoint",
    "precision",
)

#: the option widgets, in display order (also exposed as attributes of the dock widget)
OPTION_NAMES = (
    "preset",
    "preset_hint",
    "mode",
    "custom_scale",
    "use_cks",
    "cks_proposals",
    "use_history",
    "theta_h",
    "lr_image",
    "lr_kernel",
    "kernel_warmup",
    "inner_steps",
    "yield_every",
    "encoder",
    "clip_model",
    "clip_pretrained",
    "clip_checkpoint",
    "precision",
)


class AdvancedOptions(Container):
    """Collapsible advanced options (the dock widget reads them into its HACBSRConfig)."""

    def __init__(self) -> None:
        super().__init__(labels=True)
        defaults = HACBSRConfig()
        self.preset = ComboBox(
            label="Preset",
            choices=list(PRESET_NAMES),
            value="default",
            tooltip="A named configuration: choosing one fills in these options; the run starts from it",
        )
        self.preset_hint = Label(value=describe_preset("default"))
        self.mode = ComboBox(
            label="Mode",
            choices=[(mode.upper(), mode) for mode in MODES],
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
            value=1,
            tooltip="Refresh the live layers every this many iterations (default: 10 on a GPU, 1 on CPU)",
        )
        self.encoder = ComboBox(
            label="Encoder",
            choices=list(ENCODERS),
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
            choices=list(PRECISIONS),
            value=defaults.precision,
            tooltip="bf16 autocast (CUDA only) uses less memory",
        )
        self.extend([getattr(self, name) for name in OPTION_NAMES])
        self.preset.changed.connect(self._on_preset_chosen)

    def _on_preset_chosen(self, _value: object = None) -> None:
        """Fill the options from the chosen preset's config ("default" restores them)."""
        config = preset(self.preset.value)
        for name in PRESET_FIELDS:
            getattr(self, name).value = getattr(config, name)
        self.preset_hint.value = describe_preset(self.preset.value)
