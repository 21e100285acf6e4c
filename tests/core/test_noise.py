"""The LR noise estimate (core.noise) and the loss-schedule gate it drives."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_hacbsr.core import engine
from napari_hacbsr.core.config import NOISE_GATE, HACBSRConfig
from napari_hacbsr.core.engine import Solver
from napari_hacbsr.core.image import prepare_image
from napari_hacbsr.core.noise import estimate_noise_sigma
from napari_hacbsr.core.plan import resolve
from napari_hacbsr.core.presets import preset
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


def test_the_gate_picks_the_loss_schedule_whatever_the_share_says():
    n = 300
    quiet = HACBSRConfig(scale=4, iterations=n, lr_noise=NOISE_GATE / 2)
    noisy = quiet.replace(lr_noise=2 * NOISE_GATE)
    assert resolve(quiet, "cpu").below_noise_gate and resolve(quiet, "cpu").ssim_iterations == n  # 1-SSIM throughout
    assert not resolve(noisy, "cpu").below_noise_gate and resolve(noisy, "cpu").ssim_iterations == 81
    assert resolve(HACBSRConfig(scale=4, iterations=n), "cpu").ssim_iterations == 81  # noise unknown: the share
    # the mode's share set explicitly changes nothing (it used to switch the gate off)
    explicit, left = resolve(quiet.replace(ssim_share=81 / 300), "cpu"), resolve(quiet, "cpu")
    assert dataclasses.replace(explicit, config=quiet) == left and explicit.ssim_iterations == n
    assert resolve(noisy.replace(ssim_share=0.5), "cpu").ssim_iterations == 150  # above the gate: the share
    # the gate off, MLMC mode and the paper preset run the share as it is
    assert resolve(quiet.replace(noise_gate=False, ssim_share=0.5), "cpu").ssim_iterations == 150
    assert resolve(quiet.replace(mode="mlmc", iterations=200), "cpu").ssim_iterations == 81
    assert resolve(preset("paper", scale=4, lr_noise=0.0), "cuda").ssim_iterations == 81
    for bad in (-0.1, float("inf"), "low"):
        with pytest.raises(ValueError, match="lr_noise must be a fraction of the value range"):
            HACBSRConfig(lr_noise=bad)


def test_a_run_estimates_the_noise_once_and_keeps_a_known_level():
    clean = blurred_texture(24, 24)
    noisy = clean + 0.05 * np.random.default_rng(5).standard_normal(clean.shape)
    base = HACBSRConfig(scale=2, **{**TINY, "ssim_share": None, "noise_gate": None})
    for image, below in ((clean, True), (noisy, False)):
        prepared = prepare_image(image, 2)
        plan = resolve(base, "cpu", prepared)
        assert plan.lr_noise == pytest.approx(estimate_noise_sigma(prepared.y), abs=1e-6)
        assert plan.below_noise_gate is below
        assert plan.ssim_iterations == (3 if below else 1)
    _, result = drain(engine.iterate(noisy, base.replace(lr_noise=0.001)))  # a known level is used as given
    assert result.plan.lr_noise == 0.001 and result.plan.ssim_iterations == 3
    assert result.config.lr_noise == 0.001


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
    assert result.plan.lr_noise == seen[0]
    assert result.config.lr_noise is None  # the user's config is kept as given (a replay re-estimates)


def test_the_image_prior_grows_with_the_noise_above_the_gate():
    w = HACBSRConfig().hyper_laplacian_weight
    noisy = HACBSRConfig(scale=4, lr_noise=3 * NOISE_GATE)
    assert resolve(noisy, "cpu").image_prior_weight == pytest.approx(3 * w)  # σ / gate
    assert resolve(noisy.replace(lr_noise=1.5 * NOISE_GATE), "cpu").image_prior_weight == pytest.approx(1.5 * w)
    assert resolve(noisy.replace(ssim_share=0.5), "cpu").image_prior_weight == pytest.approx(3 * w)
    for changes in (
        {"lr_noise": NOISE_GATE / 2},  # below the gate: 1-SSIM throughout, the prior as set
        {"lr_noise": None},  # noise unknown
        {"noise_gate": False},
        {"mode": "mlmc"},
    ):
        assert resolve(noisy.replace(**changes), "cpu").image_prior_weight == w, changes
    assert resolve(preset("paper", scale=4, lr_noise=0.03), "cpu").image_prior_weight == w
    text = resolve(noisy, "cpu").describe_loss_schedule()
    assert "then MSE, hyper-Laplacian ×3.0 for the noise (LR noise 3.00 %" in text
    assert "hyper-Laplacian" not in resolve(noisy.replace(noise_gate=False), "cpu").describe_loss_schedule()
    with pytest.raises(ValueError, match="must be True, False or None"):
        HACBSRConfig(noise_gate="yes")


def test_a_noisy_run_charges_the_scaled_prior_in_its_image_steps():
    image = blurred_texture(24, 24)
    cfg = HACBSRConfig(scale=2, **{**TINY, "ssim_share": None, "noise_gate": None}, lr_noise=2 * NOISE_GATE)
    terms = []
    for gate in (True, False):
        solver = Solver(prepare_image(image, 2), resolve(cfg.replace(noise_gate=gate), "cpu"), CPU)
        solver.warmup(lambda: False)
        kernel = solver.net_k(solver.z_k)
        terms.append(solver.image_step(kernel, use_ssim=False)[0]["hyper_laplacian"])
    assert terms[0] == pytest.approx(2 * terms[1], rel=1e-5)  # the same first image, 2 × gate / gate the weight
