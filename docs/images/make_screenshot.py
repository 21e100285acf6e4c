"""Screenshot of the real napari viewer after a finished HACBSR run on a real Mars CTX crop.

    PYTHONPATH=$PWD/src xvfb-run -a -s "-screen 0 1700x1100x24" .venv/bin/python \
        docs/images/make_screenshot.py docs/images/widget_finished.png \
        /work/shared/data/planetary/hr/mars_ctx_P17_007703_2313.png

Reads the PNG (8-bit grey), crops its centre 64×64 pixels and adds the crop as an Image layer with
contrast limits [0, 255] (the data are not copied anywhere). Opens the widget by clicking its entry in
napari's Plugins menu, sets device cpu, 20 iterations, kernel warm-up 50 and the fallback encoder,
presses Run and waits for the run to finish. The source (left) and the ×2 result (right) are then
shown side by side in napari's grid mode, each with its own display settings (the result inherited the
source's). The source is still the active layer (the run's layers never take it), so the layer controls
show its display. The Plugins menu is opened and the screen area of the window is saved (a window
grab would leave the menu out); the script prints the status line, the kernel numbers and the Plugins menu's entries.
"""

import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from qtpy.QtWidgets import QApplication  # noqa: E402

import napari  # noqa: E402

CROP = 64
SETTINGS = {"iterations": 20, "kernel_warmup": 50, "encoder": "fallback", "device": "cpu"}


def centre_crop(path: str, side: int = CROP) -> np.ndarray:
    """The central side×side pixels of the PNG at `path`, as 8-bit grey."""
    image = np.asarray(Image.open(path).convert("L"))
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[top : top + side, left : left + side].copy()


def pump(app: QApplication, seconds: float) -> None:
    """Process Qt events for `seconds`."""
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.05)


def plugins_menu(viewer: napari.Viewer):
    """The menu bar's Plugins action."""
    bar = viewer.window._qt_window.menuBar()
    return next(a for a in bar.actions() if a.text().replace("&", "") == "Plugins")


def plugins_menu_entries(viewer: napari.Viewer) -> list[str]:
    """The texts under Plugins → (sub-menus flattened with ' → ')."""
    entries: list[str] = []

    def walk(menu, prefix: str) -> None:
        for action in menu.actions():
            text = action.text().replace("&", "")
            if action.menu() is not None:
                walk(action.menu(), f"{prefix}{text} → ")
            elif text:
                entries.append(prefix + text)

    walk(plugins_menu(viewer).menu(), "Plugins → ")
    return entries


def open_from_plugins_menu(viewer: napari.Viewer, text: str):
    """Click Plugins → ``text`` as a user would; return the docked magicgui widget."""
    menu = plugins_menu(viewer).menu()
    action = next(a for a in menu.actions() if a.text().replace("&", "") == text)
    action.trigger()
    return viewer.window.dock_widgets[text]


def main(out: str, source_png: str) -> None:
    """Run the widget on the crop of `source_png` and save the viewer's screenshot to `out`."""
    import torch

    torch.set_num_threads(1)
    viewer = napari.Viewer(title="napari — HACBSR")
    viewer.window.resize(1600, 1000)
    viewer.add_image(centre_crop(source_png), name="ctx_crop", contrast_limits=[0, 255])
    app = QApplication.instance()
    pump(app, 0.5)
    print("menu:", *plugins_menu_entries(viewer), sep="\n  ", flush=True)
    widget = open_from_plugins_menu(viewer, "Super-Resolution (HACBSR)")
    widget.device.value = SETTINGS["device"]
    widget.iterations.value = SETTINGS["iterations"]
    widget.kernel_warmup.value = SETTINGS["kernel_warmup"]
    widget.encoder.value = SETTINGS["encoder"]

    widget.run_button.native.click()
    start = time.time()
    while widget._run is None or not widget._run.done:
        app.processEvents()
        time.sleep(0.05)
        if time.time() - start > 1800:
            sys.exit("timed out")
    run = widget._run
    print(f"run finished in {time.time() - start:.0f} s; error: {run.error}", flush=True)

    viewer.canvas.grid.enabled = True
    viewer.canvas.grid.shape = (1, 2)  # the hidden kernel layer shares the source's cell
    viewer.reset_view()
    pump(app, 1.0)
    print("status:", widget.status.value, sep="\n", flush=True)
    print("kernel:", widget.kernel_view.numbers.value, flush=True)
    for layer in viewer.layers:
        print(f"layer {layer.name}: contrast {list(layer.contrast_limits)} visible {layer.visible}", flush=True)
    window = viewer.window._qt_window
    window.menuBar().setActiveAction(plugins_menu(viewer))  # opens the Plugins menu
    pump(app, 1.0)
    frame = window.geometry()
    app.primaryScreen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height()).save(out)
    print("saved", out, flush=True)
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
