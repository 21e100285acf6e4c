"""Run configuration: the user's knobs, validated in one place, with a dict round-trip.

A config says what the user asked for; fields left as None take the mode's, the scale's or the device's
value when a run is resolved (`core.plan.resolve`, once per entry point).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .choices import (  # noqa: F401  (re-exported: the faces read the choice lists through config)
    ENCODERS,
    MAX_SCALE,
    MODES,
    NOISE_GATE,
    PRECISIONS,
    PROTOCOLS,
    SCHEDULES,
    is_accelerator,
    schedule_kind,
)
from .sampling import kernel_size_for  # noqa: F401  (re-exported)
from .validation import check_config


@dataclass
class HACBSRConfig:
    """Every knob of one HACBSR/MLMC run. Defaults are the paper's (spec §5.7); None: resolved per run.

    Fields are grouped: schedule, learning rates, HACBSR additions (CKS, history contrast), the kernel model,
    MLMC inheritances (SSIM phase, hyper-Laplacian), encoder, and execution. A field set to the value a run
    would resolve it to behaves exactly as leaving it None.
    """

    scale: int = 2
    mode: str = "hacbsr"  # "hacbsr" | "mlmc"
    # where LR pixel i sits on the HR grid (core.sampling): sets the kernel prior's centre and
    # the placement of every output (napari layers, georeferenced files). "area" (pixel centres at
    # HR s·i + (s-1)/2) is a camera's; "stride" is the MLMC test data's (docs/algorithm.md)
    sampling: str = "area"

    # --- schedule (A25: N outer iterations x P inner image steps)
    iterations: int | None = None  # N; None -> the device's default (choices.SCHEDULES)
    inner_steps: int = 5  # P
    kernel_warmup: int = 200  # A18: MLMC's kernel warm-up, Adam steps on prior kernels
    # stop when the LR residual and the kernel moved by at most this (relative) over a window of outer
    # iterations (core.convergence), N then a ceiling; 0: run all N; None: the mode's (choices.MODE_SCHEDULES)
    convergence_tol: float | None = None

    # --- learning rates (A1, A19)
    lr_image: float = 5e-3
    lr_kernel: float = 1e-4  # paper prints 0.5; see A1 (0.5 collapses the kernel to a delta)

    # --- the kernel model by name (core.kernel_model): "hacbsr", "mlmc" or "paper"; None: MLMC mode and
    # ×2 run the MLMC code's, ×3 and above HACBSR's own
    kernel_model: str | None = None

    # --- Contrastive Kernel Sampling (spec §5.2); use_cks=False is the "-CK" ablation (M = 1)
    use_cks: bool = True
    cks_proposals: int = 8  # M (A3)
    cks_window: int = 20  # sliding window and FIFO capacity (A8)
    cks_weights: tuple[float, float, float] = (0.5, 0.2, 0.3)  # Pearson, SSIM, descriptor
    cks_tau: float = 0.3
    cks_sigma_min: float = 0.3
    cks_sigma_max: float = 0.8
    kl_kernels: int = 5  # T kernels per KL stage (A4)

    # --- history-augmented contrast (spec §5.4); use_history=False is the "-CL" ablation
    use_history: bool = True
    # the history term in the MSE phase too (the paper), or only while the data term is 1-SSIM (HACBSR's
    # default: with the fallback encoder it is a pixel MSE to the lagging EMA network, which holds the image
    # near its past); None: the mode's (choices.MODE_SCHEDULES)
    history_in_mse: bool | None = None
    theta_h: float = 0.4
    history_interval: int = 10  # EMA update every 10 global inner steps (A2)
    alpha_range: tuple[float, float] = (0.8, 0.99)
    alpha_loss_range: tuple[float, float] = (1e-6, 1e-2)

    # --- the loss schedule (A17): 1-SSIM for the leading share of the N outer iterations, then MSE
    ssim_share: float | None = None  # None: the mode's (HACBSR 81/300, MLMC 81/200)
    # the noise gate (None: on in HACBSR mode, off in MLMC mode): an LR whose noise is below NOISE_GATE is
    # fitted with 1-SSIM throughout, and above it the hyper-Laplacian's weight grows × noise / NOISE_GATE
    noise_gate: bool | None = None
    # the LR's white-noise σ as a fraction of its value range: known, or None to estimate it (core.noise)
    lr_noise: float | None = None
    hyper_laplacian_weight: float = 2e-4  # at or below the gate
    hyper_laplacian_p: float = 0.67

    # --- MLMC mode only (spec §3)
    mcmc_samples: int = 5  # L
    mlmc_meta_interval: int = 3  # P in the MLMC paper, counted on the global inner-step counter

    # --- feature encoder f_c (A11, spec §5.4)
    encoder: str = "auto"  # "auto": CLIP if its weights load, else labelled fallback; "clip": strict
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"  # open_clip pretrained tag
    clip_checkpoint: str | None = None  # local weights file; overrides the tag

    # --- network channels for single-channel images: 3 replicates gray as the paper did (2359K)
    gray_channels: int = 3

    # --- execution
    reconstruction: str = "auto"  # "auto" | "hacbsr" | "fast" (choices.RECONSTRUCTIONS)
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # "bf16": autocast the generator forward on CUDA
    # Steps carry image/kernel copies every this many iterations; None -> the device's default (SCHEDULES)
    yield_every: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form provenance, never read by the engine

    def __post_init__(self) -> None:
        self.cks_weights = tuple(float(v) for v in self.cks_weights)  # type: ignore[assignment]
        self.alpha_range = tuple(float(v) for v in self.alpha_range)  # type: ignore[assignment]
        self.alpha_loss_range = tuple(float(v) for v in self.alpha_loss_range)  # type: ignore[assignment]
        self.validate()

    # ------------------------------------------------------------------ derived values (no device needed)
    @property
    def kernel_size(self) -> int:
        """K, the blur kernel's side at this scale."""
        return kernel_size_for(self.scale)

    @property
    def outer_iterations(self) -> int:
        """N as set, else the paper's GPU schedule (a run's N is its plan's: `core.plan.resolve`)."""
        return self.iterations if self.iterations is not None else SCHEDULES["gpu"]["iterations"][self.mode]

    @property
    def history_enabled(self) -> bool:
        """The history model exists only in HACBSR mode with a non-zero weight."""
        return self.mode == "hacbsr" and self.use_history and self.theta_h > 0

    @property
    def proposals(self) -> int:
        """M: best-of-M contrastive sampling; 1 means plain random sampling ("-CK")."""
        return self.cks_proposals if self.use_cks else 1

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ValueError with a message that says what to change (core.validation)."""
        check_config(self)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (tuples as lists); `from_dict` reads it back."""
        out = dataclasses.asdict(self)
        for key in ("cks_weights", "alpha_range", "alpha_loss_range"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HACBSRConfig:
        """A config from `to_dict`'s output (a provenance JSON's "config"); unknown fields raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"a run configuration is a JSON object of field: value, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown HACBSRConfig field(s) {unknown}; valid fields: {sorted(known)}")
        try:
            return cls(**data)
        except TypeError as exc:  # a wrongly typed field that the validation could not even compare
            raise ValueError(f"invalid run configuration: {exc}") from None

    def replace(self, **changes: Any) -> HACBSRConfig:
        """A validated copy with some fields changed (unknown names raise ValueError)."""
        data = self.to_dict()
        data.update(changes)
        return HACBSRConfig.from_dict(data)
