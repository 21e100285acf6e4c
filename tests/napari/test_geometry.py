"""Where the SR and kernel layers sit in napari world coordinates, and which layers are accepted.

No viewer needed: napari ``Image`` layer objects carry the full data → world transform.
"""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_hacbsr.core.sampling import kernel_size_for, lr_phase, lr_position_of_hr
from napari_hacbsr.napari.layer_rules import layer_problem, spatial_shape
from napari_hacbsr.napari.placement import kernel_layer_kwargs, sr_layer_kwargs
from napari_hacbsr.outputs import free_output_names as output_names


def hr_offset(scale: int, convention: str = "stride") -> float:
    """LR pixel i is centred on HR position s·i - hr_offset."""
    return -lr_phase(scale, convention)


@pytest.mark.parametrize("scale", [2, 3, 4, 5, 8])
@pytest.mark.parametrize(("convention", "offset"), [("stride", 0.5), ("bicubic", 0.0), ("area", -0.5)])
def test_hr_offset_matches_engine_kernel_centre(scale, convention, offset):
    from napari_hacbsr.core.degradation import kernel_centre

    size = kernel_size_for(scale)
    assert hr_offset(scale, convention) == pytest.approx(size // 2 - kernel_centre(size, scale, convention))
    assert hr_offset(scale, convention) == pytest.approx(offset * (scale - 1))


def _lr_layer(**kwargs):
    rng = np.random.default_rng(0)
    return Image(rng.random((20, 30)).astype(np.float32), **kwargs)


def test_axis_aligned_scale_translate_units():
    lr = _lr_layer(scale=(0.5, 2.0), translate=(10.0, -3.0), units=("km", "m"), axis_labels=("row", "col"))
    kw = sr_layer_kwargs(lr, 2, "stride")
    np.testing.assert_allclose(kw["scale"], [0.25, 1.0])
    # translate + scale·(s-1)/(2s)
    np.testing.assert_allclose(kw["translate"], [10.0 + 0.5 * 0.25, -3.0 + 2.0 * 0.25])
    hr = Image(np.zeros((40, 60)), **kw)
    assert tuple(str(u) for u in hr.units) == ("kilometer", "meter")
    assert tuple(hr.axis_labels) == ("row", "col")


def test_area_convention_tiles_each_lr_pixel():
    """Under "area" the s×s HR pixels of LR pixel 0 cover exactly its footprint (edges coincide)."""
    lr = _lr_layer(scale=(2.0, 2.0), translate=(10.0, -3.0))
    hr = Image(np.zeros((80, 120)), **sr_layer_kwargs(lr, 4, "area"))
    np.testing.assert_allclose(hr.data_to_world((-0.5, -0.5)), lr.data_to_world((-0.5, -0.5)), atol=1e-9)


@pytest.mark.parametrize("convention", ["stride", "bicubic", "area"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_data_to_world_alignment_with_rotation_and_shear(scale, convention):
    """HR pixel j holds LR position (j + δ)/s: both must map to the same world point."""
    lr = _lr_layer(
        scale=(0.7, 1.3),
        translate=(4.0, -2.0),
        rotate=27.0,
        shear=[0.2],
        affine=np.array([[1.0, 0.1, 3.0], [0.0, 0.9, -1.0], [0.0, 0.0, 1.0]]),
    )
    hr = Image(np.zeros((20 * scale, 30 * scale)), **sr_layer_kwargs(lr, scale, convention))
    delta = hr_offset(scale, convention)
    for i in [(0, 0), (3, 7), (19, 29), (11.5, 2.25)]:
        i = np.asarray(i, dtype=float)
        np.testing.assert_allclose(hr.data_to_world(scale * i - delta), lr.data_to_world(i), atol=1e-9)
    np.testing.assert_allclose(hr.rotate, lr.rotate)
    np.testing.assert_allclose(hr.shear, lr.shear)
    np.testing.assert_allclose(hr.affine.affine_matrix, lr.affine.affine_matrix)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_alignment_against_engine_forward_model(scale):
    """Degrade a blob with the engine's forward model: the LR response and the HR blob centre
    must land on the same world coordinates once both layers carry their geometry."""
    import torch

    from napari_hacbsr.core.degradation import forward_model, gaussian_kernel

    size = kernel_size_for(scale)
    kernel = gaussian_kernel(size, scale, 0.6 * scale, 0.6 * scale, 0.0)  # isotropic, centred (K-s)/2
    # a smooth blob (σ = 2s HR px) centred off the [0::s] lattice, so the LR centroid is exact
    point = np.array([10 * scale + 1, 13 * scale])
    rr, cc = np.indices((24 * scale, 24 * scale))
    hr_data = np.exp(-((rr - point[0]) ** 2 + (cc - point[1]) ** 2) / (2 * (2.0 * scale) ** 2))
    x = torch.from_numpy(hr_data)[None, None]
    lr_data = forward_model(x, torch.from_numpy(kernel), scale)[0, 0].numpy()
    rows, cols = np.indices(lr_data.shape)
    centroid = np.array([(rows * lr_data).sum(), (cols * lr_data).sum()]) / lr_data.sum()
    np.testing.assert_allclose(centroid, lr_position_of_hr(point, scale), atol=0.01)

    lr = Image(lr_data, scale=(2.0, 2.0), translate=(100.0, 50.0))
    hr = Image(hr_data, **sr_layer_kwargs(lr, scale, "stride"))
    np.testing.assert_allclose(hr.data_to_world(point), lr.data_to_world(centroid), atol=0.02)
    # the lattice rule "LR i = HR s·i" (translate unchanged) would misplace the content by δ HR pixels
    lattice = Image(hr_data, scale=np.asarray(lr.scale) / scale, translate=lr.translate)
    miss = np.asarray(lr.data_to_world(centroid)) - lattice.data_to_world(point)
    np.testing.assert_allclose(miss, hr_offset(scale, "stride") * np.asarray(lr.scale) / scale, atol=0.05)


def test_rgb_layer_geometry_uses_spatial_axes():
    lr = Image(np.zeros((20, 30, 3), dtype=np.uint8), rgb=True, scale=(2.0, 2.0))
    assert spatial_shape(lr) == (20, 30)
    kw = sr_layer_kwargs(lr, 4, "area")
    np.testing.assert_allclose(kw["scale"], [0.5, 0.5])


def test_kernel_sits_beside_the_image_at_hr_pixel_size():
    lr = _lr_layer(scale=(1.5, 1.5), translate=(3.0, 7.0))
    scale = 3
    size = kernel_size_for(scale)
    k0 = Image(np.zeros((size, size)), **kernel_layer_kwargs(lr, scale, slot=0))
    k1 = Image(np.zeros((size, size)), **kernel_layer_kwargs(lr, scale, slot=1))
    np.testing.assert_allclose(k0.scale, np.asarray(lr.scale) / scale)
    lr_right_edge = lr.data_to_world((0, 30 - 0.5))[1]
    lr_top_edge = lr.data_to_world((-0.5, 0))[0]
    assert k0.data_to_world((0, -0.5))[1] > lr_right_edge  # right of the image: hides nothing
    np.testing.assert_allclose(k0.data_to_world((-0.5, 0))[0], lr_top_edge)  # top-aligned
    assert k1.data_to_world((-0.5, 0))[0] > k0.data_to_world((size - 0.5, 0))[0]  # slot 1 below slot 0


def test_output_names_number_instead_of_overwriting():
    assert output_names([], "img", 2) == ("img_HACBSR_x2", "img_HACBSR_kernel")
    taken = ["img", "img_HACBSR_x2", "img_HACBSR_kernel"]
    assert output_names(taken, "img", 2) == ("img_HACBSR_x2_2", "img_HACBSR_kernel_2")
    more = [*taken, "img_HACBSR_kernel_2"]
    assert output_names(more, "img", 4) == ("img_HACBSR_x4_3", "img_HACBSR_kernel_3")
    assert output_names(taken, "img", 3) == ("img_HACBSR_x3_2", "img_HACBSR_kernel_2")  # kernel name taken


def test_layer_problem_messages():
    assert layer_problem(Image(np.zeros((20, 20)))) is None
    assert layer_problem(Image(np.zeros((20, 20, 3)), rgb=True)) is None
    assert layer_problem(Image(np.zeros((20, 20, 4)), rgb=True)) is None
    assert "Select an Image layer" in layer_problem(None)
    assert "Labels layer" in layer_problem(Labels(np.zeros((20, 20), dtype=int), name="seg"))
    pyramid = Image([np.zeros((64, 64)), np.zeros((32, 32))], multiscale=True, name="pyr")
    assert "multiscale" in layer_problem(pyramid)
    stack = layer_problem(Image(np.zeros((5, 20, 20)), name="stack"))
    assert "stack" in stack and "no channel axis" in stack
    not_rgb = layer_problem(Image(np.zeros((20, 20, 3)), rgb=False, name="col"))
    assert "rgb=True" in not_rgb
    assert "RGB stack" in layer_problem(Image(np.zeros((2, 20, 20, 3)), rgb=True))
