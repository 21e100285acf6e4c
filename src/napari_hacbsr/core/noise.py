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

import numpy as np

CORNER_BAND = 3 / 8  # |f| in [3/8, 1/2) cycles per LR pixel, on both axes
MIN_SIDE = 8  # fewer LR pixels per side leave too few corner bins for a median
BLOCK = 256  # a larger image: the median over up to 8 x 8 blocks this size (bounded memory and time)


def _corner_bins(n: int) -> np.ndarray:
    f = np.abs(np.fft.fftfreq(n))
    return (f >= CORNER_BAND) & (f < 0.5)  # (the real-valued Nyquist bin has another law; left out)


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
