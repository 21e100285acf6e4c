"""Broken products are refused before any pixel is read, with what is wrong and what to do (issue 27).

Truncated data (GDAL zero-fills ISIS3 cubes), impossible sample types (pdr reads 7/24-bit as bytes),
missing data files, pointers past the end, 200000² bomb labels: each names the file, the bytes the
label needs and the bytes there are, never "no 2-D image object".
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from napari_hacbsr.files import ImageReadError
from napari_hacbsr.files import read_product as read_any
from napari_hacbsr.mission.products import ProductReadError, read_product

from . import broken, builders

TRUNCATED = ["isis3_truncated", "pds3_half_data", "pds3_attached_truncated", "pds4_truncated", "fits_truncated"]


@pytest.mark.parametrize("build", TRUNCATED)
def test_truncated_data_is_refused_with_the_sizes_and_what_to_do(tmp_path, build):
    path = getattr(broken, build)(tmp_path)
    with pytest.raises(ProductReadError) as info:
        read_product(path)
    message = str(info.value)
    assert "holds" in message and "needs" in message and "truncated" in message
    assert "download or copy it again" in message
    assert "no 2-D image" not in message


def test_truncated_isis3_cube_names_its_core_sizes(tmp_path):
    """GDAL returned zeros for the missing half (rc 0): the cube is refused, in words a user can act on."""
    path = broken.isis3_truncated(tmp_path)
    with pytest.raises(ProductReadError, match=r"scene\.cub holds 64\.7 KiB, but its Core \(24 lines × 20 samples"):
        read_product(path)


def test_truncated_geotiff_is_refused(tmp_path):
    for build in (broken.geotiff_truncated, broken.geotiff_directory_cut):
        folder = tmp_path / build.__name__
        folder.mkdir()
        with pytest.raises(ProductReadError, match=r"truncated") as info:
            read_product(build(folder))
        assert "download or copy it again" in str(info.value)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        ("pds3_pointer_past_eof", r"places its IMAGE .* at byte 3960, past the end of SCENE\.IMG \(960 bytes\)"),
        ("pds3_data_missing", r"the data file SCENE\.IMG that the label points at is not in .*Put it beside the label"),
        ("pds3_bomb", r"200000 lines × 200000 samples .* needs 74\.5 GiB"),
        ("pds4_offset_out_of_range", r"array 'image' .* at byte 999999, past the end of scene\.img"),
        ("pds4_data_missing", r"the data file scene\.img that the label points at is not in"),
        ("fits_bomb", r"header places HDU 0 \(200000 × 200000 × 16 bits\) at byte 2880, past the end"),
    ],
)
def test_each_broken_product_says_what_is_wrong(tmp_path, build, expected):
    path = getattr(broken, build)(tmp_path)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused from the label alone: pdr/astropy never got to warn
        with pytest.raises(ProductReadError, match=expected):
            read_product(path)
    assert time.perf_counter() - started < 2.0  # bombs: nothing was allocated


@pytest.mark.parametrize(("bits", "sample_type"), [(7, "MSB_INTEGER"), (24, "MSB_INTEGER"), (12, "LSB_INTEGER")])
def test_pds3_packed_bit_depths_are_refused_before_pixels_are_read(tmp_path, bits, sample_type, monkeypatch):
    path = broken.pds3_sample(tmp_path, bits=bits, sample_type=sample_type)
    import pdr

    def no_pixels(*args, **kwargs):
        raise AssertionError("pixels were read")

    monkeypatch.setattr(pdr.Data, "load", no_pixels)
    with pytest.raises(ProductReadError, match=rf"SAMPLE_BITS = {bits} with SAMPLE_TYPE = {sample_type}.*Convert"):
        read_product(path)


@pytest.mark.parametrize(("bits", "sample_type"), [(16, "BCD"), (16, "CHARACTER"), (16, "IEEE_REAL"), (64, "VAX_REAL")])
def test_pds3_non_numeric_or_impossible_sample_types_are_refused(tmp_path, bits, sample_type):
    path = broken.pds3_sample(tmp_path, bits=bits, sample_type=sample_type)
    with pytest.raises(ProductReadError, match=rf"SAMPLE_(TYPE|BITS) = .*{sample_type}|{sample_type} is not"):
        read_product(path)


@pytest.mark.parametrize(("bits", "sample_type", "dtype"), [(8, "UNSIGNED_INTEGER", "u1"), (32, "PC_REAL", "<f4")])
def test_supported_pds3_sample_types_still_read(tmp_path, bits, sample_type, dtype):
    path, _ = builders.pds3(tmp_path)
    broken.edit_label(path, "SAMPLE_BITS = 16", f"SAMPLE_BITS = {bits}")
    broken.edit_label(path, "SAMPLE_TYPE = MSB_INTEGER", f"SAMPLE_TYPE = {sample_type}")
    raw = np.arange(builders.ROWS * builders.COLS).astype(dtype)
    (tmp_path / "SCENE.IMG").write_bytes(raw.tobytes())
    image = read_product(path)
    expected = raw.astype(np.float64).reshape(builders.ROWS, builders.COLS) * 0.25 - 10.0
    finite = np.isfinite(image.data)
    np.testing.assert_allclose(image.data[finite], expected[finite], rtol=1e-6)


def test_a_pdr_failure_reports_pdr_s_reason_and_what_to_do(tmp_path):
    """A pointer form the size check does not model (records without RECORD_BYTES): pdr's warning is the reason."""
    path, _ = builders.pds3(tmp_path)
    text = path.read_text().replace(f"RECORD_BYTES = {builders.COLS * 2}\n", "")
    path.write_text(text.replace('^IMAGE = ("SCENE.IMG", 1)', '^IMAGE = ("SCENE.IMG", 3)'))
    with pytest.raises(ProductReadError) as info:
        read_product(path)
    message = str(info.value)
    assert "pdr says: IMAGE: " in message and "Check that the data files" in message
    assert "no 2-D image object in this product" not in message


def test_valid_products_pass_every_check(tmp_path):
    for build in ("pds3", "pds4", "isis3", "geotiff", "fits"):
        folder = tmp_path / build
        folder.mkdir()
        path, expected = getattr(builders, build)(folder)
        np.testing.assert_allclose(read_product(path).data, expected["values"], atol=1e-3, equal_nan=True)


def test_a_detached_img_without_its_label_is_told_the_label_is_missing(tmp_path):
    builders.pds3(tmp_path)
    (tmp_path / "SCENE.LBL").unlink()
    with pytest.raises(ImageReadError) as info:
        read_any(tmp_path / "SCENE.IMG")
    message = str(info.value)
    assert "no PDS label" in message and "SCENE.LBL" in message and "beside the .IMG" in message
    assert "Accepted:" not in message


def test_no_not_georeferenced_warning_on_read_or_write(tmp_path, recwarn):
    """rasterio's NotGeoreferencedWarning was printed for every plain TIFF and unprojected product."""
    import tifffile

    from napari_hacbsr.mission.products import is_product
    from napari_hacbsr.mission.writers import write_geotiff

    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((8, 8), np.uint8))
    assert not is_product(plain)
    edr, _ = builders.pds3(tmp_path, projected=False)
    assert read_product(edr).transform is None
    written = write_geotiff(tmp_path / "out.tif", np.ones((4, 4)), None, None)
    assert read_product(written).crs is None
    names = [type(w.message).__name__ for w in recwarn]
    assert "NotGeoreferencedWarning" not in names, names


def test_a_pds3_image_pdr_cannot_load_is_read_through_gdal_with_its_constants(tmp_path, monkeypatch):
    """pds3_3bands.IMG: pdr loads no image though GDAL reads its bands; the label's constants stay NaN."""
    import pdr

    path, expected = builders.pds3(tmp_path, bands=3)

    def pdr_fails(self, name, **kwargs):
        warnings.warn(f"Unable to load {name}: simulated", UserWarning, stacklevel=2)

    monkeypatch.setattr(pdr.Data, "load", pdr_fails)
    image = read_product(path)
    assert image.format == "PDS3" and image.data.shape == (3, builders.ROWS, builders.COLS)
    np.testing.assert_allclose(image.data, expected["values"], atol=1e-3, equal_nan=True)
    assert image.transform == pytest.approx(expected["transform"])
    assert image.label["IMAGE"]["BANDS"] == 3


def test_hacbsr_run_on_a_truncated_cube_exits_2_with_the_reason_and_writes_nothing(tmp_path, capsys):
    from napari_hacbsr.cli import main

    from .test_cli_products import TINY_ARGS

    path = broken.isis3_truncated(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(path), "--scale", "2", "-o", str(out), *TINY_ARGS]) == 2
    err = capsys.readouterr().err
    assert "scene.cub holds" in err and "download or copy it again" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_a_tile_compressed_fits_passes_the_size_check(tmp_path):
    """A CompImageHDU's header describes the decompressed image: it must not be taken for the bytes stored."""
    from astropy.io import fits

    data = np.arange(64 * 64, dtype=np.int16).reshape(64, 64) % 7  # compresses far below its raw size
    path = tmp_path / "packed.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data)]).writeto(path)
    assert path.stat().st_size < data.nbytes + 2 * 2880
    np.testing.assert_array_equal(read_product(path).data, data)


def test_a_compressed_pds3_image_is_not_taken_for_a_truncated_one(tmp_path):
    """ENCODING_TYPE images hold fewer bytes than lines × samples by design: pdr decides, not the size check."""
    from napari_hacbsr.mission.integrity import check_pds3_image

    path, _ = builders.pds3(tmp_path)
    broken.edit_label(
        path, "  SAMPLE_BITS = 16\n", '  SAMPLE_BITS = 16\n  ENCODING_TYPE = "HUFFMAN_FIRST_DIFFERENCE"\n'
    )
    broken.truncate(tmp_path / "SCENE.IMG", 100)
    import pdr

    check_pds3_image(path, pdr.read(str(path)), "IMAGE")  # no refusal
    (tmp_path / "SCENE.IMG").unlink()
    with pytest.raises(ProductReadError, match="not in"):
        check_pds3_image(path, pdr.read(str(path)), "IMAGE")
