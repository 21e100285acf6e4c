"""Tiny inputs and the tiny schedule shared by the batch tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The schedule of every batch test item, as `batch(**TINY)` keywords and as `hacbsr` flags.
TINY = {
    "iterations": 2,
    "inner_steps": 2,
    "kernel_warmup": 5,
    "ssim_share": 0.5,
    "encoder": "fallback",
    "device": "cpu",
}
TINY_FLAGS = [
    # (as typed on a command line)
    *("--iters 2 --inner-steps 2 --kernel-warmup 5 --ssim-share 0.5 --encoder fallback --device cpu --quiet".split())  # noqa: SIM905
]


def write_images(folder: Path, count: int, side: int = 20, prefix: str = "frame") -> list[Path]:
    """`count` 8-bit PNGs with some structure, each different."""
    import imageio.v3 as iio

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        yy, xx = np.mgrid[0:side, 0:side]
        rng = np.random.default_rng(i)
        img = 0.5 + 0.3 * np.sin(xx / (2.0 + i)) * np.cos(yy / 3.0) + 0.05 * rng.standard_normal((side, side))
        path = folder / f"{prefix}{i}.png"
        iio.imwrite(path, np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
        paths.append(path)
    return paths
