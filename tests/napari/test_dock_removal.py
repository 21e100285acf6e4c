"""Closing the dock stops the run and napari lives on (issue 28 item 6).

``remove_dock_widget`` (the dock's × calls it) only unparents the widget, so ``destroyed`` never fired:
the run went on to its end with an empty stop reason, and the process could then abort.
"""

from __future__ import annotations

import gc

import numpy as np

from napari_hacbsr.napari import run as run_module
from napari_hacbsr.napari.widget import HACBSRWidget

TIMEOUT_MS = 240_000


def _image(shape=(24, 24)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (100 + 50 * np.sin(xx / 2.0) * np.cos(yy / 3.0)).astype(np.float32)


def test_removing_the_dock_stops_the_run_and_the_viewer_lives_on(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(_image(), name="frame")
    widget = HACBSRWidget(viewer)
    dock = viewer.window.add_dock_widget(widget, name="HACBSR test")
    widget.device.value, widget.iterations.value, widget.encoder.value = "cpu", 300, "fallback"
    widget.kernel_warmup.value, widget.inner_steps.value = 2, 1
    widget.run_button.native.click()
    run = widget._run
    qtbot.waitUntil(lambda: run.last_step is not None, timeout=TIMEOUT_MS)
    viewer.window.remove_dock_widget(dock)  # no deleteLater of the widget: what napari does
    del widget, dock
    gc.collect()  # the widget may go: the run must not go with it
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.stop_reason == "the HACBSR widget was closed"
    assert run.result is not None and run.result.stopped_early and run.result.iterations_done < 300
    assert run not in run_module._LIVE_RUNS
    qtbot.wait(200)  # late signals are delivered to a live run: the process is still here
    assert run.sr_name in viewer.layers  # the estimate is kept
