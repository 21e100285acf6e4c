"""A run resolved once: every default filled in for one device, one image and one kernel model.

`resolve(config, device, prepared)` is called once at each entry point (API, widget, CLI, batch item,
benchmarks); `plan_run`, `iterate_tiled`, `iterate` and the `Solver` take the `RunPlan` it returns and read
nothing from the config that the plan resolves. The config stays what the user asked for (None = "the
default"), so a provenance JSON's config replays the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .choices import AUTO_TIME_BUDGET_S, MODE_SCHEDULES, NOISE_GATE, SCHEDULES, schedule_kind
from .config import HACBSRConfig
from .cost_model import run_seconds
from .kernel_model import KERNEL_MODELS, KernelModel, default_kernel_model
from .noise import estimate_noise_sigma

if TYPE_CHECKING:
    from .image import PreparedImage


@dataclass(frozen=True)
class RunPlan:
    """One run's resolved settings. `config` is the user's; the other fields are what the run uses."""

    config: HACBSRConfig
    device: str  # resolved, e.g. "cpu", "cuda:0"
    iterations: int  # N
    yield_every: int  # Steps carry image/kernel copies every this many iterations
    kernel_model: str  # its name (core.kernel_model.KERNEL_MODELS)
    kernel: KernelModel  # with its rates resolved; MLMC mode: the MLMC loop's data loss
    lr_noise: float | None  # the LR's noise σ (fraction of its range), as known or estimated; None: too small
    noise_gate: bool
    ssim_iterations: int  # leading outer iterations fitted with 1-SSIM
    share_iterations: int  # the mode's 1-SSIM share of N whatever the gate (where the kernel loss switches)
    image_prior_weight: float  # the hyper-Laplacian's weight, × noise / gate above the gate
    history_in_mse: bool
    convergence_tol: float  # the stopping rule's tolerance (core.convergence); 0: all N iterations
    reconstruction: str  # "hacbsr" or "fast" ("auto" resolved by the time estimate)
    hacbsr_seconds: float | None  # full HACBSR's time estimate for the frame (None: no image or device model)

    # the config's plain fields, read through the plan by the engine
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # (copy/pickle probe dunders: not config fields)
            raise AttributeError(name)
        return getattr(self.config, name)

    @property
    def outer_iterations(self) -> int:
        """N, the run's outer iterations."""
        return self.iterations

    @property
    def live_every(self) -> int:
        """Steps carry image and kernel copies every this many iterations."""
        return self.yield_every

    @property
    def below_noise_gate(self) -> bool:
        """Whether the gate acts and the LR's noise is below it (1-SSIM for the whole run)."""
        return self.noise_gate and self.lr_noise is not None and self.lr_noise < NOISE_GATE

    def kernel_loss_at(self, index: int) -> str:
        """The kernel's loss in outer iteration `index`: "scaled-mse-after-share" is the image's loss ("data")
        for the first `share_iterations`, then "scaled-mse"; "data" holds for the whole run.
        """
        if self.kernel.kernel_loss != "scaled-mse-after-share":
            return self.kernel.kernel_loss
        return "data" if index < self.share_iterations else "scaled-mse"

    def describe_loss_schedule(self) -> str:
        """The data loss in words: 1-SSIM iterations, the prior's noise gain, and why (noise level and gate)."""
        noise = "LR noise unknown" if self.lr_noise is None else f"LR noise {100 * self.lr_noise:.2f} % of its range"
        why = f"{noise}, gate {100 * NOISE_GATE:g} %" if self.noise_gate else "no noise gate"
        n, total = self.ssim_iterations, self.iterations
        if n == total:
            return f"1-SSIM for all {total} iterations ({why})"
        base = self.config.hyper_laplacian_weight
        gain = self.image_prior_weight / base if base > 0 else 1.0
        prior = f", hyper-Laplacian ×{gain:.1f} for the noise" if gain != 1.0 else ""
        return f"1-SSIM for {n} of {total} iterations, then MSE{prior} ({why})"

    def to_dict(self) -> dict[str, Any]:
        """The resolved values for a provenance record (the config is recorded beside them)."""
        return {
            "device": self.device,
            "iterations": self.iterations,
            "yield_every": self.yield_every,
            "kernel_model": self.kernel_model,
            "kernel": dict(vars(self.kernel)),
            "lr_noise": self.lr_noise,
            "noise_gate": self.noise_gate,
            "ssim_iterations": self.ssim_iterations,
            "share_iterations": self.share_iterations,
            "image_prior_weight": self.image_prior_weight,
            "history_in_mse": self.history_in_mse,
            "convergence_tol": self.convergence_tol,
            "reconstruction": self.reconstruction,
            "hacbsr_seconds": self.hacbsr_seconds,
            "loss_schedule": self.describe_loss_schedule(),
        }


def resolve(
    config: HACBSRConfig,
    device: Any = None,
    prepared: PreparedImage | None = None,
    *,
    lr_shape: tuple[int, int] | None = None,
) -> RunPlan:
    """`config` resolved for `device` (None: the config's, resolved by core.device) and the prepared LR image
    (its noise is estimated unless `lr_noise` is known; without an image the noise stays unknown). The frame's
    size (`prepared`, or `lr_shape` for an estimate before the image is prepared) sets what "auto" picks.
    """
    if not isinstance(config, HACBSRConfig):
        raise TypeError(f"config must be a HACBSRConfig, got {type(config).__name__}")
    config.validate()
    if device is None:
        from .device import resolve_device  # (imports torch: only a run needs it)

        device = resolve_device(config.device)
    schedule = SCHEDULES[schedule_kind(device)]
    iterations = config.iterations if config.iterations is not None else schedule["iterations"][config.mode]
    mode = MODE_SCHEDULES[config.mode]
    lr_noise = config.lr_noise
    if lr_noise is None and prepared is not None:
        sigma = estimate_noise_sigma(prepared.y, prepared.mask)
        lr_noise = sigma if math.isfinite(sigma) else None
    gate = mode["noise_gate"] if config.noise_gate is None else config.noise_gate
    share = mode["ssim_share"] if config.ssim_share is None else config.ssim_share
    share_iterations = round(share * iterations)
    below = gate and lr_noise is not None and lr_noise < NOISE_GATE
    above = gate and lr_noise is not None and not below
    weight = config.hyper_laplacian_weight * (lr_noise / NOISE_GATE if above else 1.0)  # type: ignore[operator]
    name = config.kernel_model or default_kernel_model(config.mode, config.scale)
    kernel = KERNEL_MODELS[name].with_rates(config.lr_kernel)
    if config.mode == "mlmc":  # MLMC mode is the MLMC code's loop: its meta step fits the data loss
        kernel = KernelModel(**{**vars(kernel), "kernel_loss": "data"})
    history = mode["history_in_mse"] if config.history_in_mse is None else config.history_in_mse
    tol = mode["convergence_tol"] if config.convergence_tol is None else config.convergence_tol
    shape = prepared.lr_shape if prepared is not None else lr_shape
    seconds = None
    if shape is not None:
        hr_px = int(shape[0]) * int(shape[1]) * config.scale**2
        seconds = run_seconds(hr_px, config.replace(iterations=iterations), str(device))
    reconstruction = config.reconstruction
    if reconstruction == "auto":
        reconstruction = "fast" if seconds is not None and seconds > AUTO_TIME_BUDGET_S else "hacbsr"
    return RunPlan(
        config=config,
        device=str(device),
        iterations=iterations,
        yield_every=config.yield_every if config.yield_every is not None else schedule["yield_every"],
        kernel_model=name,
        kernel=kernel,
        lr_noise=lr_noise,
        noise_gate=bool(gate),
        ssim_iterations=iterations if below else share_iterations,
        share_iterations=share_iterations,
        image_prior_weight=weight,
        history_in_mse=bool(history),
        convergence_tol=float(tol),
        reconstruction=reconstruction,
        hacbsr_seconds=seconds,
    )


def prepare_run(
    image: Any, config: HACBSRConfig | RunPlan | None, channel_axis: int | None = None
) -> tuple[PreparedImage, RunPlan]:
    """The checked image and its plan, for a public generator given an array or a prepared image and a config
    (None: the default) or a plan: the one place where such an entry prepares and resolves.
    """
    from .image import PreparedImage, prepare_image

    if config is not None and not isinstance(config, HACBSRConfig | RunPlan):
        raise TypeError(f"config must be a HACBSRConfig or a RunPlan, got {type(config).__name__}")
    base = config.config if isinstance(config, RunPlan) else config or HACBSRConfig()
    if isinstance(image, PreparedImage):
        prepared = image
    else:
        prepared = prepare_image(image, base.scale, channel_axis, base.gray_channels)
    return prepared, as_plan(config, prepared)


def as_plan(config_or_plan: HACBSRConfig | RunPlan | None, prepared: PreparedImage | None = None) -> RunPlan:
    """A plan as given, or the config (None: the default) resolved here: where a public generator is the entry."""
    if isinstance(config_or_plan, RunPlan):
        return config_or_plan
    return resolve(config_or_plan if config_or_plan is not None else HACBSRConfig(), None, prepared)
