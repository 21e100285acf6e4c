import pytest
import torch

from napari_hacbsr.core.networks import ImageGenerator, KernelGenerator, NonLocalBlock, count_parameters


def test_image_generator_parameter_counts():
    assert count_parameters(ImageGenerator(3, 3)) == 2_359_939  # "2359K" in the paper's tables
    assert count_parameters(ImageGenerator(1, 1)) == 2_357_345


@pytest.mark.parametrize("size,count", [(11, 322_121), (15, 426_225), (19, 562_361)])
def test_kernel_generator_parameter_counts(size, count):
    assert count_parameters(KernelGenerator(size)) == count


@pytest.mark.parametrize("hw", [(33, 33), (40, 57), (64, 64)])
def test_image_generator_keeps_size_and_range(hw):
    torch.manual_seed(0)
    net = ImageGenerator(3, 3)
    out = net(torch.rand(1, 3, *hw) * 0.1)
    assert out.shape == (1, 3, *hw)
    assert out.min() > 0 and out.max() < 1


def test_kernel_generator_is_a_distribution():
    k = KernelGenerator(19)(torch.rand(200) * 0.1)
    assert k.shape == (19, 19)
    assert torch.all(k > 0) and torch.isclose(k.sum(), torch.tensor(1.0))


def test_nonlocal_reassociation_matches_the_dot_product_formula():
    torch.manual_seed(0)
    block = NonLocalBlock(8)
    torch.nn.init.normal_(block.out[1].weight)  # leave the identity start to exercise the path
    x = torch.randn(1, 8, 6, 6)
    theta = block.theta(x).flatten(2).transpose(1, 2)  # (b, N, c)
    phi = block.phi(x).flatten(2)  # (b, c, N')
    g = block.g(x).flatten(2).transpose(1, 2)  # (b, N', c)
    f = theta @ phi / phi.shape[-1]
    y = (f @ g).transpose(1, 2).reshape(1, 4, 6, 6)
    expected = block.out(y) + x
    assert torch.allclose(block(x), expected, atol=1e-5)


def test_nonlocal_starts_as_identity():
    x = torch.randn(1, 128, 8, 8)
    assert torch.equal(NonLocalBlock(128)(x), x)
