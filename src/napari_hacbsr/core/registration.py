"""Where each frame of a stack sits on the reference frame, and how its brightness relates (issue 29).

Shifts come from scikit-image's upsampled cross-correlation, refined by Gauss-Newton (least squares of the
aligned frame against the reference over their common interior); the shift's uncertainty is that fit's
standard error. Gain, offset and correlation come from the low-passed aligned frames. A frame is left out, with the
reason, when it does not overlap enough or when its correlation with the reference falls well below what its
noise allows (another site, or shading under a different Sun).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from .noise import estimate_noise_sigma

UPSAMPLE = 100  # the correlation peak is located to 1/100 LR px
#: refuse a frame whose aligned correlation is below this share of the noise-limited one (the largest two frames
#: of one scene can reach given their noise); simulated stacks of one site reach > 0.98 of it
MIN_RELATIVE_CORRELATION = 0.9
REFINE_STEPS = 10  # Gauss-Newton steps (2-4 reach 1e-4 LR px on simulated stacks)
SCENE_SMOOTHING = 1.5  # LR px: the Gaussian low-pass the scene test compares frames through
MAX_SHIFT_SHARE = 0.25  # a shift beyond a quarter of the frame's side leaves too little overlap to trust


@dataclass(frozen=True)
class FrameAlignment:
    """One frame against the reference: frame(q) ≈ gain · reference(q + shift) + offset (LR px, [0, 1] units)."""

    index: int
    shift: tuple[float, float]  # (dy, dx) in LR px
    uncertainty: float  # LR px: the least-squares standard error of the shift (NaN where not refined)
    correlation: float  # Pearson r of the low-passed aligned frame with the reference, common interior
    gain: float
    offset: float
    noise_sigma: float
    accepted: bool
    reason: str  # why it was left out ("" when accepted)

    def to_dict(self) -> dict:
        """The alignment as a JSON-ready dict."""
        return {**asdict(self), "shift": list(self.shift)}


def gray(y: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The mean over channels of a prepared (C, h, w) LR, missing pixels set to the observed mean."""
    plane = np.asarray(y, dtype=np.float64).mean(axis=0)
    if mask is not None:
        observed = mask.reshape(plane.shape) > 0
        plane = np.where(observed, plane, plane[observed].mean())
    return plane


def _coarse_shift(reference: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Upsampled cross-correlation of the Hann-windowed planes (the window keeps the frame edges out)."""
    window = np.outer(np.hanning(reference.shape[0]), np.hanning(reference.shape[1]))
    a, b = (reference - reference.mean()) * window, (moving - moving.mean()) * window
    shift, _, _ = phase_cross_correlation(a, b, upsample_factor=UPSAMPLE, normalization=None)
    return np.asarray(shift, dtype=np.float64)  # moving(q) ≈ reference(q + shift)


def _refine(reference: np.ndarray, moving: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, float]:
    """Gauss-Newton on moving(p − d) ≈ g · reference(p) + b over the common interior: (d, its standard
    error in LR px). The correlation peak alone is biased by the frame edges and by the frames' blurs.
    """
    d, error = shift.copy(), math.nan
    for _ in range(REFINE_STEPS):
        aligned = ndimage.shift(moving, d, order=3, mode="nearest")  # aligned(p) = moving(p − d) ≈ g·ref(p) + b
        m = int(math.ceil(np.abs(d).max())) + 3
        inner = np.s_[m:-m, m:-m]
        gy, gx = np.gradient(aligned)
        design = np.stack([gy[inner].ravel(), gx[inner].ravel(), reference[inner].ravel(), np.ones(gy[inner].size)], 1)
        # aligned + ∂y·Δy + ∂x·Δx = g·ref + b, solved for (Δy, Δx, g, b)
        solution, *_ = np.linalg.lstsq(design * [1, 1, -1, -1], -aligned[inner].ravel(), rcond=None)
        d -= solution[:2]  # (∂ aligned / ∂d = −∇ aligned)
        residual = aligned[inner].ravel() + design[:, :2] @ solution[:2] - design[:, 2:] @ solution[2:]
        dof = max(residual.size - 4, 1)
        covariance = np.linalg.pinv(design.T @ design) * float(residual @ residual) / dof
        error = float(np.sqrt(covariance[0, 0] + covariance[1, 1]))
        if np.abs(solution[:2]).max() < 1e-4:
            break
    return d, error


def _photometry(reference: np.ndarray, moving: np.ndarray, shift: np.ndarray) -> tuple[float, float, float]:
    """(r, gain, offset) of the aligned frame against the reference, both low-passed (`SCENE_SMOOTHING`):
    frames of one scene differ in blur and noise at the finest scales (which would read as a lower gain), another
    site or another Sun differs at all scales.
    """
    aligned = ndimage.shift(moving, shift, order=3, mode="nearest")
    m = int(math.ceil(np.abs(shift).max())) + 3
    a, b = (ndimage.gaussian_filter(p, SCENE_SMOOTHING)[m:-m, m:-m].ravel() for p in (reference, aligned))
    gain, offset = np.polyfit(a, b, 1)
    return float(np.corrcoef(a, b)[0, 1]), float(gain), float(offset)


def _smoothed_signal_share(plane: np.ndarray, sigma: float) -> float:
    """Signal variance over signal + noise variance of `plane` low-passed by `SCENE_SMOOTHING`."""
    noise = sigma**2 / (4 * math.pi * SCENE_SMOOTHING**2)  # white noise through a unit-mass Gaussian
    total = float(np.var(ndimage.gaussian_filter(plane, SCENE_SMOOTHING)))
    return max(total - noise, 1e-12) / max(total, 1e-12)


def register_frames(planes: list[np.ndarray], reference: int = 0) -> list[FrameAlignment]:
    """Align every plane (h, w) of one stack (same shape, [0, 1] units) to `planes[reference]`."""
    ref = planes[reference]
    ref_share = _smoothed_signal_share(ref, estimate_noise_sigma(ref[None]))
    out = []
    for index, plane in enumerate(planes):
        sigma = estimate_noise_sigma(plane[None])
        if index == reference:
            out.append(FrameAlignment(index, (0.0, 0.0), 0.0, 1.0, 1.0, 0.0, sigma, True, ""))
            continue
        shift = _coarse_shift(ref, plane)
        reason, uncertainty = "", math.nan
        if np.any(np.abs(shift) > MAX_SHIFT_SHARE * np.array(ref.shape)):
            reason = (
                f"is shifted by ({shift[0]:.1f}, {shift[1]:.1f}) LR px, more than a quarter of the frame: "
                "too little overlap with the reference frame"
            )
            r, gain, offset = math.nan, math.nan, math.nan
        else:
            shift, uncertainty = _refine(ref, plane, shift)
            r, gain, offset = _photometry(ref, plane, shift)
            # the correlation two noisy views of one scene can reach
            ceiling = math.sqrt(ref_share * _smoothed_signal_share(plane, sigma))
            if not r >= MIN_RELATIVE_CORRELATION * ceiling or gain <= 0:
                reason = (
                    f"correlates only r = {r:.2f} with the reference frame after alignment (its noise allows "
                    f"{ceiling:.2f}): another site, or a different illumination"
                )
        shift_pair = (float(shift[0]), float(shift[1]))
        out.append(FrameAlignment(index, shift_pair, uncertainty, r, gain, offset, sigma, not reason, reason))
    return out
