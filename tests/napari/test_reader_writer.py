"""napari's reader choice and the plugin's writer, in a real viewer (issue 28 items 7 and 10).

Plain TIFFs and FITS belong to napari's own reader: opening one must not ask "Choose reader" (or raise
MultipleReaderError); PDS labels and cubes are the plugin's alone. The writer adds ``.tif`` to a bare
name and keeps one sidecar per image file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from napari_hacbsr.napari.writer import write_image
from tests.mission import builders


@pytest.fixture
def plain_tif(tmp_path):
    import tifffile

    path = tmp_path / "cells.tif"
    tifffile.imwrite(path, np.arange(64, dtype=np.uint16).reshape(8, 8))
    return path


def test_a_plain_tiff_opens_without_a_reader_choice(make_napari_viewer, plain_tif):
    from napari.plugins import _npe2

    viewer = make_napari_viewer(show=False)
    assert list(_npe2.get_readers(str(plain_tif))) == ["napari"]
    [layer] = viewer.open(str(plain_tif), plugin=None)  # None: inferred, as File → Open and drag-and-drop do
    np.testing.assert_array_equal(layer.data, np.arange(64).reshape(8, 8))
    # what the Qt open path calls: raises MultipleReaderError when two readers claim the file
    [again] = viewer._open_or_raise_error([str(plain_tif)])
    assert again.data.shape == (8, 8)


def test_fits_and_geotiff_are_left_to_napari_s_reader(make_napari_viewer, tmp_path):
    from napari.plugins import _npe2

    make_napari_viewer(show=False)
    fits_path, _ = builders.fits(tmp_path)
    tif_path, _ = builders.geotiff(tmp_path)
    for path in (fits_path, tif_path):
        assert "napari-hacbsr" not in _npe2.get_readers(str(path)), path.name


def test_pds_and_isis_products_open_with_the_plugin_without_a_choice(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=False)
    for build in (builders.pds3, builders.isis3, builders.pds4):
        folder = tmp_path / build.__name__
        folder.mkdir()
        path, expected = build(folder)
        [layer] = viewer.open(str(path), plugin=None)
        np.testing.assert_allclose(layer.data, expected["values"], atol=1e-3, equal_nan=True)
        assert layer.metadata["mission"]["transform"] == pytest.approx(list(expected["transform"]))


def _layer_meta(tmp_path):
    path, _ = builders.geotiff(tmp_path, name="src.tif")
    from napari_hacbsr.mission.products import read_product

    image = read_product(path)
    meta = {"metadata": {"mission": image.georef(), "hacbsr": {"scale_factor": 2}}, "scale": (2, 2)}
    return image.data, meta


def test_a_name_without_extension_is_saved_as_tif(tmp_path):
    import rasterio

    data, meta = _layer_meta(tmp_path)
    image, sidecar = write_image(str(tmp_path / "sr_result"), data, meta)
    assert image == str(tmp_path / "sr_result.tif")
    with rasterio.open(image) as src:
        assert src.driver == "GTiff" and src.crs is not None
    assert json.loads(Path(sidecar).read_text())["hacbsr"] == {"scale_factor": 2}


def test_tif_and_fits_of_one_stem_keep_a_sidecar_each(tmp_path):
    data, meta = _layer_meta(tmp_path)
    tif_image, tif_sidecar = write_image(str(tmp_path / "sr.tif"), data, meta)
    fits_meta = {"metadata": {"mission": {"wcs": {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN"}}}}
    fits_image, fits_sidecar = write_image(str(tmp_path / "sr.fits"), data, fits_meta)
    assert tif_sidecar != fits_sidecar
    assert json.loads(Path(tif_sidecar).read_text())["georeference"]["crs"]  # not overwritten by the FITS save
    assert json.loads(Path(fits_sidecar).read_text())["georeference"]["wcs"]["CTYPE1"] == "RA---TAN"
