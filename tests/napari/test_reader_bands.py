"""Multi-band products in napari (issue 28 item 14): RGB GeoTIFF as one RGB layer, a PDS4 time series
as one layer with a slider named by the label, band stacks as one layer per band."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr.napari.reader import get_reader, open_product
from tests.mission import builders


def test_rgb_geotiff_is_one_rgb_layer(tmp_path):
    from napari.components import ViewerModel

    path, expected = builders.rgb_geotiff(tmp_path)
    viewer = ViewerModel()
    [layer] = open_product(viewer, str(path))
    assert layer.rgb and layer.data.shape == (builders.ROWS, builders.COLS, 3)
    np.testing.assert_array_equal(layer.data, np.moveaxis(expected["values"], 0, -1))
    assert tuple(layer.scale) == pytest.approx((2.0, 2.0))
    assert layer.metadata["mission"]["transform"] == pytest.approx(list(expected["transform"]))


def test_pds4_time_series_is_one_layer_with_a_named_slider(tmp_path, make_napari_viewer):
    path, expected = builders.pds4_time_series(tmp_path)
    [(data, kwargs, _)] = get_reader(str(path))(str(path))
    assert "channel_axis" not in kwargs and kwargs["axis_labels"] == ("Time", "row", "column")
    viewer = make_napari_viewer(show=False)
    [layer] = viewer.open(str(path), plugin=None)
    assert layer.data.shape == (3, builders.ROWS, builders.COLS) and not layer.rgb
    np.testing.assert_allclose(layer.data, expected["values"])
    assert tuple(layer.axis_labels) == ("Time", "row", "column")  # GDAL reads no map for a time axis
    assert viewer.dims.nsteps[0] == 3  # the slider walks the time axis


def test_a_band_stack_is_still_one_layer_per_band(tmp_path):
    path, _ = builders.pds3(tmp_path, bands=3)
    [(data, kwargs, _)] = get_reader(str(path))(str(path))
    assert kwargs["channel_axis"] == 0 and len(kwargs["name"]) == 3
