"""Screenshot of the real napari viewer with the HACBSR widget docked, mid-run on the Moon sample.

    xvfb-run -a -s "-screen 0 1700x1100x24" .venv/bin/python docs/images/make_screenshot.py \
        docs/images/widget_midrun.png 6

Opens the ×2 Moon sample, docks the widget from the manifest, presses Run with the default (CPU)
settings, waits for the given number of outer iterations, saves the window, then presses Stop.
"""

import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import napari  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402


def main(out: str, min_iteration: int) -> None:
    viewer = napari.Viewer(title="napari — HACBSR")
    viewer.window.resize(1600, 1000)
    viewer.open_sample("napari-hacbsr", "moon_x2")
    _, widget = viewer.window.add_plugin_dock_widget("napari-hacbsr", "HACBSR Super-Resolution")
    app = QApplication.instance()
    sr_name = "moon_x2_degraded_sample_HACBSR_x2"

    widget.run_button.native.click()
    start = time.time()
    while True:
        app.processEvents()
        time.sleep(0.05)
        run = widget._run
        step = run.last_step
        if step is not None and step.iteration >= min_iteration and sr_name in viewer.layers:
            break
        if run.done or time.time() - start > 1500:
            print("run ended early or timed out:", run.error, flush=True)
            break
    viewer.layers.selection.active = viewer.layers[sr_name]
    viewer.reset_view()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    print(widget.status.value, flush=True)
    viewer.screenshot(out, canvas_only=False)
    print("saved", out, flush=True)
    widget.stop_button.native.click()
    while not widget._run.done:
        app.processEvents()
        time.sleep(0.05)
    print(widget.status.value, flush=True)
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 6)
