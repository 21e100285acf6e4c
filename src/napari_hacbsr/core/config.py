"""Run configuration: paper defaults, validation in one place, dict round-trip."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .sampling import kernel_size_for

MODES = ("hacbsr", "mlmc")
ENCODERS = ("auto", "clip", "fallback")
FALLBACK_ENCODERS = ("pixels-224", "pixels-224-clipnorm")
PRECISIONS = ("fp32", "bf16")
PROTOCOLS = ("stride", "bicubic")  # the simulator's degradation protocols (core.degradation.simulate)
MAX_SCALE = 8
KL_WEIGHTINGS = ("uniform", "fit")
META_WEIGHTINGS = ("eq12", "sum")
KERNEL_LOSSES = ("data", "mse", "scaled-mse", "scaled-mse-after-share")
PRIOR_OPTIMIZERS = ("shared", "own")
# kernel priors (covariance eigenvalue ranges, core.degradation.prior_lambda_range): "mlmc" = MLMC's
# shifted range (spec §1.2); "data" = the range real and simulated PSFs are drawn from (spec §1.1)
KERNEL_PRIORS = ("mlmc", "data")

# The schedule policy, defined once for every entry point (widget, console, CLI, batch, benchmarks).
# Fields left as None are filled by `HACBSRConfig.for_device`: the paper's schedule on a GPU (N = 300
# for HACBSR, the MLMC code's 200 for MLMC mode, spec §3.1/§5.7); on a CPU, where one outer iteration
# of a 128² LR image takes seconds, a short schedule (docs/benchmarks.md measures what it gives), with
# the live layers refreshed every iteration instead of every 10.
SCHEDULES: dict[str, dict[str, Any]] = {
    "gpu": {"iterations": {"hacbsr": 300, "mlmc": 200}, "yield_every": 10},
    "cpu": {"iterations": {"hacbsr": 100, "mlmc": 100}, "yield_every": 1},
}
# The kernel model and data loss each mode runs with, for every field left as None (filled in with the
# schedule by `HACBSRConfig.for_device`). HACBSR's is the model measured best on the MLMC anchor files at
# x4 (issue 8, docs/benchmarks.md): the data's PSF range, a warm-up that imposes the prior's mean and a
# prior stage with its own Adam (so it pulls as hard as the data does); 1-SSIM for the paper's 81 of 300,
# then MSE. MLMC mode keeps the MLMC code's: its shifted prior, one shared Adam, plain warm-up, prior kernels
# weighted by their fit (its MCMC step), 1-SSIM for `it <= 80` of 200. `ssim_share`: the share of the N
# outer iterations fitted with 1-SSIM; warmup_lr/prior_lr None mean lr_kernel. The noise gate: an
# LR whose noise (core.noise, a fraction of its value range) is below `noise_gate` is fitted with 1-SSIM
# throughout, as the "noise-free" preset does (NOISE_GATE: docs/algorithm.md, "The loss schedule's gate");
# above it the hyper-Laplacian's weight grows with the noise, lr_noise / gate times (`prior_follows_noise`),
# and, opt-in, `discrepancy` fits down to the noise level and no further.
NOISE_GATE = 0.01
LOSS_SCHEDULE = ("ssim_share", "noise_gate", "discrepancy", "prior_follows_noise", "kernel_loss", "history_in_mse")
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "hacbsr": {
        "kernel_prior": "data",
        "warmup_lr": 1e-3,
        "warmup_batch": 8,
        "prior_optimizer": "own",
        "prior_lr": 3e-4,
        "cks_calibrate": True,
        "cks_same_width": True,
        "kl_weighting": "uniform",
        "ssim_share": 81 / 300,
        "noise_gate": NOISE_GATE,
        "discrepancy": False,
        "prior_follows_noise": True,
        "kernel_loss": "data",
        "history_in_mse": False,
    },
    "mlmc": {
        "kernel_prior": "mlmc",
        "warmup_lr": None,
        "warmup_batch": 1,
        "prior_optimizer": "shared",
        "prior_lr": None,
        "cks_calibrate": False,
        "cks_same_width": False,
        "kl_weighting": "fit",
        "ssim_share": 81 / 200,
        "noise_gate": 0.0,
        "discrepancy": False,
        "prior_follows_noise": False,
        "kernel_loss": "data",
        "history_in_mse": True,
    },
}


def kernel_model(mode: str) -> dict[str, Any]:
    """A mode's kernel model: its defaults less the loss schedule (LOSS_SCHEDULE)."""
    return {name: value for name, value in MODE_DEFAULTS[mode].items() if name not in LOSS_SCHEDULE}


MLMC_KERNEL_MODEL = kernel_model("mlmc")  # the MLMC code's
# Where a mode's defaults depend on the scale: HACBSR runs the MLMC code's kernel model at x2, where the
# kernel (11 x 11) has the most LR pixels per parameter and the data pin it without a strong prior: there
# it measures better than HACBSR's own model (anchor files, bicubic protocol). At x3 the two are level and
# at x4 HACBSR's own is far ahead, so x3 and above keep it (docs/benchmarks.md, "Kernel model per scale").
# With that model's shared Adam the kernel fits the image's loss for the mode's 1-SSIM share, then
# MSE's direction at 1-SSIM's size (docs/algorithm.md, "The kernel's loss").
SCALE_DEFAULTS: dict[str, dict[int, dict[str, Any]]] = {
    "hacbsr": {2: {**MLMC_KERNEL_MODEL, "kernel_loss": "scaled-mse-after-share"}}
}


def mode_defaults(mode: str, scale: int) -> dict[str, Any]:
    """The defaults a run of `mode` at `scale` fills its None fields with (MODE_DEFAULTS + SCALE_DEFAULTS)."""
    return {**MODE_DEFAULTS[mode], **SCALE_DEFAULTS.get(mode, {}).get(int(scale), {})}


def is_accelerator(device: Any) -> bool:
    """The one "is this a GPU?" test: CUDA and Apple MPS devices (a torch.device or its string)."""
    return str(device).split(":", 1)[0].strip().lower() in ("cuda", "mps")


def schedule_kind(device: Any) -> str:
    """ "gpu" or "cpu": which column of SCHEDULES a (resolved) device uses."""
    return "gpu" if is_accelerator(device) else "cpu"


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
    iterations: int | None = None  # N; None -> the device's default (SCHEDULES, via for_device)
    inner_steps: int = 5  # P
    kernel_warmup: int = 200  # A18: MLMC's kernel warm-up, Adam steps on prior kernels
    # warm-up Adam rate and prior kernels averaged per warm-up step; the paper's lr_kernel and single
    # random target leave G_k nearly uniform (docs/algorithm.md). None: the mode's (MODE_DEFAULTS)
    warmup_lr: float | None = None
    warmup_batch: int | None = None

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
    # reproduces the LR image (MLMC's MCMC weights), so the stage cannot drag G_k off the data.
    # None: the mode's at this scale (mode_defaults); MLMC mode's MCMC step always weights by fit
    kl_weighting: str | None = None
    # HACBSR's per-iteration kernel meta loss: "eq12" weights the P step losses by Eq. 12 (paper),
    # "sum" adds them plainly as MLMC does
    meta_weighting: str = "eq12"
    # the loss the kernel's meta step fits: "data", the image's (1-SSIM in its phase, then MSE; MLMC, the
    # paper; HACBSR from x3), or "mse" throughout or "scaled-mse" (in the 1-SSIM phase MSE's
    # gradient at 1-SSIM's size). SSIM weighs flat areas most, so fitted on it G_k drifts narrow and
    # elongated; plain MSE's small steps leave a shared Adam to the prior, which keeps G_k wide and round;
    # scaled MSE holds the width but converges slower; "scaled-mse-after-share": the image's loss for the
    # mode's 1-SSIM share of N, scaled MSE after it (HACBSR's x2 default; docs/algorithm.md). None: the
    # mode's at this scale
    kernel_loss: str | None = None
    # the KL/MCMC stage's Adam: "shared" with the meta step (spec A19, one Adam), where the meta loss's
    # far larger gradients set Adam's scale and the prior step barely moves G_k; "own": a second Adam on
    # φ_k at `prior_lr`, so the prior pulls as hard as the data does (docs/algorithm.md)
    prior_optimizer: str | None = None
    prior_lr: float | None = None
    # rescale S by the prior's pairwise-similarity spread so τ, σ_min/σ_max act (raw S is 0.64..1; docs/algorithm.md)
    cks_calibrate: bool | None = None
    # CKS's M candidates share one size (KernelSampler.same_width), else J's pick narrows the prior 11 %
    cks_same_width: bool | None = None
    # covariance range of the prior (degradation.prior_lambda_range): "data" covers narrow PSFs; "mlmc" [3.7, 20] at ×4
    kernel_prior: str | None = None

    # --- history-augmented contrast (spec §5.4); use_history=False is the "-CL" ablation
    use_history: bool = True
    # the history term in the MSE phase too (the paper, MLMC mode's moot), or only while the data term is
    # 1-SSIM (HACBSR's default): with the fallback encoder it is a pixel MSE to the lagging EMA network,
    # the MSE data term's own units, so there it holds the image near its past; above the gate the image
    # prior now follows the noise instead (docs/algorithm.md, "The history term in the MSE phase")
    history_in_mse: bool | None = None
    theta_h: float = 0.4
    history_interval: int = 10  # EMA update every 10 global inner steps (A2)
    alpha_range: tuple[float, float] = (0.8, 0.99)
    alpha_loss_range: tuple[float, float] = (1e-6, 1e-2)

    # --- MLMC inheritances kept by default (A17)
    # leading outer iterations fitted with 1-SSIM; None -> ssim_share of N; 0 disables
    ssim_phase: int | None = None
    ssim_share: float | None = None  # ... or this share of N (None: the mode's, MODE_DEFAULTS, or the gate's 1)
    noise_gate: float | None = None  # None: the mode's (MODE_DEFAULTS); 0 never fits 1-SSIM throughout
    # the LR's white-noise σ as a fraction of its value range: known, or None to estimate it (core.noise)
    lr_noise: float | None = None
    discrepancy: bool | None = None  # opt-in: above the gate, fit down to lr_noise only (losses.DataTerm)
    hyper_laplacian_weight: float = 2e-4  # at or below the gate; see image_prior_weight above it
    prior_follows_noise: bool | None = None  # above the gate, weight × lr_noise / gate (None: the mode's)
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
    # Steps carry image/kernel copies every this many iterations; None -> the device's default (SCHEDULES)
    yield_every: int | None = None
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
        """N. Unresolved (no device yet), the paper's GPU schedule; runs use `for_device` first."""
        return self.iterations if self.iterations is not None else SCHEDULES["gpu"]["iterations"][self.mode]

    @property
    def ssim_iterations(self) -> int:
        """Leading outer iterations fitted with 1-SSIM."""
        if self.ssim_phase is not None:
            return self.ssim_phase
        if self.ssim_share is not None:
            return round(self.ssim_share * self.outer_iterations)
        return round((1.0 if self.below_noise_gate else self.mode_default("ssim_share")) * self.outer_iterations)

    @property
    def share_iterations(self) -> int:
        """The 1-SSIM phase without the noise gate: the hand-set one, else the mode's share of N
        (where kernel_loss="scaled-mse-after-share" moves the kernel to MSE's direction)."""
        if self.schedule_by_hand:
            return self.ssim_iterations
        return round(self.mode_default("ssim_share") * self.outer_iterations)

    def kernel_loss_at(self, index: int) -> str:
        """The kernel's loss in outer iteration `index`: "scaled-mse-after-share" is the image's loss
        ("data") for the first `share_iterations`, then "scaled-mse"; other kinds hold for the whole run."""
        kind = self.setting("kernel_loss")
        if kind != "scaled-mse-after-share":
            return kind
        return "data" if index < self.share_iterations else "scaled-mse"

    @property
    def schedule_by_hand(self) -> bool:
        """Whether the user set the loss schedule (`ssim_phase` or `ssim_share`): then no gate applies."""
        return self.ssim_phase is not None or self.ssim_share is not None

    @property
    def below_noise_gate(self) -> bool:
        """Whether the LR's noise (`lr_noise`, known or estimated) is below the gate, so a run with the
        mode's loss schedule fits 1-SSIM throughout; False while the noise is unknown."""
        return self.lr_noise is not None and self.lr_noise < self.gate

    @property
    def gate(self) -> float:
        """The noise gate: `noise_gate`, or the mode's (MODE_DEFAULTS)."""
        return self.setting("noise_gate")

    def _above_gate(self, switch: str) -> bool:
        """Whether a noise rule (`switch`, None: the mode's) acts: it is on, the noise is known and above a
        gate > 0, and the loss schedule is the mode's (none acts for a schedule set by hand)."""
        on = self.setting(switch)
        known = self.lr_noise is not None and self.gate > 0
        return bool(on) and known and not self.schedule_by_hand and not self.below_noise_gate

    @property
    def noise_floor(self) -> float:
        """The MSE a noise-aware data term leaves unfitted (lr_noise²) when `discrepancy` acts, else 0."""
        return self.lr_noise**2 if self._above_gate("discrepancy") else 0.0  # type: ignore[operator]

    @property
    def image_prior_weight(self) -> float:
        """The hyper-Laplacian's weight in a run: × lr_noise / gate above the gate. The MSE's gradient grows
        with the residual and the prior's does not, so the fit settles where the residual is proportional to
        the weight: a weight proportional to the noise stops the fit at a residual proportional to it
        (Morozov's principle; docs/algorithm.md, "The image prior above the gate")."""
        if not self._above_gate("prior_follows_noise"):
            return self.hyper_laplacian_weight
        return self.hyper_laplacian_weight * self.lr_noise / self.gate  # type: ignore[operator]

    def mode_default(self, name: str) -> Any:  # (this config's mode and scale)
        return mode_defaults(self.mode, self.scale)[name]

    def setting(self, name: str) -> Any:
        """A field's value, or the mode's default (this mode and scale) where it is None."""
        value = getattr(self, name)
        return self.mode_default(name) if value is None else value

    @property
    def live_every(self) -> int:
        return self.yield_every if self.yield_every is not None else SCHEDULES["gpu"]["yield_every"]

    def for_device(self, device: Any) -> HACBSRConfig:
        """A copy with every default left as None filled in: the schedule for `device` (a resolved
        device), the kernel model for the mode and scale (mode_defaults; warmup_lr/prior_lr None = lr_kernel)."""
        schedule = SCHEDULES[schedule_kind(device)]
        changes: dict[str, Any] = {
            name: (value if value is not None or name not in ("warmup_lr", "prior_lr") else self.lr_kernel)
            for name, value in mode_defaults(self.mode, self.scale).items()
            if getattr(self, name) is None and name != "ssim_share"  # (None: the mode's share or the gate)
        }
        if self.iterations is None:
            changes["iterations"] = schedule["iterations"][self.mode]
        if self.yield_every is None:
            changes["yield_every"] = schedule["yield_every"]
        return self.replace(**changes)

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
        from .validation import check_config  # (validation.py reads this module's constants)

        check_config(self)

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
        """A named configuration plus `changes`: "default", "noise-free" (1-SSIM for the whole run, for
        noise-free data), "mlmc-kernel" / "hacbsr-kernel" (one kernel model at every scale; the default
        takes the MLMC code's at ×2 and HACBSR's own above), "paper" (the engine as first implemented,
        reproduced exactly) or "data-prior" (an intermediate kernel model of issue 8); docs/algorithm.md,
        "Kernel model"."""
        from .presets import PRESETS  # (presets.py builds on this module)

        if name not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
        return cls.from_dict({**PRESETS[name], **changes})

    def replace(self, **changes: Any) -> HACBSRConfig:
        """A validated copy with some fields changed (unknown names raise ValueError)."""
        data = self.to_dict()
        data.update(changes)
        return HACBSRConfig.from_dict(data)
