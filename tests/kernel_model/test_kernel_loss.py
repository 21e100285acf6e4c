"""The loss the kernel's meta step fits (the kernel model's `kernel_loss`): the image's own ("data", 1-SSIM
then MSE), or "scaled-mse-after-share" (the MLMC kernel model's, HACBSR's ×2 default): the image's loss for
the mode's 1-SSIM share, then MSE's direction at 1-SSIM's size ("scaled-mse", the per-step kind); the image's
own loss is the same in every case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.degradation import forward_model
from napari_hacbsr.core.engine import Solver
from napari_hacbsr.core.image import prepare_image
from napari_hacbsr.core.kernel_model import KERNEL_MODELS
from napari_hacbsr.core.losses import data_loss
from napari_hacbsr.core.plan import resolve
from napari_hacbsr.core.presets import preset

CPU = torch.device("cpu")


def _first_ssim_step(kind: str) -> tuple[Solver, dict[str, float], torch.Tensor]:
    """One 1-SSIM image step whose kernel side is charged the per-step kind `kind` ("data" or "scaled-mse")."""
    lr = np.random.default_rng(3).random((17, 17)).astype(np.float32)
    cfg = HACBSRConfig(scale=2, encoder="fallback", device="cpu", kernel_warmup=0, seed=5)
    prepared = prepare_image(lr, 2)
    solver = Solver(prepared, resolve(cfg, "cpu", prepared), CPU)
    solver.warmup(lambda: False)
    solver.kernel_kind = kind  # (what outer_iteration sets from RunPlan.kernel_loss_at)
    kernel = solver.net_k(solver.z_k)
    values, _ = solver.image_step(kernel, use_ssim=True)
    return solver, values, kernel.detach()


def test_with_the_data_loss_the_kernel_is_charged_the_images_1_minus_ssim():
    solver, values, kernel = _first_ssim_step("data")
    pred = forward_model(solver.x_last, kernel, 2)
    one_minus_ssim = data_loss(pred, solver.y, solver.mask, use_ssim=True).item()
    mse = data_loss(pred, solver.y, solver.mask, use_ssim=False).item()
    assert abs(mse - one_minus_ssim) > 1e-3  # (so the two cannot be confused)
    assert values["data"] == pytest.approx(one_minus_ssim, rel=1e-5)
    assert values["kernel"] == pytest.approx(one_minus_ssim, rel=1e-5)  # same x, same kernel, same loss
    with pytest.raises(ValueError, match="has no per-step form"):  # the schedule's name is resolved first
        solver.data.for_kernel(pred, True, "scaled-mse-after-share")


def test_scaled_mse_takes_mse_direction_at_the_1_minus_ssim_size():
    solver, values, kernel = _first_ssim_step("scaled-mse")
    _, before, _ = _first_ssim_step("data")
    assert values["data"] == pytest.approx(before["data"], rel=1e-6)  # the same first image
    assert values["kernel"] == pytest.approx(before["kernel"], rel=1e-5)  # 1-SSIM's value (Eq. 12 reads it)
    # its gradient on the kernel is MSE's, times the (constant) ratio of the two losses
    k = kernel.clone().requires_grad_(True)
    pred = forward_model(solver.x_last, k, 2)
    scaled = solver.data.for_kernel(pred, True, "scaled-mse")
    (g_scaled,) = torch.autograd.grad(scaled, k)
    k2 = kernel.clone().requires_grad_(True)
    pred2 = forward_model(solver.x_last, k2, 2)
    mse = data_loss(pred2, solver.y, solver.mask, use_ssim=False)
    (g_mse,) = torch.autograd.grad(mse, k2)
    ratio = before["kernel"] / mse.item()
    assert ratio > 3  # (1-SSIM is far larger than MSE: the two sizes cannot be confused)
    torch.testing.assert_close(g_scaled, g_mse * ratio, rtol=1e-4, atol=1e-9)
    k3 = kernel.clone().requires_grad_(True)
    ssim = data_loss(forward_model(solver.x_last, k3, 2), solver.y, solver.mask, use_ssim=True)
    (g_ssim,) = torch.autograd.grad(ssim, k3)
    assert not torch.allclose(g_scaled, g_ssim, rtol=0.05)  # not 1-SSIM's own direction
    # in the MSE phase it is the plain MSE, as every kernel loss
    assert solver.data.for_kernel(pred.detach(), False, "scaled-mse").item() == pytest.approx(mse.item(), rel=1e-6)


def test_each_mode_kernel_model_and_preset_has_its_kernel_loss():
    # HACBSR's ×2 default (the MLMC kernel model, whose Adam the prior shares) leaves the image's loss after
    # the share; from ×3 HACBSR's own model (its own prior Adam) fits the image's loss throughout
    assert KERNEL_MODELS["mlmc"].kernel_loss == "scaled-mse-after-share"
    for scale in (2, 3, 4):
        late = "scaled-mse-after-share" if scale == 2 else "data"
        assert resolve(HACBSRConfig(scale=scale), "cpu").kernel.kernel_loss == late
        pinned = resolve(HACBSRConfig(scale=scale, kernel_model="mlmc"), "cpu")  # the model, pinned at any scale
        assert pinned.kernel.kernel_loss == "scaled-mse-after-share"
        for cfg in (
            HACBSRConfig(scale=scale, mode="mlmc"),  # MLMC mode's loop fits the data loss whatever the model
            HACBSRConfig(scale=scale, mode="mlmc", kernel_model="mlmc"),
            HACBSRConfig(scale=scale, kernel_model="hacbsr"),
            preset("paper", scale=scale),
        ):
            assert resolve(cfg, "cpu").kernel.kernel_loss == "data"
    # "mse" and "scaled-mse" are no settings: the kernel model is the one knob
    with pytest.raises(ValueError, match=r"kernel_model must be one of \('hacbsr', 'mlmc', 'paper'\)"):
        HACBSRConfig(kernel_model="mse")
    with pytest.raises(ValueError, match="unknown HACBSRConfig field"):
        HACBSRConfig.from_dict({"kernel_loss": "mse"})


def test_scaled_mse_after_share_switches_at_the_modes_share_whatever_the_gate():
    # below the gate the image fits 1-SSIM throughout, but the kernel leaves it at the paper's 81 of 300
    plan = resolve(HACBSRConfig(scale=2, iterations=300, lr_noise=0.001, kernel_model="mlmc"), "cpu")
    assert plan.below_noise_gate and plan.ssim_iterations == 300 and plan.share_iterations == 81
    assert [plan.kernel_loss_at(i) for i in (0, 80, 81, 299)] == ["data", "data", "scaled-mse", "scaled-mse"]
    hand_set = HACBSRConfig(scale=2, iterations=300, ssim_share=40 / 300, kernel_model="mlmc")
    assert resolve(hand_set, "cpu").share_iterations == 40  # a hand-set share moves the switch
    for name in ("hacbsr", "paper"):  # "data" holds for the whole run
        plan = resolve(HACBSRConfig(scale=2, iterations=300, kernel_model=name), "cpu")
        assert [plan.kernel_loss_at(i) for i in (0, 200)] == ["data", "data"]
    # the solver charges each iteration's kind: the image's 1-SSIM before the share, scaled MSE after it
    lr = np.random.default_rng(3).random((17, 17)).astype(np.float32)
    run = HACBSRConfig(
        scale=2, encoder="fallback", kernel_warmup=0, iterations=4, inner_steps=1, lr_noise=0.001, kernel_model="mlmc"
    )
    prepared = prepare_image(lr, 2)
    solver = Solver(prepared, resolve(run, "cpu", prepared), CPU)
    assert solver.warmup(lambda: False)
    share = solver.cfg.share_iterations
    assert 0 < share < 4 and solver.cfg.ssim_iterations == 4
    seen = []
    for index in range(4):
        solver.outer_iteration(index, lambda: False)
        seen.append(solver.kernel_kind)
    assert seen == ["data"] * share + ["scaled-mse"] * (4 - share)
