"""The widget's tile and memory-limit options and an estimate that follows every setting (issue 28 item 9)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr.napari.widget import HACBSRWidget

TIMEOUT_MS = 240_000


def _frame(shape=(60, 60)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (100 + 50 * np.sin(xx / 2.0) * np.cos(yy / 3.0)).astype(np.float32)


def _widget(viewer) -> HACBSRWidget:
    widget = HACBSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="HACBSR test")
    widget.device.value = "cpu"
    widget.frame.reconstruction.value = "hacbsr"
    return widget


def test_the_estimate_follows_advanced_options(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(_frame(), name="frame")
    widget = _widget(viewer)
    widget.inner_steps.value = 10
    before = widget.frame.estimate.value
    widget.inner_steps.value = 1  # an Advanced option: a tenth of the image steps
    after = widget.frame.estimate.value
    assert before.startswith("Estimate: ≈") and after.startswith("Estimate: ≈")
    assert after != before


def test_no_estimate_beside_a_refusal(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(np.full((60, 60), 7.0, np.float32), name="flat")  # constant: refused
    widget = _widget(viewer)
    assert widget.message.value  # the refusal is shown
    assert widget.frame.estimate.value == ""


def test_tiles_and_memory_limit_reach_the_estimate_and_the_run(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(_frame((50, 40)), name="frame")
    widget = _widget(viewer)
    widget.frame.tiles.value = "30"
    assert "tiles" in widget.frame.estimate.value
    widget.frame.tiles.value = "thirty"
    assert "Tiles must be auto, none or an LR tile side" in widget.frame.estimate.value
    widget.frame.tiles.value = "none"
    widget.frame.memory_limit.value = 0.01  # 10 MB: nothing fits
    assert widget.frame.estimate.value.startswith("Will not start")
    widget._on_run()
    assert widget._run is None and widget.message.value  # refused before any thread, with the reason
    widget.frame.memory_limit.value = 0.0
    widget.frame.tiles.value = "30"
    widget.iterations.value, widget.encoder.value = 1, "fallback"
    widget.kernel_warmup.value, widget.inner_steps.value = 2, 1
    widget._on_run()
    run = widget._run
    assert run is not None and run.estimate.tile == 30 and run.estimate.tiles > 1  # the field's tile side
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.error is None and run.result.tiles_done == run.estimate.tiles


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("", "auto"), ("none", None), ("256", 256)])
def test_tile_field_reads_like_the_cli(make_napari_viewer_proxy, text, expected):
    widget = HACBSRWidget(make_napari_viewer_proxy())
    widget.frame.tiles.value = text
    assert widget.frame.tile_choice() == expected
