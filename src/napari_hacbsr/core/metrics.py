"""Evaluation metrics (spec §4): PSNR/SSIM on gray and on Y, kernel PSNR, LPIPS, shift diagnostic.

Paper-compatible headline: Y of (replicated) RGB, border shave s, SR rounded to uint8, MATLAB
SSIM. For a gray image PSNR_Y = PSNR_gray + 1.32 dB exactly (spec §4.1), so both are reported.
"""

from __future__ import annotations

import math
import os

import numpy as np
from scipy import ndimage

from .image import LUMA_BT601
from .losses import SSIM_K1, SSIM_K2

__all__ = [
    "evaluate_sr",
    "kernel_psnr",
    "psnr",
    "ssim_matlab",
    "to_y",
    "shift_compensated_psnr",
    "LPIPSMetric",
]

ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"  # the file torchvision's AlexNet loader caches


def _to_uint8_levels(image: np.ndarray) -> np.ndarray:
    """[0, 1] float -> rounded 0..255 levels as float64 (how the reference code saves PNGs)."""
    return np.round(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0)


def to_y(levels: np.ndarray) -> np.ndarray:
    """BT.601 luma in 0..255 units (MATLAB rgb2ycbcr) of 0..255 levels; gray is replicated first."""
    if levels.ndim == 2:
        return 16.0 + levels * (219.0 / 255.0)
    return 16.0 + levels @ LUMA_BT601 / 255.0


def _centre_crop_to(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    dh, dw = a.shape[0] - shape[0], a.shape[1] - shape[1]
    return a[dh // 2 : a.shape[0] - (dh - dh // 2), dw // 2 : a.shape[1] - (dw - dw // 2)]


def _match_and_shave(sr: np.ndarray, hr: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    shape = (min(sr.shape[0], hr.shape[0]), min(sr.shape[1], hr.shape[1]))
    sr, hr = _centre_crop_to(sr, shape), _centre_crop_to(hr, shape)
    if shave:
        sr, hr = sr[shave:-shave, shave:-shave], hr[shave:-shave, shave:-shave]
    return sr, hr


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of `a` against `b` for the given peak value (inf when they are equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 20.0 * math.log10(peak / math.sqrt(mse))


def ssim_matlab(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """MATLAB-style SSIM: 11×11 Gaussian (σ 1.5), 'valid' region, mean of the map; per channel."""
    if a.ndim == 3:
        return float(np.mean([ssim_matlab(a[..., c], b[..., c], peak) for c in range(a.shape[-1])]))
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    coords = np.arange(11) - 5
    g = np.exp(-(coords**2) / (2 * 1.5**2))
    g /= g.sum()
    window = np.outer(g, g)

    def filt(x: np.ndarray) -> np.ndarray:
        return ndimage.correlate(x, window, mode="reflect")[5:-5, 5:-5]

    c1, c2 = (SSIM_K1 * peak) ** 2, (SSIM_K2 * peak) ** 2
    mu_a, mu_b = filt(a), filt(b)
    var_a, var_b = filt(a * a) - mu_a**2, filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    smap = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(smap.mean())


def evaluate_sr(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, float]:
    """PSNR/SSIM of an SR estimate against the HR, both in [0, 1], shave = scale (spec §4.1).

    Keys: psnr_gray, ssim_gray (on the gray/RGB levels), psnr_y, ssim_y (paper-compatible).
    """
    sr_levels, hr_levels = _match_and_shave(_to_uint8_levels(sr), _to_uint8_levels(hr), int(scale))
    sr_y, hr_y = to_y(sr_levels), to_y(hr_levels)
    return {
        "psnr_gray": psnr(sr_levels, hr_levels),
        "ssim_gray": ssim_matlab(sr_levels, hr_levels),
        "psnr_y": psnr(sr_y, hr_y),
        "ssim_y": ssim_matlab(sr_y, hr_y),
    }


def kernel_width(kernel: np.ndarray) -> tuple[float, np.ndarray]:
    """(RMS radius, centre of mass (row, col)) of clip(k, 0), from the one kernel-moment code."""
    from .kernel_stats import kernel_shape

    shape = kernel_shape(kernel)
    return shape.rms_radius, np.array([shape.centre_row, shape.centre_col])


def kernel_psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """20·log10(1 / RMSE) on the raw K×K arrays, no alignment (spec §4.2)."""
    if estimate.shape != truth.shape:
        raise ValueError(f"kernel shapes differ: {estimate.shape} vs {truth.shape}")
    return psnr(estimate, truth, peak=1.0)


def shift_compensated_psnr(
    sr: np.ndarray, hr: np.ndarray, scale: int, max_shift: float | None = None, step: float = 0.5
) -> tuple[float, tuple[float, float]]:
    """Diagnostic only (spec §4.5): best gray PSNR over sub-pixel shifts of the SR within ±max_shift."""
    max_shift = float(scale - 1) if max_shift is None else float(max_shift)
    sr_f = np.clip(np.asarray(sr, np.float64), 0, 1)
    hr_levels = _to_uint8_levels(hr)
    offsets = np.arange(-max_shift, max_shift + 1e-9, step)
    best = (-math.inf, (0.0, 0.0))
    for dy in offsets:
        for dx in offsets:
            shifted = ndimage.shift(sr_f, (dy, dx), order=3, mode="nearest")
            a, b = _match_and_shave(_to_uint8_levels(shifted), hr_levels, int(scale) + int(math.ceil(max_shift)))
            value = psnr(a, b)
            if value > best[0]:
                best = (value, (float(dy), float(dx)))
    return best


class LPIPSMetric:
    """LPIPS (AlexNet, v0.1) when the `lpips` package and AlexNet weights are on this machine.

    `try_load()` returns None when they are not (offline): report LPIPS as N/A, never a guess.
    """

    def __init__(self, model) -> None:
        self.model = model

    @staticmethod
    def weights_path() -> str:
        """Where torch's hub cache keeps the AlexNet weights LPIPS needs."""
        import torch

        return os.path.join(torch.hub.get_dir(), "checkpoints", ALEXNET_WEIGHTS)

    @classmethod
    def try_load(cls) -> LPIPSMetric | None:
        """The LPIPS metric, or None when lpips or its AlexNet weights are missing (nothing is downloaded)."""
        try:
            import lpips  # noqa: F401
        except ImportError:
            return None
        if not os.path.isfile(cls.weights_path()):
            return None  # loading would try to download AlexNet
        import lpips

        return cls(lpips.LPIPS(net="alex", version="0.1", verbose=False).eval())

    def __call__(self, sr: np.ndarray, hr: np.ndarray) -> float:
        """LPIPS distance between `sr` and `hr` (lower is closer)."""
        import torch

        def to_tensor(img: np.ndarray) -> torch.Tensor:
            levels = _to_uint8_levels(img) / 127.5 - 1.0
            t = torch.from_numpy(levels).float()
            t = t[None, None].expand(1, 3, -1, -1) if t.ndim == 2 else t.permute(2, 0, 1)[None]
            return t

        shape = (min(sr.shape[0], hr.shape[0]), min(sr.shape[1], hr.shape[1]))
        with torch.no_grad():
            value = self.model(to_tensor(_centre_crop_to(sr, shape)), to_tensor(_centre_crop_to(hr, shape)))
        return float(value.item())
