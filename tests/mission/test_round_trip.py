"""Georeference round trip: a feature at world (E, N) in the source sits at (E, N) in the written SR product."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from napari.layers import Image

from napari_hacbsr.core.sampling import SAMPLING_CONVENTIONS, hr_position_of_lr
from napari_hacbsr.mission.georef import (
    sr_layer_metadata,
    sr_transform,
    transform_from_layer,
    transform_signs,
)
from napari_hacbsr.mission.writers import write_sr_product
from napari_hacbsr.napari.placement import sr_layer_kwargs
from napari_hacbsr.napari.reader import read_layers
from napari_hacbsr.napari.writer import write_image

from . import builders


def _world(transform, col, row):
    """GDAL geotransform applied to pixel-corner coordinates."""
    x0, a, b, y0, d, e = transform
    return np.array([x0 + a * col + b * row, y0 + d * col + e * row])


def _source_layer(path):
    [(data, kwargs, _)] = read_layers(str(path))
    return Image(data, **kwargs)


def _fake_result(sr, scale, sampling="stride"):
    return SimpleNamespace(sr=sr, channel_axis=None, config=SimpleNamespace(scale=scale, sampling=sampling))


@pytest.mark.parametrize("convention", SAMPLING_CONVENTIONS)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_transform_puts_every_lr_centre_where_the_sampling_geometry_says(scale, convention):
    # a rotated grid too: the composition must be exact for any affine
    for transform in [(500000.0, 2.0, 0.0, 4100000.0, 0.0, -2.0), (10.0, 1.5, 0.3, -7.0, -0.2, -1.5)]:
        out = sr_transform(transform, scale, convention)
        for i, j in [(0, 0), (3, 7), (11, 2)]:
            e_n = _world(transform, j + 0.5, i + 0.5)  # LR pixel (i, j)'s centre
            hr_i, hr_j = hr_position_of_lr(i, scale, convention), hr_position_of_lr(j, scale, convention)
            np.testing.assert_allclose(_world(out, hr_j + 0.5, hr_i + 0.5), e_n, atol=1e-9)
        assert out[1] == pytest.approx(transform[1] / scale) and out[5] == pytest.approx(transform[5] / scale)


@pytest.mark.parametrize("builder", ["geotiff", "pds3", "pds4", "isis3"])
@pytest.mark.parametrize("scale", [2, 3])
def test_written_sr_geotiff_sits_where_napari_places_the_sr_layer(tmp_path, builder, scale):
    path, expected = getattr(builders, builder)(tmp_path)
    source = _source_layer(path)
    placement = sr_layer_kwargs(source, scale)  # what the run controller gives the SR layer
    metadata = sr_layer_metadata(source.metadata, scale, "stride")  # what it stores beside it
    sr = np.zeros((builders.ROWS * scale, builders.COLS * scale), np.float32)
    out, georef = write_sr_product(tmp_path / "out.tif", _fake_result(sr, scale), source.metadata["mission"])
    assert georef["transform"] == pytest.approx(metadata["mission"]["transform"])
    with rasterio.open(out) as written, rasterio.open(path) as original:
        assert written.crs == original.crs
        assert written.transform.to_gdal() == pytest.approx(sr_transform(expected["transform"], scale))
        assert written.res == pytest.approx((original.res[0] / scale, original.res[1] / scale))
    # the SR product reopened in napari lands exactly on the SR layer the run created
    reopened = _source_layer(out)
    np.testing.assert_allclose(reopened.scale, placement["scale"])
    np.testing.assert_allclose(reopened.translate, placement["translate"])
    signs = transform_signs(expected["transform"])
    assert transform_from_layer(placement["scale"], placement["translate"], signs) == pytest.approx(
        metadata["mission"]["transform"]
    )


def test_a_feature_keeps_its_map_coordinate(tmp_path):
    """×3 stride (integer phase): the HR pixel holding LR pixel (r, c)'s centre is (3r - 1, 3c - 1)."""
    path, expected = builders.geotiff(tmp_path)
    r, c, s = 9, 6, 3
    e_n = _world(expected["transform"], c + 0.5, r + 0.5)
    sr = np.zeros((builders.ROWS * s, builders.COLS * s), np.float32)
    sr[int(hr_position_of_lr(r, s)), int(hr_position_of_lr(c, s))] = 1.0  # the feature, where the engine puts it
    out, _ = write_sr_product(tmp_path / "sr.tif", _fake_result(sr, s), _source_layer(path).metadata["mission"])
    with rasterio.open(out) as written:
        row, col = np.unravel_index(np.nanargmax(written.read(1)), written.shape)
        np.testing.assert_allclose(written.xy(row, col), e_n)  # any GIS reads the feature at (E, N)


def test_fits_sr_wcs_maps_hr_pixels_to_the_same_sky(tmp_path):
    from astropy.io import fits
    from astropy.wcs import WCS

    path, expected = builders.fits(tmp_path)
    source, s = _source_layer(path), 2
    sr = np.zeros((builders.ROWS * s, builders.COLS * s), np.float32)
    out, georef = write_sr_product(tmp_path / "sr.tif", _fake_result(sr, s), source.metadata["mission"])
    assert out.suffix == ".fits" and georef["crs"] is None
    written = WCS(fits.getheader(out))
    for r, c in [(0, 0), (5, 9), (23, 19)]:
        before = expected["wcs"].pixel_to_world(c, r)
        after = written.pixel_to_world(hr_position_of_lr(c, s), hr_position_of_lr(r, s))
        assert before.separation(after).arcsec < 1e-6
    np.testing.assert_allclose(np.abs(written.wcs.cdelt), [1e-4, 1e-4])
    reopened, placement = _source_layer(out), sr_layer_kwargs(source, s)
    np.testing.assert_allclose(reopened.scale, placement["scale"])
    np.testing.assert_allclose(reopened.translate, placement["translate"], atol=1e-12)


def test_napari_writer_saves_the_sr_layer_with_its_georeference(tmp_path):
    path, expected = builders.pds3(tmp_path)
    source, s = _source_layer(path), 2
    metadata = {"hacbsr": {"config": {"scale": s}}, **sr_layer_metadata(source.metadata, s, "stride")}
    data = np.random.default_rng(0).random((builders.ROWS * s, builders.COLS * s)).astype(np.float32)
    layer = Image(data, metadata=metadata, **sr_layer_kwargs(source, s))
    _, meta, _ = layer.as_layer_data_tuple()
    written = write_image(str(tmp_path / "sr.tif"), data, meta)
    with rasterio.open(written[0]) as dst:
        assert dst.transform.to_gdal() == pytest.approx(sr_transform(expected["transform"], s))
        assert dst.crs is not None
        np.testing.assert_array_equal(dst.read(1), data)
    sidecar = json.loads(Path(written[1]).read_text())
    assert sidecar["hacbsr"]["config"]["scale"] == s and sidecar["georeference"]["sampling"] == "stride"


def test_napari_writer_without_georeference_uses_the_layer_geometry(tmp_path):
    layer = Image(np.ones((6, 5), np.float32), scale=(2.0, 3.0), translate=(10.0, 20.0))
    _, meta, _ = layer.as_layer_data_tuple()
    written = write_image(str(tmp_path / "plain.tif"), layer.data, meta)
    with rasterio.open(written[0]) as dst:
        assert dst.crs is None
        assert dst.transform.to_gdal() == pytest.approx((18.5, 3.0, 0.0, 9.0, 0.0, 2.0))  # corner = centre - ½ px


def test_run_in_viewer_carries_the_georeference_to_the_sr_layer(make_napari_viewer_proxy, qtbot, tmp_path):
    from napari_hacbsr import run_in_viewer

    path, expected = builders.geotiff(tmp_path)
    viewer = make_napari_viewer_proxy()
    [(data, kwargs, _)] = read_layers(str(path))
    viewer.add_image(data, **kwargs)
    fast = {"kernel_warmup": 3, "inner_steps": 1, "encoder": "fallback", "device": "cpu"}
    worker = run_in_viewer(viewer, "scene", scale=2, iterations=2, progress=False, **fast)
    qtbot.waitUntil(lambda: worker.hacbsr_run.done, timeout=120_000)
    sr = viewer.layers["scene_HACBSR_x2"]
    assert sr.metadata["mission"]["transform"] == pytest.approx(
        sr_transform(expected["transform"], 2, worker.hacbsr_run.config.sampling)
    )
    assert "mission" not in viewer.layers["scene_HACBSR_kernel"].metadata  # kernels are not on the map
    _, meta, _ = sr.as_layer_data_tuple()
    [tif, _] = write_image(str(tmp_path / "sr.tif"), sr.data, meta)
    with rasterio.open(tif) as dst:
        assert dst.crs.to_epsg() == 32633
        # pixel (0, 0)'s centre: napari world (-N, E) of the SR layer == the GeoTIFF's (E, N)
        np.testing.assert_allclose(dst.xy(0, 0), (sr.translate[1], -sr.translate[0]))


def test_a_crop_keeps_its_place_in_the_world():
    from napari_hacbsr.mission.georef import crop_georef

    georef = {"transform": [500000.0, 10.0, 0.0, 4200000.0, 0.0, -10.0], "wcs": {"CRPIX1": 50.5, "CRPIX2": 20.0}}
    crop = crop_georef(georef, row=7, col=3)
    x0, a, _, y0, _, e = crop["transform"]
    # the crop's pixel corner (0, 0) is the source's corner (row 7, col 3)
    assert (x0, y0) == (500000.0 + 3 * 10.0, 4200000.0 - 7 * 10.0) and (a, e) == (10.0, -10.0)
    assert crop["wcs"] == {"CRPIX1": 47.5, "CRPIX2": 13.0}
    assert georef["transform"][0] == 500000.0  # the source's georeference is untouched
