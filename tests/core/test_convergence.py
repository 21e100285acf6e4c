"""The stopping rule (core.convergence) and the engine's use of it: stops once converged, never before its
first check, never past N."""

import numpy as np
import pytest

from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.convergence import WINDOW, Convergence, first_check
from napari_hacbsr.core.engine import iterate
from napari_hacbsr.core.plan import resolve

from ..helpers import TINY, drain

KERNEL = np.full((3, 3), 1 / 9)


def feed(rule, residuals, kernels=None):
    """The iteration (1-based) at which `rule` first says converged, or None."""
    for t, r in enumerate(residuals, 1):
        if rule.update(r, KERNEL if kernels is None else kernels[t - 1]):
            return t
    return None


def test_a_still_estimate_converges_once_two_windows_have_passed_and_the_minimum_is_reached():
    assert feed(Convergence(0.01, minimum=0), [1.0] * 30) == 2 * WINDOW
    assert feed(Convergence(0.01, minimum=25), [1.0] * 30) == 25


def test_an_upward_spike_does_not_pass_for_convergence():
    """Adam spikes the residual now and then: two spiked residuals a window apart must not read as a plateau
    while the fit underneath still improves 3 % per iteration."""
    residuals = [0.97**t for t in range(60)]
    for t in (29, 39):
        residuals[t] = 0.97**19  # (t is 0-based: iterations 30 and 40 return to the level of iteration 20)
    assert feed(Convergence(0.05, 0), residuals) is None


def test_each_change_above_the_tolerance_keeps_the_run_going():
    falling = [0.9**t for t in range(40)]  # the residual drops 65 % per window
    assert feed(Convergence(0.5, 0), falling) is None
    assert feed(Convergence(0.7, 0), falling) == 2 * WINDOW
    # the residual still, the kernel's mass moving 2 % per iteration: ½‖Δk‖₁ over a window is 0.2
    kernels = []
    for t in range(40):
        k = np.zeros((3, 3))
        k[1, 1], k[1, 2] = 1 - min(0.02 * t, 1.0), min(0.02 * t, 1.0)
        kernels.append(k)
    rule = Convergence(0.1, 0)
    assert feed(rule, [1.0] * 40, kernels) is None
    assert rule.changes == pytest.approx((0.0, 0.2))
    assert feed(Convergence(0.25, 0), [1.0] * 40, kernels) == 2 * WINDOW


def test_a_zero_tolerance_or_a_nan_residual_never_stops():
    assert feed(Convergence(0.0, 0), [1.0] * 30) is None
    assert feed(Convergence(0.5, 0), [float("nan")] * 30) is None


def test_the_first_check_is_the_share_plus_a_window():
    assert first_check(27) == 27 + WINDOW and first_check(0) == WINDOW


def config(**changes):
    return HACBSRConfig(scale=2, **{**TINY, "inner_steps": 1, "kernel_warmup": 2, **changes})


def test_a_converged_run_stops_at_its_first_check_and_says_so(lr_image):
    # a loose tolerance: the run has converged by its first check (share 15 of 30, then one window)
    cfg = config(iterations=30, ssim_share=0.5, convergence_tol=0.99)
    assert first_check(resolve(cfg, "cpu").share_iterations) == 25
    steps, result = drain(iterate(lr_image, cfg))
    assert result.iterations_done == 25 and result.converged and not result.stopped_early
    assert steps[-1].iteration == 25 and steps[-1].total == 30 and steps[-1].sr is not None
    assert len(result.losses) == 25 and all(np.isfinite(r["lr_mse"]) for r in result.losses)
    assert result.provenance()["converged"] is True and result.provenance()["iterations_done"] == 25
    assert result.plan.to_dict()["convergence_tol"] == 0.99


def test_the_count_is_a_ceiling_and_a_zero_tolerance_runs_it_all(lr_image):
    _, result = drain(iterate(lr_image, config(iterations=12, convergence_tol=0.99)))  # first check 14 > 12
    assert result.iterations_done == 12 and not result.converged
    _, result = drain(iterate(lr_image, config(iterations=12, ssim_share=0.0, convergence_tol=0.0)))
    assert result.iterations_done == 12 and not result.converged


def test_the_tolerance_is_checked_and_resolved_per_mode():
    for bad in (-0.1, 1.0, "0.01", True):
        with pytest.raises(ValueError, match="convergence_tol"):
            HACBSRConfig(convergence_tol=bad)
    assert resolve(HACBSRConfig(mode="mlmc"), "cpu").convergence_tol == 0.0  # the MLMC code's fixed count
    assert resolve(HACBSRConfig(convergence_tol=0.02), "cpu").convergence_tol == 0.02
