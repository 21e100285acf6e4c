"""The API's input contract under awkward input: masked arrays, 64-bit integers far from zero, bad keywords."""

import numpy as np
import pytest

from napari_hacbsr import super_resolve
from napari_hacbsr.core import image as image_module
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.image import prepare_image

TINY = {"iterations": 2, "inner_steps": 1, "kernel_warmup": 2, "encoder": "fallback", "device": "cpu"}


def pattern(side=24, top=745):
    yy, xx = np.mgrid[0:side, 0:side]
    return np.rint((np.sin(xx / 2.0) * np.cos(yy / 3.0) + 1) / 2 * top).astype(np.int64)


# ------------------------------------------------------------------ masked arrays: masked = missing
def test_masked_pixels_are_missing_not_data():
    data = pattern().astype(np.float32)
    mask = np.zeros(data.shape, bool)
    mask[5:9, 3:12] = True
    garbage = np.ma.MaskedArray(np.where(mask, 1e6, data), mask)
    prepared = prepare_image(garbage, 2)
    assert prepared.missing_pixels == int(mask.sum())
    assert prepared.mask is not None and np.array_equal(prepared.mask[0] == 0, mask)
    assert prepared.normalization.high == data[~mask].max()  # the garbage is not in the range either
    np.testing.assert_array_equal(prepared.y, prepare_image(np.where(mask, np.nan, data), 2).y)


def test_garbage_under_the_mask_does_not_change_the_result():
    data = pattern().astype(np.float32)
    mask = np.zeros(data.shape, bool)
    mask[4:10, 6:14] = True
    results = [super_resolve(np.ma.MaskedArray(np.where(mask, fill, data), mask), 2, **TINY).sr for fill in (-5e3, 7e5)]
    np.testing.assert_array_equal(results[0], results[1])
    assert np.isfinite(results[0]).all()


def test_masked_integer_and_colour_images():
    rgb = np.stack([pattern(), pattern()[::-1], pattern().T], axis=-1).astype(np.uint16)
    mask = np.zeros(rgb.shape, bool)
    mask[2, 3, 1] = True  # one band of one pixel: the pixel is missing
    prepared = prepare_image(np.ma.MaskedArray(rgb, mask), 2, channel_axis=-1)
    assert prepared.missing_pixels == 1 and prepared.mask[0, 2, 3] == 0
    everything = np.ma.MaskedArray(rgb, np.ones(rgb.shape, bool))
    with pytest.raises(ValueError, match="no finite pixels"):
        prepare_image(everything, 2, channel_axis=-1)


# ------------------------------------------------------------------ 64-bit integers far from zero
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_a_large_offset_keeps_the_range(dtype):
    """2**62 + 0..745 used to collapse to one float32 value (a flat SR)."""
    base = pattern()
    offset = 2**62
    shifted = (base.astype(dtype) + dtype(offset)).astype(dtype)
    prepared = prepare_image(shifted, 2)
    np.testing.assert_array_equal(prepared.y, prepare_image(base, 2).y)  # the same picture after the offset
    top = int(base.max())
    assert prepared.normalization.low == offset and prepared.normalization.high == offset + top  # exact ints
    near, far = super_resolve(base, 2, **TINY), super_resolve(shifted, 2, **TINY)
    assert far.sr.dtype == dtype  # neither float32 nor float64 resolves 1 level at 2**62
    levels = (far.sr - dtype(offset)).astype(np.float64)
    assert levels.max() - levels.min() > 300  # resolved, not flat
    assert np.abs(levels - near.sr).max() <= 0.5 + 1e-3  # the same SR, rounded to whole levels
    assert far.sr.min() >= offset and far.sr.max() <= offset + top


def test_the_output_dtype_is_the_narrowest_that_resolves_the_range():
    assert image_module.output_dtype_for(np.dtype(np.uint8), 0, 255) == "float32"
    assert image_module.output_dtype_for(np.dtype(np.uint16), 0, 65535) == "float32"
    assert image_module.output_dtype_for(np.dtype(np.int64), 0, 745) == "float32"
    assert image_module.output_dtype_for(np.dtype(np.int64), 2**40, 2**40 + 745) == "float64"
    assert image_module.output_dtype_for(np.dtype(np.int64), 2**62, 2**62 + 745) == "int64"
    assert image_module.output_dtype_for(np.dtype(np.float64), 0.0, 1.0) == "float64"
    assert image_module.output_dtype_for(np.dtype(np.float32), 0.0, 1.0) == "float32"


def test_offsets_are_exact_for_64_bit_extremes():
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    values = np.array([low, low + 1, high], dtype=np.int64)
    np.testing.assert_array_equal(image_module.offset_from(values, low), [0.0, 1.0, 2.0**64])
    np.testing.assert_array_equal(image_module.offset_from(np.array([2**62 + 3], np.int64), 2**62 + 5), [-2.0])


def test_a_large_offset_png_preview_is_not_one_gray(tmp_path):
    from napari_hacbsr.core.image import display_range, preview_uint8

    prepared = prepare_image(pattern() + 2**62, 2)
    low, high = display_range(prepared.normalization)
    preview = preview_uint8(pattern() + 2**62, low, high)
    assert preview.min() == 0 and preview.max() == 255


# ------------------------------------------------------------------ keywords a run cannot use
@pytest.mark.parametrize(
    ("keywords", "says"),
    [
        ({"tile": "big"}, 'tile must be "auto", None'),
        ({"tile": 0}, "tile must be"),
        ({"tile_overlap": -1}, "tile_overlap must be an integer >= 0"),
        ({"memory_budget": float("nan")}, "memory_budget must be a finite number"),
        ({"seed": 2**70}, "seed must be an integer from 0 to 2\\*\\*63 - 1"),
        ({"lr_image": float("inf")}, "lr_image must be a finite number > 0"),
    ],
)
def test_keywords_a_run_cannot_use_are_refused_in_words(keywords, says):
    with pytest.raises(ValueError, match=says):
        super_resolve(pattern(), 2, **TINY, **keywords)


def test_the_largest_seed_is_accepted():
    assert HACBSRConfig(seed=2**63 - 1).seed == 2**63 - 1


# ------------------------------------------------------------------ the simulator refuses what a run refuses
@pytest.mark.parametrize(
    ("image", "keywords", "says"),
    [
        (np.full((40, 40), np.nan), {}, "no finite pixels"),
        (pattern(40).astype(np.complex64), {}, "real numbers"),
        (pattern(40), {"noise_max": -1.0}, "noise level must be a finite number >= 0"),
        (pattern(40), {"kernel_noise": float("nan")}, "kernel noise level"),
        (pattern(40), {"scale": 9}, "scale must be at most 8"),
        (pattern(16), {"scale": 4}, "gives a 4×4 LR image"),
        (np.arange(64.0)[None] / 64, {}, "1×64 HR image gives a 0×32 LR image"),
        (np.where(np.eye(40, dtype=bool), np.nan, 0.5 + pattern(40) / 2000), {}, "40 missing values"),
    ],
)
def test_the_simulator_refuses_what_a_run_refuses(image, keywords, says):
    options = {"scale": 2, **keywords}
    with pytest.raises(ValueError, match=says):
        image_module.check_simulation_input(image, options.pop("scale"), None, **options)


def test_the_simulator_accepts_a_valid_image():
    image_module.check_simulation_input(pattern(40) / 745.0, 2)


def test_the_sr_tiff_keeps_the_levels_float32_cannot_hold(tmp_path):
    import tifffile

    from napari_hacbsr.core.image import Normalization
    from napari_hacbsr.outputs import write_sr_tiff

    wide = np.array([[2**62, 2**62 + 1, 2**62 + 745]], np.int64)
    write_sr_tiff(tmp_path / "wide.tif", wide, Normalization(2**62, 2**62 + 745, "int64", "int64"))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "wide.tif"), wide)
    plain = np.array([[0.25, 0.5]], np.float64)  # a float64 input's SR: the float32 TIFF as before
    write_sr_tiff(tmp_path / "plain.tif", plain, Normalization(0.0, 1.0, "float64", "float64"))
    assert tifffile.imread(tmp_path / "plain.tif").dtype == np.float32


def test_a_napari_layer_instead_of_its_data_is_told_what_to_pass():
    class Image:  # what a napari Image layer looks like to core (which never imports napari)
        __module__ = "napari.layers.image.image"
        name = "moon"
        data = np.zeros((40, 40))

    class DataArray:  # an xarray-like object with .data and .name stays an array
        name = "moon"
        data = np.zeros((40, 40))

        def __array__(self, dtype=None, copy=None):
            return np.random.default_rng(0).random((40, 40))

    assert prepare_image(DataArray(), 2).lr_shape == (40, 40)

    with pytest.raises(ValueError, match=r"got the napari Image layer 'moon', not an array: pass its pixels, "
                       r"super_resolve\(layer.data"):  # fmt: skip
        prepare_image(Image(), 2)
