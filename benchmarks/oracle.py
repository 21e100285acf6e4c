"""The known-kernel bounds (issue 26): what a run would score if the kernel estimate cost nothing.

Two rows of `benchmarks.methods`, each given the degradation's TRUE kernel in the engine's forward-model
convention (`forward_kernel`):

- `oracle-nonblind`: no DIP at all, the fast path's non-blind solve (`core.nonblind.reconstruct`: the forward
  model, the hyper-Laplacian, L-BFGS), with λ from the degradation's TRUE noise σ too (`weight_for_noise`;
  the noise estimate reads the texture of a noise-free Europa crop as 1.25 % noise and costs the bound 1.3 dB
  there). No seed; about a second on a crop.
- `oracle-dip`: the full engine with G_k replaced by the true kernel (`engine.iterate(known_kernel=...)`), so
  only the image prior trains; the method's own config otherwise (the default's schedule). Costs a full run.

The anchor (`benchmarks.anchor`) and quality (`benchmarks.quality`) tables run them by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .methods import METHODS


def oracle_of(method: str) -> str | None:
    """ "nonblind", "dip" or None (the method estimates its kernel)."""
    entry = METHODS.get(method)
    return entry.oracle if entry else None


def forward_kernel(kernel: np.ndarray, scale: int, protocol: str) -> np.ndarray:
    """The true kernel as the engine's forward model applies it: the stride protocol's blur itself; for the
    bicubic protocol the blur through MATLAB's antialiased ↓s (K + 4s wide: `fast_frames.effective_kernel`)."""
    if protocol == "stride":
        return np.asarray(kernel, dtype=np.float32)
    from .fast_frames import effective_kernel

    return effective_kernel(np.asarray(kernel, dtype=np.float64), scale)


def nonblind(lr: np.ndarray, kernel: np.ndarray, scale: int, sampling: str, noise_sigma: float) -> np.ndarray:
    """`oracle-nonblind`: the non-blind solve of `lr` (2-D, [0, 1]) with the true `kernel` and the true noise
    σ ([0, 1] units; 0 for noise-free data), as a 2-D HR."""
    from napari_hacbsr.core.nonblind import reconstruct

    lr = np.asarray(lr, dtype=np.float32)
    sr, _ = reconstruct(lr, kernel, scale, sampling=sampling, noise_sigma=float(noise_sigma))
    return np.asarray(sr, dtype=np.float64)


def dip(lr: np.ndarray, kernel: np.ndarray, config: Any, follow: Any = None) -> Any:
    """`oracle-dip`: the engine on `lr` with its kernel frozen to `kernel`; the Result (`follow(step)` per Step)."""
    from napari_hacbsr.core.engine import iterate

    run = iterate(lr, config, known_kernel=kernel)
    while True:
        try:
            step = next(run)
        except StopIteration as done:
            return done.value
        if follow is not None:
            follow(step)
