import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_hacbsr.core.degradation import (
    KernelSampler,
    data_lambda_range,
    forward_model,
    gaussian_kernel,
    imresize,
    kernel_centre,
    prior_lambda_range,
    simulate,
)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_delta_kernel_keeps_top_left_pixels(scale):
    """y = (x ⊛ δ)[0::s, 0::s]: a delta at the kernel centre K//2 picks HR pixels s·i."""
    size = min(4 * scale + 3, 21)
    delta = torch.zeros(size, size, dtype=torch.float64)
    delta[size // 2, size // 2] = 1
    x = torch.rand(1, 2, 6 * scale, 5 * scale, dtype=torch.float64)
    y = forward_model(x, delta, scale)
    assert y.shape == (1, 2, 6, 5)
    assert torch.equal(y, x[:, :, ::scale, ::scale])


def test_forward_model_is_cross_correlation_with_circular_padding():
    x = torch.zeros(1, 1, 12, 12, dtype=torch.float64)
    x[0, 0, 0, 0] = 1.0
    k = torch.zeros(11, 11, dtype=torch.float64)
    k[5, 6] = 1.0  # reads the right-hand neighbour: out[i, j] = x[i, j + 1]
    y = forward_model(x, k, 1)
    assert y[0, 0, 0, 11] == 1.0  # x[0, 0] reached from column 11 through the circular wrap
    assert y.sum() == 1.0


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_prior_kernels_are_centred_normalised_and_in_range(scale):
    rng = np.random.default_rng(0)
    sampler = KernelSampler.prior(scale, rng)
    lo, hi = prior_lambda_range(scale)
    centre = kernel_centre(sampler.size, scale)
    lambdas, thetas, coms = [], [], []
    for _ in range(60):
        k, p = sampler.sample_with_params()
        assert k.shape == (sampler.size, sampler.size)
        assert abs(k.sum() - 1) < 1e-9
        # The spline shift is exact before truncation; wide prior kernels lose mass over the
        # border, which biases the centre of mass by ~0.07 px (as in the reference code).
        coms.append(ndimage.center_of_mass(k))
        lambdas += [p["lambda1"], p["lambda2"]]
        thetas.append(p["theta"])
    assert np.allclose(coms, centre, atol=0.2)
    assert np.allclose(np.mean(coms, axis=0), centre, atol=0.1)
    assert lo <= min(lambdas) and max(lambdas) <= hi
    assert abs(np.mean(lambdas) - (lo + hi) / 2) < 0.15 * (hi - lo)
    assert min(thetas) >= 0 and max(thetas) < np.pi


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_data_kernels_are_centred_tightly(scale):
    sampler = KernelSampler.data(scale, np.random.default_rng(2))
    coms = [ndimage.center_of_mass(sampler()) for _ in range(40)]
    assert np.allclose(np.mean(coms, axis=0), kernel_centre(sampler.size, scale), atol=0.03)


def test_lambda_ranges_match_spec_tables():
    assert data_lambda_range(4) == pytest.approx((0.7, 10.0))
    assert prior_lambda_range(2) == pytest.approx((1.35, 13.0))
    assert prior_lambda_range(3) == pytest.approx((2.525, 16.5))
    assert prior_lambda_range(4) == pytest.approx((3.7, 20.0))


def test_gaussian_orientation_follows_covariance():
    """λ1 > λ2 and θ = 0 elongate the kernel along columns (x)."""
    k = gaussian_kernel(19, 4, 9.0, 1.0, 0.0)
    rows, cols = np.mgrid[0:19, 0:19]
    c = ndimage.center_of_mass(k)
    var_cols = (k * (cols - c[1]) ** 2).sum()
    var_rows = (k * (rows - c[0]) ** 2).sum()
    assert var_cols > 3 * var_rows


def test_imresize_reproduces_matlab_sampling_grid():
    """Bicubic reproduces linear ramps; shrinking by s samples position s·j + (s-1)/2."""
    ramp = np.tile(np.arange(48, dtype=np.float64), (48, 1))
    for s in (2, 3, 4):
        small = imresize(ramp, 1 / s)
        j = np.arange(small.shape[1])
        inner = slice(3, -3)
        assert np.allclose(small[5, inner], (s * j + (s - 1) / 2)[inner], atol=1e-9)
    big = imresize(ramp[:, :12], 2.0)
    jj = np.arange(big.shape[1])
    assert np.allclose(big[4, 4:-4], ((jj - 0.5) / 2)[4:-4], atol=1e-9)


def test_simulate_stride_is_forward_model_and_deterministic():
    hr = np.random.default_rng(1).random((50, 50))
    a = simulate(hr, 3, protocol="stride", seed=5)
    b = simulate(hr, 3, protocol="stride", seed=5)
    assert a.hr.shape == (48, 48) and a.lr.shape == (16, 16)
    assert np.array_equal(a.lr, b.lr) and np.array_equal(a.kernel, b.kernel)
    expected = forward_model(
        torch.from_numpy(a.hr.astype(np.float64))[None, None], torch.from_numpy(a.kernel.astype(np.float64)), 3
    )[0, 0].numpy()
    assert np.allclose(a.lr, np.clip(expected, 0, 1), atol=1e-6)
    assert a.params["protocol"] == "stride" and a.params["kernel_size"] == 15


def test_simulate_bicubic_noise_and_quantisation():
    hr = np.full((40, 40), 0.5)
    clean = simulate(hr, 2, protocol="bicubic", seed=0)
    assert clean.lr.shape == (20, 20) and np.allclose(clean.lr, 0.5, atol=1e-6)
    noisy = simulate(hr, 2, protocol="bicubic", noise_max=0.1, seed=0, quantize=True)
    assert 0 < noisy.params["noise_sigma"] <= 0.1
    assert np.allclose(noisy.lr * 255, np.round(noisy.lr * 255), atol=1e-4)
    assert not np.array_equal(noisy.lr, simulate(hr, 2, protocol="bicubic", seed=0, quantize=True).lr)
    with pytest.raises(ValueError, match="protocol"):
        simulate(hr, 2, protocol="nearest")


def test_same_width_candidates_share_one_size_and_keep_the_priors_law():
    """KernelSampler.same_width: one λ1 + λ2 (squared RMS radius) per call, different shapes, and each
    candidate marginally a prior draw (its width distribution is the prior's)."""
    from napari_hacbsr.core.metrics import kernel_width

    sampler = KernelSampler.prior(4, np.random.default_rng(3), "stride", "data")
    group = sampler.same_width(8)
    radii = [kernel_width(k)[0] for k in group]
    assert max(radii) - min(radii) < 0.02 * np.mean(radii)  # one size ...
    assert min(np.abs(a - b).max() for i, a in enumerate(group) for b in group[i + 1 :]) > 1e-3  # ... 8 shapes
    assert all(abs(k.sum() - 1) < 1e-9 for k in group)
    grouped = [kernel_width(sampler.same_width(2)[1])[0] for _ in range(300)]
    draw = KernelSampler.prior(4, np.random.default_rng(5), "stride", "data")
    plain = [kernel_width(draw())[0] for _ in range(300)]
    assert np.mean(grouped) == pytest.approx(np.mean(plain), rel=0.03)
    assert np.std(grouped) == pytest.approx(np.std(plain), rel=0.15)
