"""The two generators: the DIP skip U-Net G_x (spec §2.1) and the kernel MLP G_k (spec §2.2).

Parameter counts are pinned by tests: G_x 2,359,939 at 3-in/3-out; G_k 322,121 / 426,225 /
562,361 at ×2 / ×3 / ×4.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

DOWN_CHANNELS = 128
SKIP_CHANNELS = 16
LEVELS = 5
NONLOCAL_FROM_LEVEL = 2  # non-local blocks at levels 2, 3, 4
MIN_HR_SIDE = 2**LEVELS + 1  # 33: the deepest 3×3 reflection pad needs a 2-px map


def _conv(cin: int, cout: int, size: int, stride: int = 1) -> nn.Sequential:
    """Reflection-padded convolution, as the DIP code's conv(..., pad='reflection')."""
    return nn.Sequential(nn.ReflectionPad2d((size - 1) // 2), nn.Conv2d(cin, cout, size, stride=stride))


def _bn_act(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.LeakyReLU(0.2, inplace=True)]


class NonLocalBlock(nn.Module):
    """Embedded dot-product non-local block (no softmax; affinity divided by the key count).

    y = (θ φᵀ / N') g is evaluated as θ (φᵀ g) / N': the same product reassociated, so the
    N × N' affinity (67 M entries at 1024² HR) is never materialised.
    """

    def __init__(self, channels: int, inter: int | None = None) -> None:
        super().__init__()
        inter = inter or channels // 2
        self.inter = inter
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Sequential(nn.Conv2d(channels, inter, 1), nn.MaxPool2d(2))
        self.g = nn.Sequential(nn.Conv2d(channels, inter, 1), nn.MaxPool2d(2))
        self.out = nn.Sequential(nn.Conv2d(inter, channels, 1), nn.BatchNorm2d(channels))
        norm = cast(nn.BatchNorm2d, self.out[1])
        nn.init.zeros_(norm.weight)  # the block starts as the identity
        nn.init.zeros_(norm.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x` plus its non-local context (the block's residual output)."""
        b, _, h, w = x.shape
        theta = self.theta(x).reshape(b, self.inter, h * w)  # (b, c, N)
        phi = self.phi(x).flatten(2)  # (b, c, N')
        g = self.g(x).flatten(2)  # (b, c, N')
        keys = phi.shape[-1]
        context = torch.bmm(phi, g.transpose(1, 2)) / keys  # (b, c, c)
        y = torch.bmm(context.transpose(1, 2), theta)  # (b, c, N) == (θᵀ φ g / N')ᵀ
        return self.out(y.reshape(b, self.inter, h, w)) + x


class _Concat(nn.Module):
    """Concatenate branch outputs on channels after centre-cropping them to the smallest size."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        h = min(o.shape[2] for o in outs)
        w = min(o.shape[3] for o in outs)
        cropped = []
        for o in outs:
            dh, dw = (o.shape[2] - h) // 2, (o.shape[3] - w) // 2
            cropped.append(o[:, :, dh : dh + h, dw : dw + w])
        return torch.cat(cropped, dim=1)


def _level(index: int, in_channels: int) -> nn.Sequential:
    """One U-Net level: Concat(skip, deeper) followed by the up-path convolutions."""
    skip = nn.Sequential(_conv(in_channels, SKIP_CHANNELS, 1), *_bn_act(SKIP_CHANNELS))
    deeper: list[nn.Module] = [_conv(in_channels, DOWN_CHANNELS, 3, stride=2), *_bn_act(DOWN_CHANNELS)]
    if index >= NONLOCAL_FROM_LEVEL:
        deeper.append(NonLocalBlock(DOWN_CHANNELS))
    deeper += [_conv(DOWN_CHANNELS, DOWN_CHANNELS, 3), *_bn_act(DOWN_CHANNELS)]
    if index < LEVELS - 1:
        deeper.append(_level(index + 1, DOWN_CHANNELS))
    deeper.append(nn.Upsample(scale_factor=2, mode="bilinear"))
    merged = SKIP_CHANNELS + DOWN_CHANNELS
    return nn.Sequential(
        _Concat(skip, nn.Sequential(*deeper)),
        nn.BatchNorm2d(merged),
        _conv(merged, DOWN_CHANNELS, 3),
        *_bn_act(DOWN_CHANNELS),
        _conv(DOWN_CHANNELS, DOWN_CHANNELS, 1),
        *_bn_act(DOWN_CHANNELS),
    )


class ImageGenerator(nn.Module):
    """G_x: FKP/MLMC's DIP skip network with three non-local blocks; output in (0, 1)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        self.body = _level(0, in_channels)
        self.head = nn.Sequential(_conv(DOWN_CHANNELS, out_channels, 1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The image generated from the latent `z`."""
        return self.head(self.body(z))


class KernelGenerator(nn.Module):
    """G_k: Linear(200, 1000) - ReLU6 - Linear(1000, K²) - Softmax, reshaped to K×K."""

    def __init__(self, kernel_size: int, latent: int = 200, hidden: int = 1000) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.net = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU6(), nn.Linear(hidden, kernel_size**2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The K×K kernel generated from the latent `z` (non-negative, sums to 1)."""
        return F.softmax(self.net(z), dim=-1).reshape(self.kernel_size, self.kernel_size)


class FixedKernel(nn.Module):
    """A known kernel in G_k's place (the benchmarks' known-kernel oracle): every call returns the same K×K
    kernel as a fresh leaf, so the kernel stages' losses still backpropagate and no parameter moves.
    """

    kernel: torch.Tensor

    def __init__(self, kernel: object) -> None:
        super().__init__()
        kernel = torch.as_tensor(kernel, dtype=torch.float32).detach().clone()
        if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
            raise ValueError(f"a known kernel is square with an odd side, got shape {tuple(kernel.shape)}")
        self.kernel_size = int(kernel.shape[0])
        self.register_buffer("kernel", kernel / kernel.sum())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The known kernel (`z` is ignored)."""
        return self.kernel.clone().requires_grad_(torch.is_grad_enabled())


def count_parameters(module: nn.Module) -> int:
    """The number of parameters of `module`."""
    return sum(p.numel() for p in module.parameters())
