"""The sampling geometry, defined once: where LR pixel i sits on the HR grid.

A run's ``sampling`` convention names the HR position of LR pixel 0's centre (its *phase*);
LR pixel i is centred on HR position ``s·i + phase``:

    convention  phase        where it comes from
    "stride"    -(s - 1)/2   the MLMC/FKP test data: blur with a (K - s)/2-centred kernel, keep [0::s]
    "bicubic"   0            the bicubic protocol (spec §1.3): MATLAB's grid s·j + (s - 1)/2 cancels the blur's shift
    "area"      +(s - 1)/2   a camera whose LR pixel covers HR pixels s·i .. s·i + s - 1 (image resampling's usual grid)

The engine's forward model keeps pixels [0::s] after circular padding by K//2, so a kernel whose
centre of mass is at ``K//2 + phase`` reproduces the convention; the kernel prior, the simulator,
the napari layer placement and the georeferenced writers all read the phase from here.
"""

from __future__ import annotations

import numpy as np

SAMPLING_CONVENTIONS = ("stride", "bicubic", "area")


def kernel_size_for(scale: int) -> int:
    """Kernel side K = min(4s + 3, 21) (spec §1.1)."""
    return min(4 * int(scale) + 3, 21)


def lr_phase(scale: int, convention: str = "stride") -> float:
    """HR position (in HR pixels) of LR pixel 0's centre under ``convention``."""
    s = int(scale)
    if convention == "stride":
        return -(s - 1) / 2.0
    if convention == "bicubic":
        return 0.0
    if convention == "area":
        return (s - 1) / 2.0
    raise ValueError(f"sampling convention must be one of {SAMPLING_CONVENTIONS}, got {convention!r}")


def kernel_centre(size: int, scale: int, convention: str = "stride") -> float:
    """Centre of mass (row and column) that every kernel of a run has: K//2 + phase.

    For "stride" this is (K - s)/2 (spec §1.1).
    """
    return size // 2 + lr_phase(scale, convention)


def hr_position_of_lr(i: float | np.ndarray, scale: int, convention: str = "stride") -> float | np.ndarray:
    """HR data coordinate of LR pixel ``i``'s centre: s·i + phase."""
    return int(scale) * np.asarray(i, dtype=float) + lr_phase(scale, convention)


def lr_position_of_hr(j: float | np.ndarray, scale: int, convention: str = "stride") -> float | np.ndarray:
    """LR data coordinate whose content HR pixel ``j`` holds: (j - phase)/s."""
    return (np.asarray(j, dtype=float) - lr_phase(scale, convention)) / int(scale)
