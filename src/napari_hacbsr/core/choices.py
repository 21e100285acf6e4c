"""The choice lists and constants every layer of the run configuration reads (a leaf: imports nothing of ours).

`config`, `validation`, `kernel_model`, `plan` and the faces read them from here, so none of them has to
import another for a tuple of names.
"""

from __future__ import annotations

from typing import Any

MODES = ("hacbsr", "mlmc")
ENCODERS = ("auto", "clip", "fallback")
PRECISIONS = ("fp32", "bf16")
PROTOCOLS = ("stride", "bicubic")  # the simulator's degradation protocols (core.degradation.simulate)
MAX_SCALE = 8
# kernel models by name (core.kernel_model.KERNEL_MODELS); None in a config: the rule of
# core.kernel_model.default_kernel_model
KERNEL_MODEL_NAMES = ("hacbsr", "mlmc", "paper")
# a kernel model's parts
KL_WEIGHTINGS = ("uniform", "fit")
KERNEL_LOSSES = ("data", "scaled-mse-after-share")
PRIOR_OPTIMIZERS = ("shared", "own")
# kernel priors (covariance eigenvalue ranges, core.degradation.prior_lambda_range): "mlmc" = MLMC's
# shifted range (spec §1.2); "data" = the range real and simulated PSFs are drawn from (spec §1.1)
KERNEL_PRIORS = ("mlmc", "data")

# How a frame is reconstructed: "hacbsr" (the full algorithm, a DIP per HR pixel), "fast" (HACBSR estimates
# the kernel on a few textured tiles, a non-blind solver reconstructs the frame: core.fast_frame), or "auto":
# full HACBSR when its time estimate on this device fits AUTO_TIME_BUDGET_S, else the fast path.
RECONSTRUCTIONS = ("auto", "hacbsr", "fast")
AUTO_TIME_BUDGET_S = 600.0

# The noise gate: an LR whose noise (core.noise, a fraction of its value range) is below it is fitted with
# 1-SSIM throughout; above it the hyper-Laplacian's weight grows with the noise (docs/algorithm.md).
NOISE_GATE = 0.01

# The schedule policy, defined once for every entry point: the paper's schedule on a GPU (N = 300 for
# HACBSR, the MLMC code's 200 for MLMC mode, spec §3.1/§5.7); on a CPU, where one outer iteration of a
# 128² LR image takes seconds, a short one, with the live layers refreshed every iteration.
SCHEDULES: dict[str, dict[str, Any]] = {
    "gpu": {"iterations": {"hacbsr": 300, "mlmc": 200}, "yield_every": 10},
    "cpu": {"iterations": {"hacbsr": 100, "mlmc": 100}, "yield_every": 1},
}
# Each mode's loss schedule where a config leaves it as None: the share of the N outer iterations fitted with
# 1-SSIM (the paper's 81 of 300; the MLMC code's `it <= 80` of 200), whether the noise gate acts, whether
# the history term acts in the MSE phase too (moot in MLMC mode, which has no history model), and the
# convergence tolerance (core.convergence; MLMC mode runs the MLMC code's fixed count).
CONVERGENCE_TOL = 0.0
MODE_SCHEDULES: dict[str, dict[str, Any]] = {
    "hacbsr": {"ssim_share": 81 / 300, "noise_gate": True, "history_in_mse": False, "convergence_tol": CONVERGENCE_TOL},
    "mlmc": {"ssim_share": 81 / 200, "noise_gate": False, "history_in_mse": True, "convergence_tol": 0.0},
}


def is_accelerator(device: Any) -> bool:
    """The one "is this a GPU?" test: CUDA and Apple MPS devices (a torch.device or its string)."""
    return str(device).split(":", 1)[0].strip().lower() in ("cuda", "mps")


def schedule_kind(device: Any) -> str:
    """Which column of SCHEDULES a (resolved) device uses: "gpu" or "cpu"."""
    return "gpu" if is_accelerator(device) else "cpu"


def check_scale(scale: Any) -> int:
    """The one scale rule of every entry point: an integer 2..MAX_SCALE."""
    if isinstance(scale, bool) or not hasattr(scale, "__index__"):
        raise ValueError(f"scale must be an integer from 2 to {MAX_SCALE} (e.g. 2, 3, 4), got {scale!r}")
    scale = int(scale)
    if scale < 2:
        raise ValueError(f"scale must be at least 2, got {scale}: ×{scale} does not add any pixels")
    if scale > MAX_SCALE:
        raise ValueError(
            f"scale must be at most {MAX_SCALE}, got {scale}: the blur-kernel model (21 px) cannot "
            f"represent larger factors"
        )
    return scale
