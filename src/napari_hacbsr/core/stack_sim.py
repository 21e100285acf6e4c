"""Simulated stacks: T frames of one HR scene, each with its own sub-pixel shift, kernel, gain and noise.

The stride protocol of `core.degradation.simulate` per frame: the HR moved by the frame's shift (a quintic
spline: sub-pixel and band-limited enough at these widths), blurred with a data-range random Gaussian by the
engine's forward model, kept [0::s]. The frames are cropped by a margin so the circular wrap never shows, and
the ground truth is the HR region under the reference frame (frame 0, shift 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from .degradation import KernelSampler, forward_model, modcrop


@dataclass
class SimulatedStack:
    """Frames (T, h, w) in [0, 1]; frame t's pixel q shows the reference's LR position q + shifts[t]."""

    frames: np.ndarray
    hr: np.ndarray  # ground truth under frame 0, (h·s, w·s)
    kernels: np.ndarray  # (T, K, K)
    shifts: np.ndarray  # (T, 2) LR px, frame 0 = (0, 0)
    gains: np.ndarray  # (T,)
    offsets: np.ndarray  # (T,)
    noise_sigma: float


def simulate_stack(
    hr: np.ndarray,
    scale: int,
    frames: int,
    *,
    seed: int = 0,
    noise_sigma: float = 0.0,
    max_shift: float = 2.0,
    photometry: float = 0.0,
) -> SimulatedStack:
    """`frames` LR frames of the 2-D `hr` in [0, 1]: shifts U(−max_shift, max_shift) LR px (frame 0: none),
    one data-range kernel per frame, gain U(1 − p, 1 + p) and offset U(−p/4, p/4) with p = `photometry`
    (frame 0: 1, 0), white noise σ = `noise_sigma`, clipped to [0, 1].
    """
    s = int(scale)
    hr = modcrop(np.asarray(hr, dtype=np.float64), s)
    rng = np.random.default_rng(seed)
    sampler = KernelSampler.data(s, rng)
    margin = int(np.ceil(max_shift)) + 2 + sampler.size // s  # LR px dropped a side
    shifts = rng.uniform(-max_shift, max_shift, size=(frames, 2))
    shifts[0] = 0.0
    gains = rng.uniform(1 - photometry, 1 + photometry, frames) if photometry else np.ones(frames)
    offsets = rng.uniform(-photometry / 4, photometry / 4, frames) if photometry else np.zeros(frames)
    gains[0], offsets[0] = 1.0, 0.0
    out, kernels = [], []
    for t in range(frames):
        kernel = sampler()
        moved = ndimage.shift(hr, -shifts[t] * s, order=5, mode="reflect")  # moved(j) = hr(j + s·d)
        x = torch.from_numpy(np.ascontiguousarray(moved))[None, None]
        lr = forward_model(x, torch.from_numpy(kernel), s)[0, 0].numpy()
        lr = gains[t] * lr[margin:-margin, margin:-margin] + offsets[t]
        if noise_sigma > 0:
            lr = lr + rng.normal(0.0, noise_sigma, size=lr.shape)
        out.append(np.clip(lr, 0.0, 1.0))
        kernels.append(kernel)
    h, w = out[0].shape
    truth = hr[margin * s : (margin + h) * s, margin * s : (margin + w) * s]
    return SimulatedStack(
        np.stack(out).astype(np.float32), truth.astype(np.float32), np.stack(kernels).astype(np.float32),
        shifts, gains, offsets, float(noise_sigma),
    )  # fmt: skip
