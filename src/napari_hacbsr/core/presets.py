"""Named configurations: field overrides of `HACBSRConfig`'s defaults (`HACBSRConfig.preset`)."""

from __future__ import annotations

from typing import Any

from .config import MLMC_KERNEL_MODEL, HACBSRConfig, kernel_model


# Named configurations (field overrides of the dataclass defaults). "default" is the engine's own
# (mode_defaults per mode and scale); "paper" is the engine as first implemented, bit for bit: MLMC's
# stride sampling, shifted prior, one shared Adam and plain warm-up, 1-SSIM for the first 81 of 300.
# "noise-free": 1-SSIM for the whole run, better on noise-free data (the MLMC anchor files) and harmful
# on noisy data. "data-prior" is the intermediate model of issue 8 (docs/benchmarks.md). "mlmc-kernel" and
# "hacbsr-kernel" pin one kernel model at every scale (the default picks by scale): HACBSR's image side
# (CKS draws, history contrast, Eq. 12 meta weights, 300 iterations) with the MLMC code's kernel model
# (its prior range, plain warm-up, fit-weighted prior kernels on the meta step's Adam) or with HACBSR's own.
# None rates mean lr_kernel, which a run would otherwise fill with the scale's own; neither model
# includes the loss schedule
def _pinned(model: dict[str, Any]) -> dict[str, Any]:
    return {name: HACBSRConfig.lr_kernel if value is None else value for name, value in model.items()}


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "noise-free": {"ssim_share": 1.0},
    "mlmc-kernel": _pinned(MLMC_KERNEL_MODEL),
    "hacbsr-kernel": _pinned(kernel_model("hacbsr")),
    "paper": {
        "sampling": "stride",
        "kernel_prior": "mlmc",
        "warmup_lr": 1e-4,
        "warmup_batch": 1,
        "prior_optimizer": "shared",
        "prior_lr": 1e-4,
        "cks_calibrate": False,
        "cks_same_width": False,
        "kl_weighting": "uniform",
        "ssim_share": 81 / 300,
        "noise_gate": 0.0,
        "kernel_loss": "data",
        "history_in_mse": True,
    },
    "data-prior": {
        "kernel_prior": "data",
        "warmup_lr": 1e-3,
        "warmup_batch": 8,
        "kl_weighting": "fit",
        "prior_optimizer": "shared",
        "cks_calibrate": True,
        "cks_same_width": False,
        "ssim_share": 81 / 300,
        "kernel_loss": "data",
        "history_in_mse": True,
    },
}
