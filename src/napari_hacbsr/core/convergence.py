"""When a run has converged: the one stopping rule of the outer loop (issue 26), with N as its ceiling.

After each outer iteration t the engine reports the LR residual r_t (the MSE of (x ⊛ k)↓s against the LR, as
`Solver.lr_consistency`) and the kernel k_t. The run has converged at t when, over the last `WINDOW` outer
iterations, both moved by at most the tolerance τ (`convergence_tol`), each as a relative change:

    |r_t − r_{t−W}| ≤ τ · r_{t−W}     and     ½ ‖k_t − k_{t−W}‖₁ ≤ τ

(a kernel sums to 1, so half its L1 change is the fraction of its mass that moved). The rule is not checked
before `first_check` iterations (the plan's 1-SSIM share plus one window: the loss switches at the share's end,
and a plateau of the first phase says nothing about the second). τ = 0 runs the full count. Deterministic: it
reads only the run's own numbers.
"""

from __future__ import annotations

from collections import deque

import numpy as np

WINDOW = 10  # outer iterations between the compared estimates (50 image steps at P = 5)


def first_check(share_iterations: int) -> int:
    """The first outer iteration at which the rule may stop a run: the 1-SSIM share, then one window."""
    return max(0, int(share_iterations)) + WINDOW


class Convergence:
    """Feed it each outer iteration's residual and kernel; `update` says whether the run has converged."""

    def __init__(self, tolerance: float, minimum: int, window: int = WINDOW) -> None:
        self.tolerance = float(tolerance)
        self.minimum = int(minimum)
        self.window = int(window)
        self.iterations = 0
        self.changes: tuple[float, float] | None = None  # the last (residual, kernel) change checked
        self._past: deque[tuple[float, np.ndarray]] = deque(maxlen=self.window + 1)

    def update(self, residual: float, kernel: np.ndarray) -> bool:
        """Record iteration t's LR residual and kernel; True when the run has converged at t."""
        self.iterations += 1
        self._past.append((float(residual), np.asarray(kernel, dtype=np.float64)))
        if len(self._past) <= self.window:
            return False
        (r_then, k_then), (r_now, k_now) = self._past[0], self._past[-1]
        residual_change = abs(r_now - r_then) / r_then if r_then > 0 else float(r_now != r_then)
        kernel_change = 0.5 * float(np.abs(k_now - k_then).sum())
        self.changes = (residual_change, kernel_change)
        if self.tolerance <= 0 or self.iterations < self.minimum:
            return False
        return residual_change <= self.tolerance and kernel_change <= self.tolerance
