"""When a run has converged: the one stopping rule of the outer loop (issue 26), with N as its ceiling.

After each outer iteration t the engine reports the LR residual r_t (the MSE of (x ⊛ k)↓s against the LR, as
`Solver.lr_consistency`) and the kernel k_t. With W = `WINDOW` outer iterations, the run has converged at t
when, over the last window, neither the best residual nor the kernel moved by more than the tolerance τ
(`convergence_tol`), each as a relative change:

    min(r over the window before) − min(r over the last window) ≤ τ · min(r over the window before)
    and  ½ ‖k_t − k_{t−W}‖₁ ≤ τ

(a kernel sums to 1, so half its L1 change is the fraction of its mass that moved). The residual is compared
by its best value per window because Adam's steps spike it upwards now and then: two single residuals a
window apart can match while the fit is still improving (benchmarks/notebook/2026-12-03-convergence.md). The
rule is not checked before `first_check` iterations (the plan's 1-SSIM share plus one window: the loss
switches at the share's end, and a plateau of the first phase says nothing about the second). τ = 0 runs the
full count. Deterministic: it reads only the run's own numbers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

WINDOW = 10  # outer iterations per compared window (50 image steps at P = 5)


def first_check(share_iterations: int) -> int:
    """The first outer iteration at which the rule may stop a run: the 1-SSIM share, then one window."""
    return max(0, int(share_iterations)) + WINDOW


def changes(residuals: Sequence[float], kernel_change: float) -> tuple[float, float]:
    """(the best residual's relative gain, the kernel's moved mass) from the last 2W residuals (oldest first)
    and ½‖k_t − k_{t−W}‖₁.
    """
    half = len(residuals) // 2
    before, now = min(residuals[:half]), min(residuals[half:])
    gain = (before - now) / before if before > 0 else float(now != before)
    return gain, float(kernel_change)


def has_converged(residuals: Sequence[float], kernel_change: float, tolerance: float) -> bool:
    """The rule itself: both changes (`changes`) at most `tolerance` (0 or less: never)."""
    gain, moved = changes(residuals, kernel_change)
    return tolerance > 0 and abs(gain) <= tolerance and moved <= tolerance


class Convergence:
    """Feed it each outer iteration's residual and kernel; `update` says whether the run has converged."""

    def __init__(self, tolerance: float, minimum: int, window: int = WINDOW) -> None:
        self.tolerance = float(tolerance)
        self.minimum = int(minimum)
        self.window = int(window)
        self.iterations = 0
        self.changes: tuple[float, float] | None = None  # the last (residual gain, kernel change) computed
        self._residuals: deque[float] = deque(maxlen=2 * self.window)
        self._kernels: deque[np.ndarray] = deque(maxlen=self.window + 1)

    def update(self, residual: float, kernel: np.ndarray) -> bool:
        """Record iteration t's LR residual and kernel; True when the run has converged at t."""
        self.iterations += 1
        self._residuals.append(float(residual))
        self._kernels.append(np.asarray(kernel, dtype=np.float64))
        if len(self._residuals) < 2 * self.window:
            return False
        moved = 0.5 * float(np.abs(self._kernels[-1] - self._kernels[0]).sum())
        self.changes = changes(list(self._residuals), moved)
        return self.iterations >= self.minimum and has_converged(list(self._residuals), moved, self.tolerance)
