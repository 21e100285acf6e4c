"""Tiled runs in napari: tiles painted live, kernel-map layers over the source in world coordinates,
the region's result placed over exactly that region, the estimate shown before Run."""

from __future__ import annotations

import numpy as np

from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.kernel_map import tile_centres
from napari_hacbsr.core.sampling import lr_position_of_hr
from napari_hacbsr.napari.run import HACBSRRun
from napari_hacbsr.napari.widget import HACBSRWidget

from ..helpers import TINY

TIMEOUT_MS = 240_000
CFG = HACBSRConfig(scale=2, **{**TINY, "iterations": 1, "inner_steps": 1})


def _frame(shape=(50, 80)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    rng = np.random.default_rng(0)
    return (100 + 50 * np.sin(xx / 2.0) * np.cos(yy / 3.0) + 10 * rng.random(shape)).astype(np.float32)


def test_tiles_are_painted_and_the_kernel_map_sits_on_the_tile_centres(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    source = viewer.add_image(_frame(), name="frame", scale=(2.0, 3.0), translate=(10.0, -5.0))
    region = (5, 10, 45, 70)  # rows 5..45, columns 10..70
    painted = []
    run = HACBSRRun(
        viewer,
        source,
        CFG,
        tile=30,
        region=region,
        progress=False,
        notify=False,
        on_step=lambda s: painted.append(s) if s.stage == "tile" else None,
    )
    assert run.estimate.tiles == 6  # 2 × 3 tiles of 30 px over the 40 × 60 region
    run.start()
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.error is None and [s.tile for s in painted] == [1, 2, 3, 4, 5, 6]
    sr = viewer.layers[run.sr_name]
    assert sr.data.shape == (80, 120)
    # the region's HR pixel (0, 0) sits on LR position origin + (j - phase)/s of the source
    expected = source.data_to_world(np.array(region[:2]) + lr_position_of_hr(0.0, 2, run.config.sampling))
    np.testing.assert_allclose(sr.data_to_world((0, 0)), expected)
    names = {layer.name for layer in run.kernel_map_layers}
    assert names == {f"{run.kernel_name}_{s}" for s in ("map", "fwhm", "ellipticity", "orientation")}
    fwhm = viewer.layers[f"{run.kernel_name}_fwhm"]
    assert fwhm.data.shape == (2, 3) and np.isfinite(fwhm.data).all()
    rows, cols = tile_centres(run.result.tile_boxes)
    for r in range(2):
        for c in range(3):
            centre = source.data_to_world((rows[r] + region[0], cols[c] + region[1]))
            np.testing.assert_allclose(fwhm.data_to_world((r, c)), centre, atol=1e-9)


def test_widget_shows_the_estimate_before_run_and_explains_a_missing_rectangle(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    widget = HACBSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="HACBSR test")
    viewer.add_image(_frame(), name="frame")
    text = widget.frame.estimate.value
    assert text.startswith("Estimate: ≈") and "GB peak" in text
    assert "full HACBSR ≈" in text and "fast ≈" in text and "; auto runs " in text  # both, and auto's pick
    widget.frame.reconstruction.value = "fast"  # a choice updates the line, and the run's config
    assert "fast path" in widget.frame.estimate.value and "auto runs" not in widget.frame.estimate.value
    assert widget.make_config().reconstruction == "fast"
    widget.frame.reconstruction.value = "auto"
    widget.frame.region.value = "Shapes rectangle"
    assert "no Shapes layer" in widget.frame.estimate.value
    widget._on_run()
    assert widget._run is None and "draw one" in widget.message.value.replace("\u200b", "")
    viewer.add_shapes([np.array([[5, 10], [5, 70], [45, 70], [45, 10]])], shape_type="rectangle")
    widget.frame.update_estimate(viewer, widget.image.value, widget.make_config())
    assert widget.frame.estimate.value.startswith("Estimate: ≈")
    assert widget.frame.region_box(viewer, widget.image.value) == (5, 10, 46, 71)


def test_closing_the_dock_stops_a_tiled_run_within_its_tile(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    source = viewer.add_image(_frame((40, 30)), name="frame")
    widget = HACBSRWidget(viewer)
    dock = viewer.window.add_dock_widget(widget, name="HACBSR test")
    run = HACBSRRun(viewer, source, CFG.replace(iterations=200), tile=30, progress=False, notify=False)
    widget._run = run
    run.start()
    qtbot.waitUntil(lambda: run.last_step is not None and run.last_step.iteration >= 1, timeout=TIMEOUT_MS)
    viewer.window.remove_dock_widget(dock)
    widget.native.deleteLater()
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.stop_reason == "the HACBSR widget was closed"
    assert run.result.stopped_early and run.result.tiles_done == 0 and run.result.iterations_done == 0
    assert np.isnan(run.result.kernel_map).all()  # the stopped tile is not kept: its region keeps the cubic
    assert run.last_step.tile == 1 and run.last_step.iteration < 200
