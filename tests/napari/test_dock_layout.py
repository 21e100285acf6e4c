"""In a 1000 px tall window the dock's status and kernel text are shown whole (issue 28 item 13)."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QScrollArea

from napari_hacbsr.napari.widget import HACBSRWidget

LONG = "Device: CPU — no GPU found\nFeature encoder: the built-in pixel encoder (as requested).\n" + " ".join(
    ["Iteration 12/100, loss 0.0123, α 0.95, ETA 3:25 (the SR layer shows the estimate so far)."] * 4
)


def test_status_and_kernel_text_are_not_clipped_in_a_short_window(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1200, 1000)
    widget = HACBSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="HACBSR test")
    widget.advanced_toggle.native.click()  # everything open: the tallest the dock gets
    widget.status.value = LONG
    widget.kernel_view.show_kernel(np.outer(np.hanning(13), np.hanning(13)))
    qtbot.wait(100)
    scroll = widget.native.findChild(QScrollArea)
    assert scroll is not None and scroll.widget().isAncestorOf(widget.status.native)  # it scrolls, not squashes
    for label in (widget.status.native, widget.kernel_view.numbers.native):
        needed = label.heightForWidth(label.width())
        assert label.height() >= needed, (label.text()[:40], label.height(), needed)
    # and the dock is no wider than the window allows (long lines wrap)
    assert widget.native.width() < viewer.window._qt_window.width()
