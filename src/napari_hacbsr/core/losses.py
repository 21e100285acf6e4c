"""Loss terms and the two small formulas of HACBSR (adaptive EMA momentum, meta weights).

Data losses take an optional validity mask (1 = observed LR pixel, 0 = missing/NaN) so that
missing pixels never influence the fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03  # SSIM's stabilising constants (Wang et al.), per unit of the data range
_C1, _C2 = SSIM_K1**2, SSIM_K2**2


def _gaussian_window(channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    coords = torch.arange(_SSIM_WINDOW, dtype=torch.float64) - _SSIM_WINDOW // 2
    g = torch.exp(-(coords**2) / (2 * _SSIM_SIGMA**2))
    g = g / g.sum()
    window = torch.outer(g, g).to(device=device, dtype=dtype)
    return window.expand(channels, 1, _SSIM_WINDOW, _SSIM_WINDOW).contiguous()


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MLMC's training SSIM: 11×11 Gaussian (σ 1.5), zero padding 5, data range 1, per channel."""
    channels = a.shape[1]
    w = _gaussian_window(channels, a.device, a.dtype)
    pad = _SSIM_WINDOW // 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, padding=pad, groups=channels)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + _C1) * (2 * cov + _C2)) / ((mu_a**2 + mu_b**2 + _C1) * (var_a + var_b + _C2))


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    weight = mask.expand_as(values)
    return (values * weight).sum() / weight.sum()


def data_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, use_ssim: bool) -> torch.Tensor:
    """Core LR-consistency loss: masked MSE, or 1 - masked-mean SSIM during the SSIM phase.

    For SSIM the missing target pixels are replaced by the (detached) prediction, so their
    stored value cannot reach the loss through the SSIM window either.
    """
    if use_ssim:
        filled = target if mask is None else torch.where(mask.bool(), target, pred.detach())
        return 1.0 - _masked_mean(ssim_map(pred, filled), mask)
    return _masked_mean((pred - target) ** 2, mask)


class DataTerm:
    """One run's data loss against its LR image (`data_loss`), and the kernel's meta loss built on it."""

    def __init__(self, target: torch.Tensor, mask: torch.Tensor | None) -> None:
        self.target, self.mask = target, mask

    def __call__(self, pred: torch.Tensor, use_ssim: bool) -> torch.Tensor:
        """The data loss of `pred` (MSE, or 1-SSIM when `use_ssim`) on the observed pixels."""
        return data_loss(pred, self.target, self.mask, use_ssim)

    def for_kernel(self, pred: torch.Tensor, use_ssim: bool, kind: str) -> torch.Tensor:
        """The kernel's meta loss for one step (`RunPlan.kernel_loss_at`; docs/algorithm.md, "The kernel's loss")."""
        if not use_ssim or kind == "data":
            return self(pred, use_ssim)
        if kind != "scaled-mse":
            raise ValueError(f"kernel loss {kind!r} has no per-step form (resolve it with RunPlan.kernel_loss_at)")
        # "scaled-mse": MSE's gradient at 1-SSIM's size (a constant factor per step), so the step keeps
        # the 1-SSIM phase's balance with a prior stage that shares its Adam
        mse = self(pred, False)
        with torch.no_grad():
            size = data_loss(pred, self.target, self.mask, True) / mse.clamp(min=1e-12)
        return mse * size


def hyper_laplacian(x: torch.Tensor, exponent: float = 0.67) -> torch.Tensor:
    """Σ (|∇x| + 1e-8)^p over MLMC's four first differences (up, up-left, left, down-left)."""
    xp = F.pad(x, (1, 1, 1, 1), mode="reflect")
    centre = xp[:, :, 1:-1, 1:-1]
    neighbours = (xp[:, :, :-2, 1:-1], xp[:, :, :-2, :-2], xp[:, :, 1:-1, :-2], xp[:, :, 2:, :-2])
    return cast(torch.Tensor, sum(((centre - n).abs() + 1e-8).pow(exponent).sum() for n in neighbours))


def alpha_from_loss(
    loss: float, alpha_range: Sequence[float] = (0.8, 0.99), loss_range: Sequence[float] = (1e-6, 1e-2)
) -> float:
    """Eq. 14: clamp the loss to loss_range and map it linearly, high loss -> low momentum."""
    lo_a, hi_a = alpha_range
    lo_l, hi_l = loss_range
    clamped = min(max(float(loss), lo_l), hi_l)
    return hi_a - (clamped - lo_l) / (hi_l - lo_l) * (hi_a - lo_a)


def meta_weights(losses: Sequence[float]) -> list[float]:
    """Eqs. 11-12 (MLMC's constants): π = (v - min) / (1e-5 + Σ(v - min)), w = -(1-π)² log(π + 1e-3).

    The lowest loss gets the largest weight, -log(1e-3) ≈ 6.908 (reading A15).
    """
    low = min(losses)
    norm = 1e-5 + sum(v - low for v in losses)
    weights = []
    for v in losses:
        pi = (v - low) / norm
        weights.append(-((1.0 - pi) ** 2) * math.log(pi + 1e-3))
    return weights
