"""The history term's phase (`history_in_mse`): in the paper it acts for the whole run; in HACBSR's default
it acts (and its EMA network is updated) only while the data term is 1-SSIM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.engine import Solver
from napari_hacbsr.core.image import prepare_image
from napari_hacbsr.core.plan import resolve
from napari_hacbsr.core.presets import preset


def _solver(**changes) -> Solver:
    lr = np.random.default_rng(1).random((17, 17)).astype(np.float32)
    base = {"scale": 2, "encoder": "fallback", "device": "cpu", "kernel_warmup": 0, "inner_steps": 2}
    prepared = prepare_image(lr, 2)
    plan = resolve(HACBSRConfig(**{**base, **changes}), "cpu", prepared)
    return Solver(prepared, plan, torch.device("cpu"))


@pytest.mark.parametrize("in_mse", [True, False])
def test_the_history_term_and_its_updates_follow_the_phase(in_mse):
    solver = _solver(history_in_mse=in_mse, history_interval=2, ssim_share=1 / 3, noise_gate=False, iterations=3)
    assert solver.cfg.ssim_iterations == 1
    solver.warmup(lambda: False)
    updates: list[int] = []
    original = solver.history_update

    def counted(loss):
        updates.append(solver.global_step)
        return original(loss)

    solver.history_update = counted
    terms = []
    for index in range(3):  # iteration 0 fits 1-SSIM, 1 and 2 MSE
        losses, _ = solver.outer_iteration(index, lambda: False)
        terms.append("contrast" in losses)
    assert terms == [True, in_mse, in_mse]
    assert updates == ([2, 4, 6] if in_mse else [2])
    # and a single MSE step charges it or not
    kernel = solver.net_k(solver.z_k)
    assert ("contrast" in solver.image_step(kernel, use_ssim=False)[0]) is in_mse
    assert "contrast" in solver.image_step(kernel, use_ssim=True)[0]


def test_the_default_drops_it_in_the_mse_phase_and_the_paper_keeps_it():
    for scale in (2, 3, 4):
        assert resolve(HACBSRConfig(scale=scale), "cpu").history_in_mse is False
        # (neither kernel model nor the noise-free share brings it back)
        for cfg in (
            HACBSRConfig(scale=scale, kernel_model="mlmc"),
            HACBSRConfig(scale=scale, kernel_model="hacbsr"),
            preset("noise-free", scale=scale),
        ):
            assert resolve(cfg, "cpu").history_in_mse is False
        assert resolve(preset("paper", scale=scale), "cpu").history_in_mse is True
        assert resolve(HACBSRConfig(scale=scale, history_in_mse=True), "cpu").history_in_mse is True  # set: kept
    solver = _solver()  # the default: no history term in an MSE step
    solver.warmup(lambda: False)
    assert "contrast" not in solver.image_step(solver.net_k(solver.z_k), use_ssim=False)[0]


def test_history_in_mse_is_validated():
    with pytest.raises(ValueError, match="must be True, False or None"):
        HACBSRConfig(history_in_mse="sometimes")
