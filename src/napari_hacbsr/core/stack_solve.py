"""The multi-frame non-blind solve: one HR image whose forward image through each frame's kernel, shift and
brightness matches every frame (issue 29).

    E(x) = [ Σ_t w_t Σ_obs (g_t · A_t x + b_t − y_t)² + λ · HL(x) ] / n_LR,

A_t the engine's forward model (`core.degradation.forward_model`) with frame t's kernel shifted by its
sub-pixel offset (HR px), its whole-LR-pixel offset placing y_t on the reference grid; (g_t, b_t) its gain and
offset (`core.registration`); w_t = σ_ref² / σ_t² (each frame's estimated noise); λ the single-frame rule of
`core.nonblind` for the reference frame (a MAP weight does not change with the number of frames). As in
`core.nonblind`, the HR reaches a free band beyond the reference frame and the L-BFGS loop is
`nonblind.minimise`. Untiled: a stack's HR must fit `nonblind.MAX_TILE_HR_PIXELS`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from .degradation import forward_model, phase_correct_bicubic
from .losses import hyper_laplacian
from .nonblind import EXPONENT, ITERATIONS, MAX_TILE_HR_PIXELS, free_band, minimise, weight_for_noise
from .registration import FrameAlignment

NOISE_FLOOR = 1e-3  # σ below this (8-bit rounding and under) weighs like it: no frame dominates on a zero estimate


@dataclass
class StackSolveInfo:
    """What the multi-frame solve did: its weights and, per frame, |A_t x − y_t| and its RMS."""

    weight: float
    frame_weights: list[float]
    iterations_done: int
    stopped: bool
    consistency: list[np.ndarray]  # per frame (C, h, w) on the frame's own grid; NaN where not used
    wall_s: float

    @property
    def lr_rmse(self) -> list[float]:
        """RMS of A_t x − y_t over the pixels of frame t that entered the data term."""
        return [float(np.sqrt(np.nanmean(c.astype(np.float64) ** 2))) for c in self.consistency]


def shifted_kernel(kernel: np.ndarray, offset: tuple[float, float]) -> np.ndarray:
    """`kernel` moved by `offset` (HR px, |offset| ≤ s/2) inside a window padded to hold it: the forward model
    then samples a grid displaced by that offset (cross-correlation: k(u − f) reads x at j + f).
    """
    pad = int(math.ceil(max(abs(offset[0]), abs(offset[1])))) + 1
    k = np.pad(np.asarray(kernel, np.float64), pad)
    moved = np.clip(ndimage.shift(k, offset, order=3, mode="constant"), 0.0, None)
    return (moved / moved.sum()).astype(np.float32)


def place(y: np.ndarray, observed: np.ndarray, whole: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Frame t's LR (C, h, w) on the reference grid moved by whole LR px: pixel q lands on q + whole; what falls
    outside the reference frame is dropped, what the frame does not cover is unobserved.
    """
    c, h, w = y.shape
    out, obs = np.zeros_like(y), np.zeros((h, w), bool)
    dy, dx = whole
    src = np.s_[max(-dy, 0) : min(h - dy, h), max(-dx, 0) : min(w - dx, w)]
    dst = np.s_[max(dy, 0) : min(h + dy, h), max(dx, 0) : min(w + dx, w)]
    out[:, dst[0], dst[1]] = y[:, src[0], src[1]]
    obs[dst] = observed[src]
    return out, obs


def solve_stack(
    frames: list[np.ndarray],
    observed: list[np.ndarray],
    kernels: list[np.ndarray],
    alignments: list[FrameAlignment],
    scale: int,
    *,
    sampling: str,
    reference: int = 0,
    iterations: int = ITERATIONS,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, StackSolveInfo]:
    """Multi-frame ×`scale` SR on the reference frame's grid: frames (C, h, w) in [0, 1] (each prepared on its
    own), `observed` (h, w) bool, one kernel and one `FrameAlignment` per frame (all used: leave refused frames
    out before). Returns the HR (C, h·s, w·s) float32 in the reference's [0, 1] units and a `StackSolveInfo`.
    """
    started = time.perf_counter()
    s = int(scale)
    ref = frames[reference]
    c, h, w = ref.shape
    if h * w * s * s > MAX_TILE_HR_PIXELS:
        raise ValueError(
            f"a stack's HR ({h * s}×{w * s}) must fit one solve of {MAX_TILE_HR_PIXELS} HR pixels; "
            "super-resolve a region of the frames (the same region of each)"
        )
    sigma_ref = max(alignments[reference].noise_sigma, NOISE_FLOOR)
    lam = weight_for_noise(sigma_ref, s)
    weights = [sigma_ref**2 / max(a.noise_sigma, NOISE_FLOOR) ** 2 for a in alignments]
    terms, reach = [], 0
    for y, obs, kernel, a in zip(frames, observed, kernels, alignments, strict=True):
        whole = (int(round(a.shift[0])), int(round(a.shift[1])))
        k = shifted_kernel(kernel, ((a.shift[0] - whole[0]) * s, (a.shift[1] - whole[1]) * s))
        placed, placed_obs = place(y, obs, whole)
        terms.append((placed, placed_obs, k, a, whole))
        reach = max(reach, k.shape[-1])
    band = free_band(reach, s)
    widths = ((0, 0), (band, band), (band, band))
    start = phase_correct_bicubic(np.pad(ref, widths, mode="symmetric"), s, sampling, channel_axis=0)
    x = torch.tensor(np.ascontiguousarray(start[None]), dtype=torch.float32, requires_grad=True)
    data: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, float, float]] = [
        (
            torch.from_numpy(np.pad(np.where(o, y, 0.0), widths).astype(np.float32))[None],
            torch.from_numpy(np.pad(o, band).astype(np.float32))[None, None],
            torch.from_numpy(k),
            a.gain,
            a.offset,
            wt,
        )
        for (y, o, k, a, _), wt in zip(terms, weights, strict=True)
    ]

    def energy() -> torch.Tensor:
        total = lam * hyper_laplacian(x, EXPONENT)
        for target, obs, k, gain, offset, wt in data:
            residual = gain * forward_model(x, k, s) + offset - target
            total = total + wt * (residual * residual * obs).sum()
        return total

    count = [0]

    def tick() -> None:
        count[0] += 1
        if progress is not None:
            progress(count[0], iterations)

    done = minimise(x, energy, iterations, should_stop, tick)
    consistency = []
    with torch.no_grad():
        for (target, used, k_t, g_t, b_t, _), (_, _, _, _, whole) in zip(data, terms, strict=True):
            gap = (g_t * forward_model(x, k_t, s) + b_t - target).abs()[0].numpy()
            gap[:, used[0, 0].numpy() == 0] = np.nan
            inner = gap[:, band : band + h, band : band + w]
            back, _ = place(inner, np.ones((h, w), bool), (-whole[0], -whole[1]))  # onto the frame's own grid
            uncovered = place(np.ones((1, h, w)), np.ones((h, w), bool), (-whole[0], -whole[1]))[1]
            back[:, ~uncovered] = np.nan
            consistency.append(back.astype(np.float32))
    hr = np.clip(x.detach()[0, :, band * s : (band + h) * s, band * s : (band + w) * s].numpy(), 0.0, 1.0)
    info = StackSolveInfo(lam, weights, done, done < iterations, consistency, time.perf_counter() - started)
    return hr.astype(np.float32), info
