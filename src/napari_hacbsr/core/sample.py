"""The bundled sample: scikit-image's Moon photograph, degraded by the simulator (offline)."""

from __future__ import annotations

import numpy as np

from .degradation import Degraded, centre_crop, simulate

SAMPLE_SEED = 0


def moon_hr(crop: int | None = None) -> np.ndarray:
    """scikit-image's 512² Moon image (a real lunar photograph) as float in [0, 1], centre-cropped."""
    from skimage import data

    return centre_crop(data.moon().astype(np.float32) / 255.0, crop)


def moon_sample(
    scale: int = 2, crop: int | None = None, seed: int = SAMPLE_SEED, protocol: str = "stride", noise_max: float = 0.0
) -> Degraded:
    """The Moon degraded with a seeded random anisotropic Gaussian kernel (spec §1.1 by default).

    Deterministic for a given (scale, crop, seed, protocol, noise_max).
    """
    degraded = simulate(moon_hr(crop), scale, protocol=protocol, noise_max=noise_max, seed=seed)
    degraded.params["source"] = "scikit-image data.moon() (512×512 lunar photograph)"
    degraded.params["crop"] = crop
    return degraded
