"""Run configuration: paper defaults, validation in one place, dict round-trip."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .sampling import SAMPLING_CONVENTIONS, kernel_size_for

MODES = ("hacbsr", "mlmc")
ENCODERS = ("auto", "clip", "fallback")
FALLBACK_ENCODERS = ("pixels-224", "pixels-224-clipnorm")
PRECISIONS = ("fp32", "bf16")
MAX_SCALE = 8
KL_WEIGHTINGS = ("uniform", "fit")
META_WEIGHTINGS = ("eq12", "sum")
# kernel priors (covariance eigenvalue ranges, core.degradation.prior_lambda_range): "mlmc" = MLMC's
# shifted range (spec §1.2); "data" = the range real and simulated PSFs are drawn from (spec §1.1)
KERNEL_PRIORS = ("mlmc", "data")

# Outer iterations used when `iterations` is left as None: the paper's N for HACBSR and the
# MLMC code's `max_iters` for MLMC mode (spec §3.1, §5.7).
DEFAULT_ITERATIONS = {"hacbsr": 300, "mlmc": 200}


@dataclass
class HACBSRConfig:
    """Every knob of one HACBSR/MLMC run. Defaults are the paper's (spec §5.7).

    Fields are grouped: schedule, learning rates, HACBSR additions (CKS, history contrast),
    MLMC inheritances (SSIM phase, hyper-Laplacian, warm-up), encoder, and execution.
    """

    scale: int = 2
    mode: str = "hacbsr"  # "hacbsr" | "mlmc"
    # where LR pixel i sits on the HR grid (core.sampling): sets the kernel prior's centre and
    # the placement of every output (napari layers, georeferenced files). "area" (pixel centres at
    # HR s·i + (s-1)/2) is a camera's; "stride" is the MLMC test data's (docs/algorithm.md)
    sampling: str = "area"

    # --- schedule (A25: N outer iterations x P inner image steps)
    iterations: int | None = None  # N; None -> 300 (hacbsr) / 200 (mlmc)
    inner_steps: int = 5  # P
    kernel_warmup: int = 200  # A18: MLMC's kernel warm-up, Adam steps on prior kernels
    # warm-up Adam rate (None: lr_kernel, the paper's, which leaves G_k nearly uniform) and prior
    # kernels averaged per warm-up step (1: the paper's single random target)
    warmup_lr: float | None = 1e-3
    warmup_batch: int = 8

    # --- learning rates (A1, A19)
    lr_image: float = 5e-3
    lr_kernel: float = 1e-4  # paper prints 0.5; see A1 (0.5 collapses the kernel to a delta)

    # --- Contrastive Kernel Sampling (spec §5.2); use_cks=False is the "-CK" ablation (M = 1)
    use_cks: bool = True
    cks_proposals: int = 8  # M (A3)
    cks_window: int = 20  # sliding window and FIFO capacity (A8)
    cks_weights: tuple[float, float, float] = (0.5, 0.2, 0.3)  # Pearson, SSIM, descriptor
    cks_tau: float = 0.3
    cks_sigma_min: float = 0.3
    cks_sigma_max: float = 0.8
    kl_kernels: int = 5  # T kernels per KL stage (A4)
    # "uniform": Eq. 5's plain mean over the T kernels (paper); "fit": weighted by how well each
    # reproduces the LR image (MLMC's MCMC weights), so the stage cannot drag G_k off the data
    kl_weighting: str = "fit"
    # HACBSR's per-iteration kernel meta loss: "eq12" weights the P step losses by Eq. 12 (paper),
    # "sum" adds them plainly as MLMC does
    meta_weighting: str = "eq12"
    # rescale S by the prior's own pairwise-similarity spread so τ and σ_min/σ_max act (raw S
    # between prior kernels is 0.64..1, where S < 0.3 never happens; docs/algorithm.md)
    cks_calibrate: bool = True
    # covariance range of the kernel prior (core.degradation.prior_lambda_range): "data" covers
    # narrow PSFs; "mlmc" is MLMC's shifted range ([3.7, 20] at ×4)
    kernel_prior: str = "data"

    # --- history-augmented contrast (spec §5.4); use_history=False is the "-CL" ablation
    use_history: bool = True
    theta_h: float = 0.4
    history_interval: int = 10  # EMA update every 10 global inner steps (A2)
    alpha_range: tuple[float, float] = (0.8, 0.99)
    alpha_loss_range: tuple[float, float] = (1e-6, 1e-2)

    # --- MLMC inheritances kept by default (A17)
    ssim_phase: int = 81  # leading outer iterations that use 1-SSIM (MLMC: `it <= 80`); 0 disables
    hyper_laplacian_weight: float = 2e-4
    hyper_laplacian_p: float = 0.67

    # --- MLMC mode only (spec §3)
    mcmc_samples: int = 5  # L
    mlmc_meta_interval: int = 3  # P in the MLMC paper, counted on the global inner-step counter

    # --- feature encoder f_c (A11, spec §5.4)
    encoder: str = "auto"  # "auto": CLIP if its weights load, else labelled fallback; "clip": strict
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"  # open_clip pretrained tag
    clip_checkpoint: str | None = None  # local weights file; overrides the tag
    clip_normalize_features: bool = False
    # weight-free f_c when CLIP is absent: "pixels-224" ([0,1] units) or the spec's literal
    # "pixels-224-clipnorm" (CLIP mean/std scaling, ~14x stronger pull; see docs/algorithm.md)
    fallback_encoder: str = "pixels-224"

    # --- network channels for single-channel images: 3 replicates gray as the paper did (2359K)
    gray_channels: int = 3

    # --- execution
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # "bf16": autocast the generator forward on CUDA
    yield_every: int = 10  # Step carries image/kernel copies at most every this many iterations
    extra: dict[str, Any] = field(default_factory=dict)  # free-form provenance, never read by the engine

    def __post_init__(self) -> None:
        self.cks_weights = tuple(float(v) for v in self.cks_weights)  # type: ignore[assignment]
        self.alpha_range = tuple(float(v) for v in self.alpha_range)  # type: ignore[assignment]
        self.alpha_loss_range = tuple(float(v) for v in self.alpha_loss_range)  # type: ignore[assignment]
        self.validate()

    # ------------------------------------------------------------------ derived values
    @property
    def kernel_size(self) -> int:
        return kernel_size_for(self.scale)

    @property
    def outer_iterations(self) -> int:
        return self.iterations if self.iterations is not None else DEFAULT_ITERATIONS[self.mode]

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
        """Raise ValueError with a message that says what to change."""

        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ValueError(msg)

        need(
            isinstance(self.scale, int) and not isinstance(self.scale, bool),
            f"scale must be an integer (2, 3, 4, ...), got {self.scale!r}",
        )
        need(
            2 <= self.scale <= MAX_SCALE,
            f"scale must be between 2 and {MAX_SCALE}, got {self.scale}: the kernel model "
            f"({kernel_size_for(MAX_SCALE)} px) cannot represent larger factors",
        )
        need(self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}")
        need(
            self.sampling in SAMPLING_CONVENTIONS,
            f"sampling must be one of {SAMPLING_CONVENTIONS}, got {self.sampling!r}",
        )
        need(
            self.iterations is None or (isinstance(self.iterations, int) and self.iterations >= 1),
            f"iterations must be a positive integer (or None for the mode default), got {self.iterations!r}",
        )
        for name in (
            "inner_steps",
            "cks_proposals",
            "cks_window",
            "kl_kernels",
            "history_interval",
            "mcmc_samples",
            "mlmc_meta_interval",
            "yield_every",
            "warmup_batch",
        ):
            value = getattr(self, name)
            need(isinstance(value, int) and value >= 1, f"{name} must be an integer >= 1, got {value!r}")
        for name in ("kernel_warmup", "ssim_phase", "seed"):
            value = getattr(self, name)
            need(isinstance(value, int) and value >= 0, f"{name} must be an integer >= 0, got {value!r}")
        need(
            self.warmup_lr is None or (isinstance(self.warmup_lr, (int, float)) and self.warmup_lr > 0),
            f"warmup_lr must be > 0 (or None to use lr_kernel), got {self.warmup_lr!r}",
        )
        need(self.kl_weighting in KL_WEIGHTINGS, f"kl_weighting must be one of {KL_WEIGHTINGS}")
        need(self.meta_weighting in META_WEIGHTINGS, f"meta_weighting must be one of {META_WEIGHTINGS}")
        need(self.kernel_prior in KERNEL_PRIORS, f"kernel_prior must be one of {KERNEL_PRIORS}")
        for name in ("lr_image", "lr_kernel"):
            value = getattr(self, name)
            need(isinstance(value, (int, float)) and value > 0, f"{name} must be > 0, got {value!r}")
        need(self.theta_h >= 0, f"theta_h must be >= 0, got {self.theta_h}")
        need(self.hyper_laplacian_weight >= 0, "hyper_laplacian_weight must be >= 0")
        need(len(self.cks_weights) == 3, "cks_weights needs three values (Pearson, SSIM, descriptor)")
        lo, hi = self.alpha_range
        need(0 <= lo <= hi <= 1, f"alpha_range must satisfy 0 <= low <= high <= 1, got {self.alpha_range}")
        lo, hi = self.alpha_loss_range
        need(0 <= lo < hi, f"alpha_loss_range must satisfy 0 <= low < high, got {self.alpha_loss_range}")
        need(self.encoder in ENCODERS, f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        need(
            self.fallback_encoder in FALLBACK_ENCODERS,
            f"fallback_encoder must be one of {FALLBACK_ENCODERS}, got {self.fallback_encoder!r}",
        )
        need(self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        need(self.gray_channels in (1, 3), f"gray_channels must be 1 or 3, got {self.gray_channels}")
        need(isinstance(self.device, str) and self.device != "", "device must be a string such as 'auto'")

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("cks_weights", "alpha_range", "alpha_loss_range"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HACBSRConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown HACBSRConfig field(s) {unknown}; valid fields: {sorted(known)}")
        return cls(**data)

    @classmethod
    def preset(cls, name: str, **changes: Any) -> HACBSRConfig:
        """A named configuration plus `changes`: "default" (the measured best, docs/benchmarks.md)
        or "paper" (the paper-faithful kernel model as first implemented, reproduced exactly)."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        return cls.from_dict({**PRESETS[name], **changes})

    def replace(self, **changes: Any) -> HACBSRConfig:
        """A validated copy with some fields changed (unknown names raise ValueError)."""
        data = self.to_dict()
        data.update(changes)
        return HACBSRConfig.from_dict(data)


# Named configurations (field overrides of the dataclass defaults). "paper" restores every kernel-model
# setting to the paper-faithful implementation that preceded the measured defaults (issue 8).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {
        "sampling": "stride",
        "kernel_prior": "mlmc",
        "warmup_lr": None,
        "warmup_batch": 1,
        "kl_weighting": "uniform",
        "meta_weighting": "eq12",
        "cks_calibrate": False,
    },
}
