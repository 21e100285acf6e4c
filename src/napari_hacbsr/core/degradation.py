"""The degradation model y = (x ⊛ k)↓s, the Gaussian kernel family, and the data simulator.

`forward_model` is the single implementation of the forward operator: the optimisation loop,
the MLMC weights, the simulator's stride protocol and every test go through it (spec §1.1):
circular padding by K//2, cross-correlation (no flip), then keeping pixels [0::s, 0::s].
Every kernel of a run has its centre of mass at `kernel_centre(K, s, convention)` (core.sampling):
(K - s)/2 for the "stride" convention of the MLMC test data (spec §1.1). Each simulator protocol
declares its convention (`PROTOCOL_SAMPLING`), so the engine can be run with the matching prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .choices import KERNEL_PRIORS, PROTOCOLS
from .sampling import kernel_centre, kernel_size_for, lr_position_of_hr

# the sampling convention (core.sampling) of the data each protocol produces: stride keeps [0::s]
# of a (K - s)/2-centred blur; MATLAB's bicubic grid s·j + (s - 1)/2 cancels that shift (phase 0)
PROTOCOL_SAMPLING = {"stride": "stride", "bicubic": "bicubic"}


# ---------------------------------------------------------------------------- forward model
def forward_model(x: torch.Tensor, kernel: torch.Tensor, scale: int) -> torch.Tensor:
    """Blur each channel of `x` (N, C, H, W) with `kernel` (K×K, odd K) and keep [0::s, 0::s].

    Implemented as a strided convolution, which computes exactly the kept pixels of the full
    blur (s² less work than blurring then subsampling).
    """
    size = kernel.shape[-1]
    channels = x.shape[1]
    pad = size // 2
    padded = F.pad(x, (pad, pad, pad, pad), mode="circular")
    weight = kernel.reshape(1, 1, size, size).to(x.dtype).expand(channels, 1, size, size)
    return F.conv2d(padded, weight, stride=int(scale), groups=channels)


# ---------------------------------------------------------------------------- kernel family
def data_lambda_range(scale: int) -> tuple[float, float]:
    """Covariance eigenvalue range of the test-data kernels (spec §1.1 table)."""
    return 0.175 * scale, min(2.5 * scale, 10.0)


def prior_lambda_range(scale: int, prior: str = "mlmc") -> tuple[float, float]:
    """Model-side range used by the kernel prior.

    "mlmc": the data range shifted up by (s-1) and (s+6) (spec §1.2): [3.7, 20] at ×4, so it never
    proposes the narrow kernels (λ down to 0.7) that the data and real PSFs have. "data": the data range.
    """
    if prior not in KERNEL_PRIORS:
        raise ValueError(f"kernel prior must be one of {KERNEL_PRIORS}, got {prior!r}")
    lo, hi = data_lambda_range(scale)
    if prior == "data":
        return lo, hi
    return lo + (scale - 1), hi + (scale + 6)


def shift_to_centre(kernel: np.ndarray, scale: int, convention: str = "stride") -> np.ndarray:
    """Move the centre of mass to the convention's kernel centre with a cubic-spline shift
    (constant mode), as FKP/MLMC do for (K - s)/2.
    """
    size = kernel.shape[0]
    com = np.array(ndimage.center_of_mass(kernel))
    return ndimage.shift(kernel, kernel_centre(size, scale, convention) - com)


def gaussian_kernel(
    size: int,
    scale: int,
    lambda1: float,
    lambda2: float,
    theta: float,
    noise: np.ndarray | None = None,
    convention: str = "stride",
) -> np.ndarray:
    """Anisotropic Gaussian with covariance Q diag(λ1, λ2) Qᵀ, sum 1, centred at
    `kernel_centre(K, s, convention)` ((K - s)/2 for "stride").

    λ are variances (not standard deviations). The first grid coordinate is the column index,
    as in the reference code, so θ rotates counter-clockwise from the x (column) axis.
    """
    c, s_ = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s_], [s_, c]])
    inv_sigma = np.linalg.inv(rot @ np.diag([lambda1, lambda2]) @ rot.T)
    cols, rows = np.meshgrid(np.arange(size), np.arange(size))
    mu = size // 2 + 0.5 * (scale - size % 2)
    d = np.stack([cols - mu, rows - mu], axis=-1).astype(np.float64)
    raw = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, inv_sigma, d))
    if noise is not None:
        raw = raw * (1.0 + noise)
    centred = shift_to_centre(raw, scale, convention)
    return centred / centred.sum()


@dataclass
class KernelSampler:
    """Random anisotropic Gaussian kernels: λ1, λ2 ~ U[lo, hi] independently, θ ~ U[0, π)."""

    scale: int
    lambda_range: tuple[float, float]
    rng: np.random.Generator
    kernel_noise: float = 0.0  # multiplicative per-pixel noise U[-n, n] (data side only)
    convention: str = "stride"  # sampling convention: where every kernel's centre of mass sits
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = kernel_size_for(self.scale)

    @classmethod
    def prior(
        cls, scale: int, rng: np.random.Generator, convention: str = "stride", prior: str = "mlmc"
    ) -> KernelSampler:
        """The model-side sampler used by CKS, the warm-up and MLMC's MCMC step (A9)."""
        return cls(scale, prior_lambda_range(scale, prior), rng, convention=convention)

    @classmethod
    def data(cls, scale: int, rng: np.random.Generator, kernel_noise: float = 0.0) -> KernelSampler:
        """The data-side sampler: the kernels that simulate LR images (spec's data range)."""
        return cls(scale, data_lambda_range(scale), rng, kernel_noise)

    def sample_with_params(self) -> tuple[np.ndarray, dict[str, float]]:
        """One kernel and the λ1, λ2, θ it was drawn with."""
        lo, hi = self.lambda_range
        lambda1, lambda2 = self.rng.uniform(lo, hi, size=2)
        theta = self.rng.uniform(0.0, math.pi)
        noise = None
        if self.kernel_noise > 0:
            noise = self.rng.uniform(-self.kernel_noise, self.kernel_noise, size=(self.size, self.size))
        kernel = gaussian_kernel(self.size, self.scale, lambda1, lambda2, theta, noise, self.convention)
        return kernel, {"lambda1": float(lambda1), "lambda2": float(lambda2), "theta": float(theta)}

    def __call__(self) -> np.ndarray:
        """One random kernel."""
        return self.sample_with_params()[0]

    def same_width(self, m: int) -> list[np.ndarray]:
        """`m` kernels that share one size (λ1 + λ2, the squared RMS radius) and differ in shape and angle.

        The size is a plain draw's and, given it, λ1 is uniform on the feasible segment, which is the
        prior's own conditional law: each kernel is marginally a prior draw, and picking any one of them
        (CKS) cannot shift the prior's width (docs/algorithm.md, "CKS without a width bias").
        """
        lo, hi = self.lambda_range
        total = float(self.rng.uniform(lo, hi, size=2).sum())
        kernels = []
        for _ in range(m):
            lambda1 = self.rng.uniform(max(lo, total - hi), min(hi, total - lo))
            theta = self.rng.uniform(0.0, math.pi)
            kernels.append(
                gaussian_kernel(self.size, self.scale, lambda1, total - lambda1, theta, None, self.convention)
            )
        return kernels


# ---------------------------------------------------------------------------- bicubic resampling
def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


def _resize_matrix(in_len: int, out_len: int, factor: float) -> np.ndarray:
    """MATLAB `imresize` bicubic weights along one axis (antialiased when shrinking)."""
    width = 4.0 / factor if factor < 1 else 4.0
    out_pos = np.arange(1, out_len + 1, dtype=np.float64)
    u = out_pos / factor + 0.5 * (1 - 1 / factor)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based source indices
    dist = u[:, None] - idx
    weights = factor * _cubic(factor * dist) if factor < 1 else _cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    matrix = np.zeros((out_len, in_len))
    np.add.at(matrix, (np.repeat(np.arange(out_len), taps), src.ravel()), weights.ravel())
    return matrix


def imresize(image: np.ndarray, factor: float) -> np.ndarray:
    """MATLAB-compatible bicubic resize of a (H, W) or (H, W, C) array by `factor`."""
    h, w = image.shape[:2]
    out_h, out_w = int(math.ceil(h * factor)), int(math.ceil(w * factor))
    mh, mw = _resize_matrix(h, out_h, factor), _resize_matrix(w, out_w, factor)
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        return mh @ img @ mw.T
    return np.einsum("ij,jkc,lk->ilc", mh, img, mw)


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: MATLAB-style ×s upscaling of an LR image.

    MATLAB's grid puts LR pixel i at HR s·i + (s - 1)/2 (the "area" convention): on data of
    another convention the result is misregistered; `phase_correct_bicubic` is the fair baseline.
    """
    return imresize(lr, float(scale))


def _phase_matrix(in_len: int, scale: int, convention: str):
    """Keys cubic (a = -0.5) weights that sample LR positions (j - phase)/s, edges replicated.

    Sparse (4 taps a row): whole mission frames fit in memory.
    """
    from scipy import sparse

    u = np.asarray(lr_position_of_hr(np.arange(in_len * scale), scale, convention))
    left = np.floor(u) - 1
    idx = left[:, None] + np.arange(4)[None, :]
    weights = _cubic(u[:, None] - idx)
    weights /= weights.sum(axis=1, keepdims=True)
    src = np.clip(idx.astype(np.int64), 0, in_len - 1)
    rows = np.repeat(np.arange(len(u)), 4)
    return sparse.csr_matrix((weights.ravel(), (rows, src.ravel())), shape=(len(u), in_len))


def phase_correct_bicubic(lr: np.ndarray, scale: int, convention: str, channel_axis: int | None = -1) -> np.ndarray:
    """Cubic ×s upscaling that puts LR pixel i where `convention` says it sits (core.sampling).

    The registered baseline of the benchmarks and the first picture of a run (before the generator
    has learnt anything). 2-D images, or 3-D with the channel on `channel_axis`.
    """
    img = np.asarray(lr, dtype=np.float64)
    if img.ndim == 3:
        if channel_axis is None:
            raise ValueError("a 3-D image needs its channel_axis")
        planes = np.moveaxis(img, channel_axis, 0)
        out = np.stack([phase_correct_bicubic(plane, scale, convention) for plane in planes])
        return np.moveaxis(out, 0, channel_axis)
    mh, mw = _phase_matrix(img.shape[0], scale, convention), _phase_matrix(img.shape[1], scale, convention)
    return np.asarray(mw @ (mh @ img).T).T


# ---------------------------------------------------------------------------- simulator
@dataclass
class Degraded:
    """A simulated LR image with the HR image and the kernel that made it."""

    lr: np.ndarray  # float32, [0, 1] (clipped), (h, w) or (h, w, C)
    hr: np.ndarray  # the modcropped HR actually degraded, float32 in [0, 1]
    kernel: np.ndarray  # K×K ground-truth kernel (float32, sums to 1)
    params: dict[str, Any]


def centre_crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """The central size×size region (clipped to the image); None or 0 keeps the whole image."""
    if not size:
        return image
    h, w = image.shape[:2]
    ch, cw = min(int(size), h), min(int(size), w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top : top + ch, left : left + cw]


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """The image cropped to a multiple of `scale` on both sides (top-left kept)."""
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


def simulate(
    hr: np.ndarray,
    scale: int,
    protocol: str = "stride",
    noise_max: float = 0.0,
    kernel_noise: float = 0.0,
    seed: int = 0,
    quantize: bool = False,
) -> Degraded:
    """Degrade an HR image in [0, 1] ((H, W) or (H, W, C)) with a random anisotropic Gaussian.

    protocol "stride" is the MLMC/FKP test-data pipeline (spec §1.1): circular blur, keep [0::s].
    protocol "bicubic" is our reconstruction of the Ceres-50 pipeline (spec §1.3): the same blur
    (s = 1), then MATLAB-style antialiased bicubic ↓s. Both add N(0, σ²) noise with σ ~ U(0,
    noise_max) drawn once per image, clip to [0, 1] and, with `quantize`, floor to 8 bits as
    the reference code's PNG writer does.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if not isinstance(scale, int | np.integer) or scale < 2:
        raise ValueError(f"scale must be an integer >= 2, got {scale!r}")
    hr = np.asarray(hr, dtype=np.float64)
    if hr.ndim not in (2, 3):
        raise ValueError(f"HR image must be (H, W) or (H, W, C), got shape {hr.shape}")
    hr = modcrop(hr, scale)
    rng = np.random.default_rng(seed)
    sampler = KernelSampler.data(int(scale), rng, kernel_noise)
    kernel, kparams = sampler.sample_with_params()

    chw = hr[None] if hr.ndim == 2 else np.moveaxis(hr, -1, 0)
    x = torch.from_numpy(np.ascontiguousarray(chw))[None]
    k = torch.from_numpy(kernel)
    if protocol == "stride":
        lr = forward_model(x, k, scale)[0].numpy()
    else:
        blurred = forward_model(x, k, 1)[0].numpy()
        lr = np.stack([imresize(c, 1.0 / scale) for c in blurred])
    lr = lr[0] if hr.ndim == 2 else np.moveaxis(lr, 0, -1)

    sigma = float(rng.uniform(0.0, noise_max)) if noise_max > 0 else 0.0
    if sigma > 0:
        lr = lr + rng.normal(0.0, sigma, size=lr.shape)
    lr = np.clip(lr, 0.0, 1.0)
    if quantize:
        lr = np.floor(lr * 255.0) / 255.0
    params = {
        "protocol": protocol,
        "scale": int(scale),
        "kernel_size": int(kernel.shape[0]),
        **kparams,
        "kernel_noise": float(kernel_noise),
        "noise_max": float(noise_max),
        "noise_sigma": sigma,
        "seed": int(seed),
        "quantize": bool(quantize),
        "hr_shape": list(hr.shape),
        "lr_shape": list(lr.shape),
        "downsampler": "stride [0::s]" if protocol == "stride" else "MATLAB bicubic (antialiased, a=-0.5)",
        "sampling": PROTOCOL_SAMPLING[protocol],
    }
    return Degraded(lr.astype(np.float32), hr.astype(np.float32), kernel.astype(np.float32), params)
