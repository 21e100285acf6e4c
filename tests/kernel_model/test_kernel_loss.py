"""The loss the kernel's meta step fits (`kernel_loss`): the image's (1-SSIM, then MSE), MSE throughout,
in the 1-SSIM phase MSE's direction at 1-SSIM's size ("scaled-mse"), or that only after the mode's share
("scaled-mse-after-share", HACBSR's x2 default); the image's own loss is the same in every case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.degradation import forward_model
from napari_hacbsr.core.engine import Solver, prepare_image
from napari_hacbsr.core.losses import data_loss

CPU = torch.device("cpu")


def _first_ssim_step(kernel_loss: str | None) -> tuple[Solver, dict[str, float], torch.Tensor]:
    lr = np.random.default_rng(3).random((17, 17)).astype(np.float32)
    cfg = HACBSRConfig(scale=2, encoder="fallback", device="cpu", kernel_warmup=0, seed=5, kernel_loss=kernel_loss)
    solver = Solver(prepare_image(lr, 2), cfg, CPU)
    solver.warmup(lambda: False)
    kernel = solver.net_k(solver.z_k)
    values, _ = solver.image_step(kernel, use_ssim=True)
    return solver, values, kernel.detach()


def test_the_kernel_fits_mse_while_the_image_fits_1_minus_ssim():
    solver, values, kernel = _first_ssim_step("mse")
    pred = forward_model(solver.x_last, kernel, 2)
    mse = data_loss(pred, solver.y, solver.mask, use_ssim=False).item()
    one_minus_ssim = data_loss(pred, solver.y, solver.mask, use_ssim=True).item()
    assert values["kernel"] == pytest.approx(mse, rel=1e-5)
    assert values["data"] == pytest.approx(one_minus_ssim, rel=1e-5)  # the image's loss is unchanged
    assert abs(mse - one_minus_ssim) > 1e-3  # (so the two cannot be confused)
    # with the image's loss, the kernel is charged the same 1-SSIM as the image (same x, same kernel)
    _, before, _ = _first_ssim_step("data")
    assert before["kernel"] == pytest.approx(before["data"], rel=1e-5)
    assert before["data"] == pytest.approx(values["data"], rel=1e-6)  # the same first image either way


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


def test_each_mode_and_preset_has_its_kernel_loss():
    # HACBSR's x2 default (the MLMC kernel model's shared Adam) leaves the image's loss after the share
    for scale in (2, 3, 4):
        late = "scaled-mse-after-share" if scale == 2 else "data"
        assert HACBSRConfig(scale=scale).for_device("cpu").kernel_loss == late
        assert HACBSRConfig.preset("mlmc-kernel", scale=scale).for_device("cpu").kernel_loss == late
        for cfg in (
            HACBSRConfig(scale=scale, mode="mlmc"),
            HACBSRConfig.preset("paper", scale=scale),
            HACBSRConfig.preset("data-prior", scale=scale),
        ):
            assert cfg.for_device("cpu").kernel_loss == "data"
    assert HACBSRConfig(kernel_loss="mse").for_device("cpu").kernel_loss == "mse"  # set by the user: kept
    with pytest.raises(
        ValueError, match=r"kernel_loss must be one of \('data', 'mse', 'scaled-mse', 'scaled-mse-after-share'\)"
    ):
        HACBSRConfig(kernel_loss="ssim")


def test_scaled_mse_after_share_switches_at_the_modes_share_whatever_the_gate():
    # below the gate the image fits 1-SSIM throughout, but the kernel leaves it at the paper's 81 of 300
    cfg = HACBSRConfig(scale=2, iterations=300, lr_noise=0.001, kernel_loss="scaled-mse-after-share")
    assert cfg.ssim_iterations == 300 and cfg.share_iterations == 81
    assert HACBSRConfig(scale=2, iterations=300, ssim_phase=40).share_iterations == 40  # a hand-set schedule rules
    assert [cfg.kernel_loss_at(i) for i in (0, 80, 81, 299)] == ["data", "data", "scaled-mse", "scaled-mse"]
    for kind in ("data", "mse", "scaled-mse"):  # the other kinds hold for the whole run
        assert HACBSRConfig(scale=2, iterations=300, kernel_loss=kind).kernel_loss_at(200) == kind
    # the solver charges each iteration's kind: the image's 1-SSIM before the share, scaled MSE after it
    lr = np.random.default_rng(3).random((17, 17)).astype(np.float32)
    run = HACBSRConfig(
        scale=2,
        encoder="fallback",
        kernel_warmup=0,
        iterations=4,
        inner_steps=1,
        ssim_share=None,
        lr_noise=0.001,
        kernel_loss="scaled-mse-after-share",
    )
    solver = Solver(prepare_image(lr, 2), run, CPU)
    assert solver.warmup(lambda: False)
    share = solver.cfg.share_iterations
    assert 0 < share < 4
    seen = []
    for index in range(4):
        solver.outer_iteration(index, lambda: False)
        seen.append(solver.kernel_kind)
    assert seen == ["data"] * share + ["scaled-mse"] * (4 - share)
