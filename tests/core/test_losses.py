import math

import pytest
import torch

from napari_hacbsr.core.losses import alpha_from_loss, data_loss, hyper_laplacian, meta_weights, ssim_map


def test_alpha_mapping_hand_values():
    assert alpha_from_loss(1e-6) == pytest.approx(0.99)
    assert alpha_from_loss(1e-2) == pytest.approx(0.8)
    assert alpha_from_loss(1.0) == pytest.approx(0.8)  # clamped
    assert alpha_from_loss(0.0) == pytest.approx(0.99)
    mid = (1e-6 + 1e-2) / 2
    assert alpha_from_loss(mid) == pytest.approx(0.895)
    assert alpha_from_loss(1e-3) == pytest.approx(0.99 - (1e-3 - 1e-6) / (1e-2 - 1e-6) * 0.19)


def test_meta_weights_hand_values():
    w = meta_weights([0.1, 0.3, 0.2])
    z = 1e-5 + 0.2 + 0.1
    pis = [0.0, 0.2 / z, 0.1 / z]
    expected = [-((1 - p) ** 2) * math.log(p + 1e-3) for p in pis]
    assert w == pytest.approx(expected)
    assert w[0] == pytest.approx(-math.log(1e-3))  # the lowest loss gets 6.908
    assert w[0] > w[2] > w[1]
    assert meta_weights([0.5, 0.5]) == pytest.approx([-math.log(1e-3)] * 2)


@pytest.mark.parametrize("use_ssim", [False, True])
def test_masked_pixels_do_not_change_the_loss(use_ssim):
    torch.manual_seed(0)
    pred = torch.rand(1, 3, 16, 16)
    target = torch.rand(1, 3, 16, 16)
    mask = torch.ones(1, 1, 16, 16)
    mask[..., 5, 7] = 0
    mask[..., 0, 0] = 0
    a = data_loss(pred, target, mask, use_ssim)
    other = target.clone()
    other[..., 5, 7] = 123.0
    other[..., 0, 0] = -9.0
    b = data_loss(pred, other, mask, use_ssim)
    assert torch.allclose(a, b)
    unmasked = data_loss(pred, other, None, use_ssim)
    assert not torch.allclose(a, unmasked)


def test_ssim_of_identical_images_is_one_and_hyper_laplacian_of_constant():
    x = torch.rand(1, 3, 12, 12)
    assert torch.allclose(ssim_map(x, x), torch.ones_like(x), atol=1e-5)
    flat = torch.full((1, 3, 8, 8), 0.4)
    assert hyper_laplacian(flat).item() == pytest.approx(4 * 3 * 64 * (1e-8) ** 0.67, rel=1e-4)
    step = flat.clone()
    step[..., :, 4:] = 0.6
    assert hyper_laplacian(step) > hyper_laplacian(flat)
