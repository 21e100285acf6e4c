"""The LR image's noise level, read where the blur has left no signal (the loss schedule's gate).

The forward model blurs before it samples, so the LR signal's power falls steeply towards the
corners of the spectrum (both frequencies near Nyquist), while white noise is flat there. The median
of the Hann-windowed periodogram over that corner band, / ln 2 (the median of an exponential
variable), estimates σ². Texture that does reach the corner (a sharp PSF, aliasing) reads as noise,
so the estimate errs upwards, towards the regularised schedule. scikit-image's wavelet estimator
does not know about the blur and reads the texture of noise-free images as noise (docs/algorithm.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .config import HACBSRConfig
    from .image import PreparedImage

CORNER_BAND = 3 / 8  # |f| in [3/8, 1/2) cycles per LR pixel, on both axes
MIN_SIDE = 8  # fewer LR pixels per side leave too few corner bins for a median
BLOCK = 256  # a larger image: the median over up to 8 x 8 blocks this size (bounded memory and time)


def _corner_bins(n: int) -> np.ndarray:
    f = np.abs(np.fft.fftfreq(n))
    return (f >= CORNER_BAND) & (f < 0.5)  # (the real-valued Nyquist bin has another law; left out)


def describe_loss_schedule(config: HACBSRConfig) -> str:
    """A (run's) config's data loss in words: 1-SSIM iterations, the prior's noise gain, and why (the noise level
    and the gate)."""
    cfg = config
    noise = "LR noise unknown" if cfg.lr_noise is None else f"LR noise {100 * cfg.lr_noise:.2f} % of its range"
    why = "as set" if cfg.schedule_by_hand else f"{noise}, gate {100 * cfg.gate:g} %"
    n, total = cfg.ssim_iterations, cfg.outer_iterations
    if n == total:
        return f"1-SSIM for all {total} iterations ({why})"
    until, above = (" or until the fit reaches the noise", " above the noise") if cfg.noise_floor > 0 else ("", "")
    gain = cfg.image_prior_weight / cfg.hyper_laplacian_weight if cfg.hyper_laplacian_weight > 0 else 1.0
    prior = f", hyper-Laplacian ×{gain:.1f} for the noise" if gain != 1.0 else ""
    return f"1-SSIM for {n} of {total} iterations{until}, then MSE{above}{prior} ({why})"


def with_lr_noise(config: HACBSRConfig, prepared: PreparedImage) -> HACBSRConfig:
    """`config` with `lr_noise` estimated from the prepared LR image, unless it is known (or too small)."""
    if config.lr_noise is not None:
        return config
    sigma = estimate_noise_sigma(prepared.y, prepared.mask)
    return config if not math.isfinite(sigma) else config.replace(lr_noise=sigma)


def estimate_noise_sigma(y: np.ndarray, mask: np.ndarray | None = None) -> float:
    """σ of white noise in `y` ((C, h, w) or (h, w), any units), the largest over the channels.

    mask: 1 = observed pixel; missing pixels are filled with the channel's observed mean (the step
    that leaves adds broadband power, so the estimate can only rise). Returns inf when the image is
    too small to tell (fewer than MIN_SIDE pixels per side): the caller treats that as noisy.
    """
    chans = np.asarray(y)  # (no float64 copy of a whole frame: each block is converted on its own)
    if chans.ndim == 2:
        chans = chans[None]
    _, h, w = chans.shape
    observed = np.ones((h, w), bool) if mask is None else np.asarray(mask).reshape(h, w) > 0
    if max(h, w) > BLOCK:
        rows = np.linspace(0, max(h - BLOCK, 0), min(8, math.ceil(h / BLOCK))).astype(int)
        cols = np.linspace(0, max(w - BLOCK, 0), min(8, math.ceil(w / BLOCK))).astype(int)
        blocks = [(slice(r, r + BLOCK), slice(c, c + BLOCK)) for r in rows for c in cols]
        return float(np.median([_estimate(chans[:, a, b], observed[a, b]) for a, b in blocks]))
    return _estimate(chans, observed)


def _estimate(chans: np.ndarray, observed: np.ndarray) -> float:
    _, h, w = chans.shape
    if min(h, w) < MIN_SIDE:
        return math.inf
    if not observed.any():
        return math.inf
    window = np.outer(np.hanning(h + 2)[1:-1], np.hanning(w + 2)[1:-1])
    band = np.outer(_corner_bins(h), _corner_bins(w))
    sigmas = []
    for chan in chans.astype(np.float64):
        filled = np.where(observed, chan, chan[observed].mean())
        filled = filled - filled.mean()
        power = np.abs(np.fft.fft2(filled * window)) ** 2 / np.sum(window**2)
        sigmas.append(math.sqrt(float(np.median(power[band])) / math.log(2)))
    return max(sigmas)
