"""The LR noise estimate (core.noise) and the loss-schedule gate it drives."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_hacbsr.core import engine
from napari_hacbsr.core.config import NOISE_GATE, HACBSRConfig
from napari_hacbsr.core.engine import Solver
from napari_hacbsr.core.image import prepare_image
from napari_hacbsr.core.noise import describe_loss_schedule, estimate_noise_sigma
from napari_hacbsr.core.tiling import iterate_tiled

from ..helpers import TINY, drain

CPU = torch.device("cpu")


def blurred_texture(h, w, seed=0, blur=1.0):
    """Band-limited texture in [0.1, 0.9]: white noise blurred as the forward model blurs (σ in LR px)."""
    field = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((h, w)), blur)
    return 0.1 + 0.8 * (field - field.min()) / (field.max() - field.min())


@pytest.mark.parametrize("side, tolerance", [(24, 0.35), (48, 0.2), (200, 0.05)])
def test_white_noise_is_read_at_its_level(side, tolerance):
    rng = np.random.default_rng(1)
    estimates = [estimate_noise_sigma(0.02 * rng.standard_normal((side, side))) for _ in range(20)]
    assert abs(np.mean(estimates) / 0.02 - 1) < tolerance / 2
    assert all(abs(e / 0.02 - 1) < 2 * tolerance for e in estimates)


def test_blurred_texture_reads_as_noise_free_and_added_noise_at_its_level():
    texture = blurred_texture(48, 48)
    assert texture.std() > 0.08  # texture far above the noise levels below
    assert estimate_noise_sigma(texture) < 0.05 * NOISE_GATE  # the texture's own power stays out of the band
    for sigma in (0.005, 0.02, 0.05):
        noisy = texture + sigma * np.random.default_rng(2).standard_normal(texture.shape)
        assert estimate_noise_sigma(noisy) == pytest.approx(sigma, rel=0.25)


def test_channels_masks_small_and_large_images():
    texture = blurred_texture(40, 40)
    noisy = texture + 0.03 * np.random.default_rng(3).standard_normal(texture.shape)
    assert estimate_noise_sigma(np.stack([texture, noisy])) == estimate_noise_sigma(noisy)  # the noisiest channel
    mask = np.ones((1, 40, 40), np.float32)
    mask[0, 10:14, 5:30] = 0  # a missing stripe, stored as zeros, can only raise the estimate
    holed = np.where(mask[0] > 0, texture, 0.0)
    assert estimate_noise_sigma(texture) <= estimate_noise_sigma(holed, mask) < NOISE_GATE
    assert estimate_noise_sigma(texture[:7]) == math.inf  # too few rows to tell
    assert estimate_noise_sigma(texture, np.zeros((40, 40))) == math.inf
    big = 0.01 * np.random.default_rng(4).standard_normal((700, 600))  # read in blocks
    assert estimate_noise_sigma(big) == pytest.approx(0.01, rel=0.05)


def test_the_gate_picks_the_loss_schedule_only_when_the_schedule_is_the_modes():
    n = 300
    quiet = HACBSRConfig(scale=4, iterations=n, lr_noise=NOISE_GATE / 2)
    noisy = quiet.replace(lr_noise=2 * NOISE_GATE)
    assert quiet.below_noise_gate and quiet.ssim_iterations == n  # 1-SSIM throughout
    assert not noisy.below_noise_gate and noisy.ssim_iterations == 81
    assert HACBSRConfig(scale=4, iterations=n).ssim_iterations == 81  # noise unknown: the mode's share
    assert quiet.for_device("cpu").ssim_iterations == n  # for_device leaves the share to the gate
    # a schedule the user set, MLMC mode and the paper preset never follow the gate
    assert quiet.replace(ssim_share=0.5).ssim_iterations == 150 and quiet.replace(ssim_phase=7).ssim_iterations == 7
    assert quiet.replace(mode="mlmc", iterations=200).ssim_iterations == 81
    assert HACBSRConfig.preset("paper", scale=4, lr_noise=0.0).ssim_iterations == 81
    assert quiet.replace(noise_gate=0.0).ssim_iterations == 81
    for bad in (-0.1, float("inf"), "low"):
        with pytest.raises(ValueError, match="lr_noise must be a fraction of the value range"):
            HACBSRConfig(lr_noise=bad)


def test_a_run_estimates_the_noise_once_and_keeps_a_known_level():
    clean = blurred_texture(24, 24)
    noisy = clean + 0.05 * np.random.default_rng(5).standard_normal(clean.shape)
    base = HACBSRConfig(scale=2, **{**TINY, "ssim_phase": None})
    for image, below in ((clean, True), (noisy, False)):
        prepared = prepare_image(image, 2)
        solver = Solver(prepared, base, CPU)
        assert solver.cfg.lr_noise == pytest.approx(estimate_noise_sigma(prepared.y), abs=1e-6)
        assert solver.cfg.below_noise_gate is below
        assert solver.cfg.ssim_iterations == (3 if below else 1)
    _, result = drain(engine.iterate(noisy, base.replace(lr_noise=0.001)))  # a known level is used as given
    assert result.config.lr_noise == 0.001 and result.config.ssim_iterations == 3


def test_all_tiles_follow_the_frames_noise_level(monkeypatch):
    frame = blurred_texture(40, 30)
    frame[:20] += 0.06 * np.random.default_rng(6).standard_normal((20, 30))  # one noisy half
    seen = []
    real_iterate = engine.iterate

    def recording(prepared, cfg, stop):
        seen.append(cfg.lr_noise)
        return real_iterate(prepared, cfg, stop)

    monkeypatch.setattr(engine, "iterate", recording)
    cfg = HACBSRConfig(scale=2, **{**TINY, "iterations": 1, "inner_steps": 1})
    _, result = drain(iterate_tiled(frame, cfg, tile=30, overlap=10))
    expected = estimate_noise_sigma(prepare_image(frame, 2).y)
    assert len(seen) == 2 and seen[0] == seen[1] == pytest.approx(expected, abs=1e-6)
    assert result.config.lr_noise == seen[0]


def test_the_noise_aware_data_term_stops_at_the_noise_level():
    from napari_hacbsr.core.losses import DataTerm, data_loss

    rng = np.random.default_rng(7)
    target = torch.from_numpy(rng.random((1, 1, 16, 16), dtype=np.float32))
    close = target + 0.01 * torch.from_numpy(rng.standard_normal((1, 1, 16, 16)).astype(np.float32))
    far = target + 0.1 * torch.from_numpy(rng.standard_normal((1, 1, 16, 16)).astype(np.float32))
    plain = DataTerm(target, None)  # no floor: exactly data_loss
    for pred in (close, far):
        for ssim in (True, False):
            assert torch.equal(plain(pred, ssim), data_loss(pred, target, None, ssim))
    floor = 0.05**2  # between the two fits' MSE (1e-4 and 1e-2)
    term = DataTerm(target, None, floor)
    mse_far = data_loss(far, target, None, False)
    assert torch.allclose(term(far, False), mse_far - floor)  # MSE charged above the noise only
    pred = close.clone().requires_grad_(True)
    loss = term(pred, False)
    loss.backward()
    assert loss.item() == 0.0 and not pred.grad.any()  # within the noise: nothing left to fit
    # the 1-SSIM phase lasts while the fit is coarser than the noise, and ends for good once it is not
    assert torch.equal(term(far, True), data_loss(far, target, None, True)) and not term.reached_noise
    assert term(close, True).item() == 0.0 and term.reached_noise
    assert torch.allclose(term(far, True), mse_far - floor)  # (no way back to 1-SSIM)


def test_the_noise_floor_applies_above_the_gate_to_the_modes_schedule_only():
    assert HACBSRConfig(scale=4, lr_noise=0.03).noise_floor == 0.0  # opt-in
    noisy = HACBSRConfig(scale=4, lr_noise=0.03, discrepancy=True)
    assert noisy.noise_floor == pytest.approx(0.03**2)
    assert noisy.replace(lr_noise=NOISE_GATE / 2).noise_floor == 0.0  # below the gate: 1-SSIM throughout
    assert HACBSRConfig(scale=4).noise_floor == 0.0  # noise unknown
    for changes in (
        {"discrepancy": False},
        {"ssim_share": 0.5},
        {"ssim_phase": 3},
        {"mode": "mlmc", "discrepancy": None},
    ):
        assert noisy.replace(**changes).noise_floor == 0.0, changes
    assert HACBSRConfig.preset("paper", scale=4, lr_noise=0.03).noise_floor == 0.0
    assert "or until the fit reaches the noise, then MSE above the noise" in describe_loss_schedule(noisy)
    cfg = HACBSRConfig(scale=2, **TINY, lr_noise=0.03, discrepancy=True)
    solver = Solver(prepare_image(blurred_texture(24, 24), 2), cfg, CPU)
    assert solver.data.noise_floor == 0.0  # TINY sets ssim_phase: a schedule set by hand runs as set
    cfg = cfg.replace(ssim_phase=None)
    assert Solver(prepare_image(blurred_texture(24, 24), 2), cfg, CPU).data.noise_floor == pytest.approx(9e-4)


def test_the_image_prior_grows_with_the_noise_above_the_gate():
    w = HACBSRConfig().hyper_laplacian_weight
    noisy = HACBSRConfig(scale=4, lr_noise=3 * NOISE_GATE)
    assert noisy.image_prior_weight == pytest.approx(3 * w)  # σ / gate
    assert noisy.replace(lr_noise=1.5 * NOISE_GATE).image_prior_weight == pytest.approx(1.5 * w)
    for changes in (
        {"lr_noise": NOISE_GATE / 2},  # below the gate: 1-SSIM throughout, the prior as set
        {"lr_noise": None},  # noise unknown
        {"prior_follows_noise": False},
        {"ssim_share": 0.5},  # a schedule set by hand runs as set
        {"mode": "mlmc"},
        {"noise_gate": 0.0},
    ):
        assert noisy.replace(**changes).image_prior_weight == w, changes
    assert HACBSRConfig.preset("paper", scale=4, lr_noise=0.03).image_prior_weight == w
    assert "then MSE, hyper-Laplacian ×3.0 for the noise (LR noise 3.00 %" in describe_loss_schedule(noisy)
    assert "hyper-Laplacian" not in describe_loss_schedule(noisy.replace(prior_follows_noise=False))
    with pytest.raises(ValueError, match="must be True, False or None"):
        HACBSRConfig(prior_follows_noise="yes")


def test_a_noisy_run_charges_the_scaled_prior_in_its_image_steps():
    image = blurred_texture(24, 24)
    cfg = HACBSRConfig(scale=2, **{**TINY, "ssim_phase": None}, lr_noise=2 * NOISE_GATE)
    terms = []
    for follows in (True, False):
        solver = Solver(prepare_image(image, 2), cfg.replace(prior_follows_noise=follows), CPU)
        solver.warmup(lambda: False)
        kernel = solver.net_k(solver.z_k)
        terms.append(solver.image_step(kernel, use_ssim=False)[0]["hyper_laplacian"])
    assert terms[0] == pytest.approx(2 * terms[1], rel=1e-5)  # the same first image, 2 × gate / gate the weight
