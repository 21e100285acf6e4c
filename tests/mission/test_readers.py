"""The npe2 reader on products written by independent writers: values, NaN at constants, placement."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_hacbsr.mission.products import ProductReadError, read_product
from napari_hacbsr.napari import reader as napari_reader
from napari_hacbsr.napari.reader import get_reader

from . import builders


def _open(path):
    reader = get_reader(str(path))
    assert reader is not None, f"the plugin declined {path.name}"
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "image"
    json.dumps(kwargs["metadata"])  # the whole label must be serialisable (napari sessions, provenance)
    return data, kwargs


def _check_values(data, expected):
    assert data.dtype == np.float32  # int16 + scaling/constants -> float32, never float64 bloat
    np.testing.assert_allclose(data, expected["values"], rtol=0, atol=1e-3, equal_nan=True)
    assert int(np.isnan(data).sum()) == len(expected["nan"])


def _check_map_placement(kwargs, transform):
    """napari world = (sign(e)·Y, X) of each pixel centre, from the label's geotransform."""
    x0, a, _, y0, _, e = transform
    assert kwargs["scale"] == pytest.approx((abs(e), a))
    assert kwargs["translate"] == pytest.approx((-(y0 + e / 2), x0 + a / 2))
    assert kwargs["metadata"]["mission"]["transform"] == pytest.approx(list(transform))
    assert kwargs["metadata"]["mission"]["crs"]


@pytest.mark.parametrize("builder", ["pds3", "pds4", "isis3", "geotiff"])
def test_map_products_open_with_values_nan_and_placement(tmp_path, builder):
    path, expected = getattr(builders, builder)(tmp_path)
    data, kwargs = _open(path)
    _check_values(data, expected)
    _check_map_placement(kwargs, expected["transform"])
    assert kwargs["units"] == ("m", "m") and kwargs["axis_labels"] == ("-y", "x")


def test_pds3_label_values_are_the_label_scaling_of_the_raw_bytes(tmp_path):
    path, expected = builders.pds3(tmp_path)
    image = read_product(path)
    assert image.format == "PDS3" and image.label["IMAGE"]["SCALING_FACTOR"] == 0.25
    assert image.label["IMAGE_MAP_PROJECTION"]["MAP_SCALE"]["value"] == 0.05
    # the transform pins GDAL's reading of MAP_SCALE (km -> m) and the projection offsets
    assert image.transform == pytest.approx(expected["transform"])
    # opening the raw .IMG finds its detached label, georeference included
    assert read_product(tmp_path / "SCENE.IMG").transform == pytest.approx(expected["transform"])


def test_unprojected_pds3_edr_opens_in_pixels(tmp_path):
    path, expected = builders.pds3(tmp_path, projected=False)
    data, kwargs = _open(path)
    _check_values(data, expected)
    assert kwargs["scale"] == (1.0, 1.0) and kwargs["translate"] == (0.0, 0.0) and kwargs["units"] == ("pixel",) * 2
    assert kwargs["metadata"]["mission"]["transform"] is None and kwargs["metadata"]["mission"]["crs"] is None


def test_fits_opens_with_blank_as_nan_and_wcs_placement(tmp_path):
    path, expected = builders.fits(tmp_path)
    data, kwargs = _open(path)
    _check_values(data, expected)
    wcs = kwargs["metadata"]["mission"]["wcs"]
    assert wcs["CTYPE1"] == "RA---TAN" and wcs["CRPIX1"] == 10.5
    # reference pixel (FITS 1-based CRPIX) at world 0, pixel size |CDELT| (degrees)
    assert kwargs["scale"] == pytest.approx((2e-4, 2e-4))
    assert kwargs["translate"] == pytest.approx((-11.5 * 2e-4, -9.5 * 2e-4))
    assert kwargs["units"] == ("degree", "degree") and kwargs["axis_labels"] == ("DEC", "RA")


def test_multiband_pds3_opens_as_one_layer_per_band(tmp_path):
    path, expected = builders.pds3(tmp_path, bands=2)
    data, kwargs = _open(path)
    assert data.shape == (2, builders.ROWS, builders.COLS) and kwargs["channel_axis"] == 0
    assert len(kwargs["name"]) == 2
    np.testing.assert_allclose(data, expected["values"], atol=1e-3, equal_nan=True)


@pytest.fixture
def this_manifest():
    """napari's plugin manager knows this plugin (installed editable: its manifest is this checkout's,
    which tests/napari/test_manifest.py checks). Re-registering it would clash with napari's command
    registry once another test has opened a viewer."""
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    assert "napari-hacbsr" in pm._manifests
    yield


def test_napari_opens_a_product_through_the_plugin(tmp_path, this_manifest):
    """A PDS3 label is ours alone: napari picks the plugin without asking."""
    from napari.components import ViewerModel

    path, expected = builders.pds3(tmp_path)
    viewer = ViewerModel()
    [layer] = viewer.open(str(path), plugin=None)  # None: napari infers the reader, as File → Open does
    np.testing.assert_allclose(layer.data, expected["values"], atol=1e-3, equal_nan=True)
    x0, a, _, y0, _, e = expected["transform"]
    assert tuple(layer.scale) == pytest.approx((abs(e), a))
    assert tuple(layer.translate) == pytest.approx((-(y0 + e / 2), x0 + a / 2))
    assert layer.metadata["mission"]["crs"]


def test_open_product_adds_a_geotiff_with_its_georeference(tmp_path):
    """napari's own reader owns .tif: GeoTIFFs reach the viewer georeferenced through open_product."""
    from napari.components import ViewerModel

    path, expected = builders.geotiff(tmp_path)
    viewer = ViewerModel()
    [layer] = napari_reader.open_product(viewer, str(path))
    np.testing.assert_allclose(layer.data, expected["values"], atol=1e-3, equal_nan=True)
    assert tuple(layer.scale) == pytest.approx((2.0, 2.0))
    assert tuple(layer.translate) == pytest.approx((-4099999.0, 500001.0))
    assert "EPSG" in layer.metadata["mission"]["crs"] or "UTM" in layer.metadata["mission"]["crs"]
    import tifffile

    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((8, 8), np.uint8))
    with pytest.raises(ProductReadError, match="no CRS or geotransform"):
        napari_reader.open_product(viewer, str(plain))


def test_reader_declines_files_that_are_not_products(tmp_path):
    import tifffile

    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((8, 8), np.uint8))
    other_xml = tmp_path / "settings.xml"
    other_xml.write_text("<config><a>1</a></config>")
    not_fits = tmp_path / "notes.fits"
    not_fits.write_text("hello")
    not_pds = tmp_path / "photo.img"
    not_pds.write_bytes(b"\x00" * 64)
    for path in (plain, other_xml, not_fits, not_pds, tmp_path / "missing.lbl"):
        assert get_reader(str(path)) is None, path.name
    assert get_reader([str(plain), str(other_xml)]) is None


def test_broken_product_gives_a_readable_error(tmp_path):
    path, _ = builders.pds3(tmp_path)
    (tmp_path / "SCENE.IMG").write_bytes(b"\x00" * 10)  # truncated data file
    with pytest.raises(ProductReadError, match="SCENE"):
        read_product(path)


def test_missing_extra_names_it(tmp_path, monkeypatch):
    path, _ = builders.pds3(tmp_path)
    monkeypatch.setattr(napari_reader, "missing_libraries", lambda *a: ["pdr"])
    monkeypatch.setattr("napari_hacbsr.mission.missing_libraries", lambda *a: ["pdr"])
    reader = get_reader(str(path))
    assert reader is not None  # a PDS label is ours: say what to install instead of "no reader"
    with pytest.raises(ImportError, match=r"napari-hacbsr\[mission\]"):
        reader(str(path))
    plain_tif = tmp_path / "x.tif"
    plain_tif.write_bytes(b"II*\x00")
    assert get_reader(str(plain_tif)) is None
