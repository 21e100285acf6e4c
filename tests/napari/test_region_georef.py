"""A region's result is georeferenced at the region, in every face that takes one (issue 28 items 2, 4).

Before the fix, runs on a Shapes rectangle, the current view or ``run_in_viewer(region=)`` stored the
whole frame's origin in ``metadata["mission"]`` (the saved GeoTIFF landed at the frame's corner), and
``add_result`` stored none (the writer fell back to napari's world axes: no CRS, a mirrored transform).
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.mission.georef import corner_offset, transform_from_layer, transform_signs
from napari_hacbsr.napari.reader import read_layers
from napari_hacbsr.napari.scripting import add_result, run_in_viewer
from napari_hacbsr.napari.widget import HACBSRWidget
from napari_hacbsr.napari.writer import write_image

from ..helpers import TINY

TIMEOUT_MS = 240_000
QUICK = {**TINY, "iterations": 1, "inner_steps": 1, "kernel_warmup": 2}


FRAME = (500000.0, 2.0, 0.0, 4100000.0, 0.0, -2.0)  # UTM 33N, 2 m pixels, north up
REGION = (5, 7, 27, 29)  # (y0, x0, y1, x1): 22 × 22 px, the smallest a ×2 run takes is 17 × 17


def _open_product(viewer, tmp_path):
    """A 40 × 40 GeoTIFF product opened with the plugin's reader (what a scientist has in the viewer)."""
    from affine import Affine

    yy, xx = np.mgrid[:40, :40]
    raw = (1000 + 400 * np.sin(xx / 3.0) * np.cos(yy / 4.0)).astype(np.int16)[None]
    path = tmp_path / "scene.tif"
    profile = {"driver": "GTiff", "height": 40, "width": 40, "count": 1, "dtype": "int16", "crs": "EPSG:32633"}
    with rasterio.open(path, "w", transform=Affine.from_gdal(*FRAME), **profile) as dst:
        dst.write(raw)
    [(data, kwargs, _)] = read_layers(str(path))
    return viewer.add_image(data, **kwargs), path, FRAME


def _expected_sr_transform(frame, origin, scale, sampling):
    """The frame's geotransform moved to the region's corner pixel (row, col), then ×scale finer."""
    x0, a, b, y0, d, e = frame
    row, col = origin
    c = corner_offset(scale, sampling)
    east, north = x0 + a * (col + c) + b * (row + c), y0 + d * (col + c) + e * (row + c)
    return [east, a / scale, b / scale, north, d / scale, e / scale]


def _assert_georeferenced_at(sr_layer, source_path, frame, origin, scale, sampling, tmp_path):
    expected = _expected_sr_transform(frame, origin, scale, sampling)
    mission = sr_layer.metadata["mission"]
    assert mission["transform"] == pytest.approx(expected)
    # the stored georeference agrees with where napari shows the layer
    placed = transform_from_layer(sr_layer.scale, sr_layer.translate, transform_signs(frame))
    assert placed == pytest.approx(expected)
    # and the plugin's writer saves it: same CRS as the product, the region's transform
    meta = {"metadata": sr_layer.metadata, "scale": sr_layer.scale, "translate": sr_layer.translate, "rgb": False}
    image_path, _ = write_image(str(tmp_path / f"{sr_layer.name}.tif"), sr_layer.data, meta)
    with rasterio.open(image_path) as written, rasterio.open(source_path) as original:
        assert written.crs == original.crs
        assert written.transform.to_gdal() == pytest.approx(tuple(expected))


def test_run_in_viewer_region_is_georeferenced_at_the_region(make_napari_viewer_proxy, qtbot, tmp_path):
    viewer = make_napari_viewer_proxy()
    source, path, frame = _open_product(viewer, tmp_path)
    region = REGION
    worker = run_in_viewer(viewer, source, 2, region=region, progress=False, **QUICK)
    run = worker.hacbsr_run
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.error is None
    _assert_georeferenced_at(run.sr_layer, path, frame, region[:2], 2, run.config.sampling, tmp_path)


@pytest.mark.parametrize("choice", ["Shapes rectangle", "Current view"])
def test_widget_region_is_georeferenced_at_the_region(make_napari_viewer_proxy, qtbot, tmp_path, choice):
    viewer = make_napari_viewer_proxy()
    source, path, frame = _open_product(viewer, tmp_path)
    widget = HACBSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="HACBSR test")
    widget.device.value = "cpu"
    widget.iterations.value = 1
    widget.kernel_warmup.value = 2
    widget.inner_steps.value = 1
    widget.encoder.value = "fallback"
    if choice == "Shapes rectangle":
        corners = np.array([[5, 7], [5, 28], [26, 28], [26, 7]], float)  # LR data rows/cols of the source
        viewer.add_shapes([np.array([source.data_to_world(p) for p in corners])], shape_type="rectangle")
    else:
        viewer.camera.center = source.data_to_world((22, 20))
        half = 12 * float(np.max(source.scale))  # show about 24 × 24 LR pixels around (22, 20)
        viewer.camera.zoom = float(min(viewer.window._qt_viewer.canvas.size)) / (2 * half)
    widget.frame.region.value = choice
    widget.image.value = source
    box = widget.frame.region_box(viewer, source)
    assert box[:2] != (0, 0), box  # a true region, not the frame
    widget._on_run()
    run = widget._run
    assert run is not None, widget.message.value
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.error is None and run.origin == box[:2]
    _assert_georeferenced_at(run.sr_layer, path, frame, box[:2], 2, run.config.sampling, tmp_path)


@pytest.mark.parametrize("region", [None, REGION], ids=["frame", "region"])
def test_add_result_carries_the_products_georeference(make_napari_viewer_proxy, tmp_path, region):
    viewer = make_napari_viewer_proxy()
    source, path, frame = _open_product(viewer, tmp_path)
    data = source.data if region is None else source.data[region[0] : region[2], region[1] : region[3]]
    result = super_resolve(np.nan_to_num(data, nan=float(np.nanmean(data))), 2, **QUICK)
    layer = add_result(viewer, source, result, region=region)
    origin = (0, 0) if region is None else region[:2]
    _assert_georeferenced_at(layer, path, frame, origin, 2, result.config.sampling, tmp_path)


def test_add_result_without_a_product_stores_no_georeference(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    source = viewer.add_image(np.zeros((20, 20), np.float32), name="plain")
    result = super_resolve(np.random.default_rng(0).random((20, 20)).astype(np.float32), 2, **QUICK)
    layer = add_result(viewer, source, result)
    assert "mission" not in layer.metadata and layer.metadata["hacbsr"]["source_layer"] == "plain"
