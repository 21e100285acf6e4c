"""Validation of a `HACBSRConfig`: every field's rule, each failure a message that says what to change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import (
    ENCODERS,
    FALLBACK_ENCODERS,
    KERNEL_LOSSES,
    KERNEL_PRIORS,
    KL_WEIGHTINGS,
    META_WEIGHTINGS,
    MODES,
    PRECISIONS,
    PRIOR_OPTIMIZERS,
)
from .sampling import SAMPLING_CONVENTIONS

if TYPE_CHECKING:
    from .config import HACBSRConfig


def check_config(cfg: HACBSRConfig) -> None:
    """Raise ValueError with a message that says what to change."""

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(msg)

    from .image import check_scale  # (the one scale rule; image.py imports config lazily too)

    check_scale(cfg.scale)
    need(cfg.mode in MODES, f"mode must be one of {MODES}, got {cfg.mode!r}")
    need(
        cfg.sampling in SAMPLING_CONVENTIONS,
        f"sampling must be one of {SAMPLING_CONVENTIONS}, got {cfg.sampling!r}",
    )
    need(
        cfg.iterations is None or (isinstance(cfg.iterations, int) and cfg.iterations >= 1),
        f"iterations must be a positive integer (or None for the device default), got {cfg.iterations!r}",
    )
    for name in (
        "inner_steps",
        "cks_proposals",
        "cks_window",
        "kl_kernels",
        "history_interval",
        "mcmc_samples",
        "mlmc_meta_interval",
    ):
        value = getattr(cfg, name)
        need(isinstance(value, int) and value >= 1, f"{name} must be an integer >= 1, got {value!r}")
    for name in ("yield_every", "warmup_batch"):
        value = getattr(cfg, name)
        ok = value is None or (isinstance(value, int) and value >= 1)
        need(ok, f"{name} must be an integer >= 1 (or None for the default), got {value!r}")
    need(
        cfg.ssim_phase is None or (isinstance(cfg.ssim_phase, int) and cfg.ssim_phase >= 0),
        f"ssim_phase must be an integer >= 0 (or None for the mode's share of N), got {cfg.ssim_phase!r}",
    )
    for name in ("kernel_warmup", "seed"):
        value = getattr(cfg, name)
        need(isinstance(value, int) and value >= 0, f"{name} must be an integer >= 0, got {value!r}")
    for name in ("warmup_lr", "prior_lr"):
        value = getattr(cfg, name)
        ok = value is None or (isinstance(value, (int, float)) and value > 0)
        need(ok, f"{name} must be > 0 (or None for the mode's), got {value!r}")
    need(
        cfg.ssim_share is None or (isinstance(cfg.ssim_share, (int, float)) and 0 <= cfg.ssim_share <= 1),
        f"ssim_share must be between 0 and 1 (or None for the mode's), got {cfg.ssim_share!r}",
    )
    need(cfg.kl_weighting in (None, *KL_WEIGHTINGS), f"kl_weighting must be one of {KL_WEIGHTINGS}")
    need(cfg.meta_weighting in META_WEIGHTINGS, f"meta_weighting must be one of {META_WEIGHTINGS}")
    need(cfg.kernel_loss in (None, *KERNEL_LOSSES), f"kernel_loss must be one of {KERNEL_LOSSES} (or None: the mode's)")
    need(cfg.prior_optimizer in (None, *PRIOR_OPTIMIZERS), f"prior_optimizer must be one of {PRIOR_OPTIMIZERS}")
    need(cfg.kernel_prior in (None, *KERNEL_PRIORS), f"kernel_prior must be one of {KERNEL_PRIORS}")
    switches = ("cks_calibrate", "cks_same_width", "discrepancy", "prior_follows_noise", "history_in_mse")
    flags = {name: getattr(cfg, name) for name in switches}
    need(set(flags.values()) <= {None, True, False}, f"{flags} must be True, False or None (the mode's)")
    for name in ("lr_image", "lr_kernel"):
        value = getattr(cfg, name)
        need(isinstance(value, (int, float)) and value > 0, f"{name} must be > 0, got {value!r}")
    need(cfg.theta_h >= 0, f"theta_h must be >= 0, got {cfg.theta_h}")
    for name in ("noise_gate", "lr_noise"):
        value = getattr(cfg, name)
        ok = value is None or (isinstance(value, (int, float)) and 0 <= value < float("inf"))
        need(ok, f"{name} must be a fraction of the value range >= 0 (or None), got {value!r}")
    need(cfg.hyper_laplacian_weight >= 0, "hyper_laplacian_weight must be >= 0")
    need(len(cfg.cks_weights) == 3, "cks_weights needs three values (Pearson, SSIM, descriptor)")
    lo, hi = cfg.alpha_range
    need(0 <= lo <= hi <= 1, f"alpha_range must satisfy 0 <= low <= high <= 1, got {cfg.alpha_range}")
    lo, hi = cfg.alpha_loss_range
    need(0 <= lo < hi, f"alpha_loss_range must satisfy 0 <= low < high, got {cfg.alpha_loss_range}")
    need(cfg.encoder in ENCODERS, f"encoder must be one of {ENCODERS}, got {cfg.encoder!r}")
    need(
        cfg.fallback_encoder in FALLBACK_ENCODERS,
        f"fallback_encoder must be one of {FALLBACK_ENCODERS}, got {cfg.fallback_encoder!r}",
    )
    need(cfg.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {cfg.precision!r}")
    need(cfg.gray_channels in (1, 3), f"gray_channels must be 1 or 3, got {cfg.gray_channels}")
    need(isinstance(cfg.device, str) and cfg.device != "", "device must be a string such as 'auto'")
