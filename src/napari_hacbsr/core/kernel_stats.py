"""Shape numbers of a blur kernel: width (FWHM), ellipticity, orientation, centre — from its moments.

The kernel is treated as a 2-D density; its covariance's eigenvalues give the standard deviations
along the major and minor axes (FWHM = 2·sqrt(2·ln 2)·σ, exact for a Gaussian). Orientation is the
major axis' angle from the image's horizontal axis, counter-clockwise as displayed (rows grow
downwards), in degrees in [0, 180).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True)
class KernelShape:
    """A kernel's shape numbers: FWHM, ellipticity, orientation, centre and RMS radius."""

    fwhm_major: float  # HR pixels
    fwhm_minor: float  # HR pixels
    ellipticity: float  # 1 - minor/major: 0 round, towards 1 elongated
    orientation_deg: float  # major axis from horizontal, counter-clockwise as displayed
    centre_row: float
    centre_col: float
    rms_radius: float  # sqrt(σ_major² + σ_minor²), HR pixels

    @property
    def fwhm(self) -> float:
        """Geometric-mean FWHM: one width number."""
        return math.sqrt(self.fwhm_major * self.fwhm_minor)

    def to_dict(self) -> dict[str, float]:
        """The shape numbers (and the geometric-mean FWHM) as a dict."""
        return {**asdict(self), "fwhm": self.fwhm}

    def describe(self) -> str:
        """The shape in words: FWHM, ellipticity and orientation."""
        return (
            f"FWHM {self.fwhm_major:.2f} × {self.fwhm_minor:.2f} px (HR), ellipticity {self.ellipticity:.2f}, "
            f"orientation {self.orientation_deg:.0f}°"
        )


def kernel_shape(kernel: np.ndarray) -> KernelShape:
    """Moments of a non-negative K×K kernel (negative entries, e.g. from noise, are ignored)."""
    k = np.clip(np.asarray(kernel, dtype=np.float64), 0.0, None)
    total = k.sum()
    if not total > 0:
        raise ValueError("the kernel has no positive mass")
    k = k / total
    rows, cols = np.indices(k.shape, dtype=np.float64)
    r0, c0 = float((k * rows).sum()), float((k * cols).sum())
    dr, dc = rows - r0, cols - c0
    # covariance in displayed (x right, y up) coordinates: x = col, y = -row
    cxx = float((k * dc * dc).sum())
    cyy = float((k * dr * dr).sum())
    cxy = float((k * dc * -dr).sum())
    values, vectors = np.linalg.eigh(np.array([[cxx, cxy], [cxy, cyy]]))
    minor, major = np.sqrt(np.clip(values, 0.0, None))
    vx, vy = vectors[:, 1]
    angle = math.degrees(math.atan2(vy, vx)) % 180.0
    return KernelShape(
        fwhm_major=FWHM_PER_SIGMA * major,
        fwhm_minor=FWHM_PER_SIGMA * minor,
        ellipticity=float(1.0 - minor / major) if major > 0 else 0.0,
        orientation_deg=angle,
        centre_row=r0,
        centre_col=c0,
        rms_radius=float(math.hypot(major, minor)),
    )
