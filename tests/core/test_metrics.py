import math

import numpy as np
import pytest

from napari_hacbsr.core.metrics import LPIPSMetric, evaluate_sr, kernel_psnr, psnr, shift_compensated_psnr, to_y


def test_identical_images_are_perfect():
    hr = np.random.default_rng(0).random((40, 40))
    m = evaluate_sr(hr, hr, 2)
    assert math.isinf(m["psnr_gray"]) and math.isinf(m["psnr_y"])
    assert m["ssim_gray"] == pytest.approx(1.0) and m["ssim_y"] == pytest.approx(1.0)


def test_y_of_replicated_gray_adds_1_32_db():
    rng = np.random.default_rng(1)
    hr = rng.random((48, 48))
    sr = np.clip(hr + 0.05 * rng.standard_normal(hr.shape), 0, 1)
    m = evaluate_sr(sr, hr, 2)
    assert m["psnr_y"] - m["psnr_gray"] == pytest.approx(20 * math.log10(255 / 219), abs=1e-9)
    rgb = np.repeat(hr[..., None], 3, axis=-1) * 255
    assert np.allclose(to_y(rgb), to_y(hr * 255))


def test_shave_and_uint8_rounding():
    hr = np.zeros((20, 20))
    sr = hr.copy()
    sr[:2, :] = 1.0  # errors only inside the shaved border
    assert math.isinf(evaluate_sr(sr, hr, 2)["psnr_gray"])
    assert math.isinf(evaluate_sr(hr + 0.4 / 255, hr, 2)["psnr_gray"])  # rounds to the same level
    assert evaluate_sr(hr + 0.6 / 255, hr, 2)["psnr_gray"] == pytest.approx(20 * math.log10(255))


def test_kernel_psnr_and_psnr_formula():
    k = np.full((11, 11), 1 / 121)
    assert math.isinf(kernel_psnr(k, k))
    other = k.copy()
    other[5, 5] += 0.01
    assert kernel_psnr(other, k) == pytest.approx(20 * math.log10(1 / math.sqrt(0.01**2 / 121)))
    with pytest.raises(ValueError, match="shapes differ"):
        kernel_psnr(k, np.ones((3, 3)))
    assert psnr(np.zeros(4), np.full(4, 255.0)) == pytest.approx(0.0)


def test_shift_compensation_finds_a_known_shift():
    yy, xx = np.mgrid[0:48, 0:48]
    hr = 0.5 + 0.4 * np.sin(xx / 4.0) * np.cos(yy / 5.0)
    shifted = np.roll(hr, 1, axis=1)
    best, (dy, dx) = shift_compensated_psnr(shifted, hr, 2, max_shift=1, step=0.5)
    assert (dy, dx) == (0.0, -1.0)
    assert best > evaluate_sr(shifted, hr, 2)["psnr_gray"] + 10


def test_lpips_is_not_available_without_alexnet_weights(monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert LPIPSMetric.try_load() is None  # reported as N/A, never a made-up number
