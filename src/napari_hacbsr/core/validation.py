"""Validation of a `HACBSRConfig`: every field's rule, each failure a message that says what to change."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, TypeGuard

from .choices import (
    ENCODERS,
    KERNEL_MODEL_NAMES,
    MODES,
    PRECISIONS,
    RECONSTRUCTIONS,
    check_scale,
)
from .sampling import SAMPLING_CONVENTIONS

if TYPE_CHECKING:
    from .config import HACBSRConfig

#: the largest seed: the random generators (numpy, torch) take 63-bit seeds with room for per-tile offsets
MAX_SEED = 2**63 - 1


def check_config(cfg: HACBSRConfig) -> None:
    """Raise ValueError with a message that says what to change."""

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(msg)

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
    need(
        cfg.yield_every is None or (isinstance(cfg.yield_every, int) and cfg.yield_every >= 1),
        f"yield_every must be an integer >= 1 (or None for the device's default), got {cfg.yield_every!r}",
    )
    need(
        _is_integer(cfg.kernel_warmup) and cfg.kernel_warmup >= 0,
        f"kernel_warmup must be an integer >= 0, got {cfg.kernel_warmup!r}",
    )
    need(
        _is_integer(cfg.seed) and 0 <= cfg.seed <= MAX_SEED,
        f"seed must be an integer from 0 to 2**63 - 1 (the random generators' range), got {cfg.seed!r}",
    )
    need(
        cfg.kernel_model in (None, *KERNEL_MODEL_NAMES),
        f"kernel_model must be one of {KERNEL_MODEL_NAMES} (or None: the mode's at this scale), "
        f"got {cfg.kernel_model!r}",
    )
    need(
        cfg.ssim_share is None or (_is_number(cfg.ssim_share) and 0 <= cfg.ssim_share <= 1),
        f"ssim_share must be between 0 and 1 (or None for the mode's), got {cfg.ssim_share!r}",
    )
    for name in ("noise_gate", "history_in_mse"):
        value = getattr(cfg, name)
        need(
            value is None or isinstance(value, bool), f"{name} must be True, False or None (the mode's), got {value!r}"
        )
    need(
        cfg.convergence_tol is None or (_is_number(cfg.convergence_tol) and 0 <= cfg.convergence_tol < 1),
        f"convergence_tol must be a fraction >= 0 and < 1 (0: run every iteration; None: the mode's), "
        f"got {cfg.convergence_tol!r}",
    )
    for name in ("lr_image", "lr_kernel"):
        value = getattr(cfg, name)
        ok = _is_number(value) and 0 < value < float("inf")
        need(ok, f"{name} must be a finite number > 0, got {value!r}")
    need(cfg.theta_h >= 0, f"theta_h must be >= 0, got {cfg.theta_h}")
    need(
        cfg.lr_noise is None or (_is_number(cfg.lr_noise) and 0 <= cfg.lr_noise < float("inf")),
        f"lr_noise must be a fraction of the value range >= 0 (or None to estimate it), got {cfg.lr_noise!r}",
    )
    need(cfg.hyper_laplacian_weight >= 0, "hyper_laplacian_weight must be >= 0")
    need(len(cfg.cks_weights) == 3, "cks_weights needs three values (Pearson, SSIM, descriptor)")
    lo, hi = cfg.alpha_range
    need(0 <= lo <= hi <= 1, f"alpha_range must satisfy 0 <= low <= high <= 1, got {cfg.alpha_range}")
    lo, hi = cfg.alpha_loss_range
    need(0 <= lo < hi, f"alpha_loss_range must satisfy 0 <= low < high, got {cfg.alpha_loss_range}")
    need(cfg.encoder in ENCODERS, f"encoder must be one of {ENCODERS}, got {cfg.encoder!r}")
    need(
        cfg.reconstruction in RECONSTRUCTIONS,
        f"reconstruction must be one of {RECONSTRUCTIONS}, got {cfg.reconstruction!r}",
    )
    need(cfg.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {cfg.precision!r}")
    need(cfg.gray_channels in (1, 3), f"gray_channels must be 1 or 3, got {cfg.gray_channels}")
    need(isinstance(cfg.device, str) and cfg.device != "", "device must be a string such as 'auto'")


def check_tile_options(tile: object, overlap: object, memory_budget: object) -> None:
    """Raise ValueError for tiling keywords a run cannot use (`super_resolve`'s tile, tile_overlap, memory_budget)."""
    if not (tile is None or (isinstance(tile, str) and tile == "auto") or (_is_whole(tile) and int(tile) >= 1)):
        raise ValueError(f'tile must be "auto", None (never tile) or an LR tile side in pixels >= 1, got {tile!r}')
    if not (overlap is None or (_is_whole(overlap) and int(overlap) >= 0)):
        raise ValueError(f"tile_overlap must be an integer >= 0 LR pixels (or None for the default), got {overlap!r}")
    budget_ok = isinstance(memory_budget, int | float) and _is_number(memory_budget) and 0 < memory_budget < math.inf
    if not (memory_budget is None or budget_ok):
        raise ValueError(
            f"memory_budget must be a finite number of bytes > 0 (or None: 60% of the free memory), "
            f"got {memory_budget!r}"
        )


def _is_whole(value: object) -> TypeGuard[numbers.Integral]:
    """An integer of any kind (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
