"""The 2000×2000 case in the real widget: estimate before Run, a tiled run, Stop, napari alive.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m benchmarks.widget_large_frame \
        ../shared/data/planetary/hr

Builds a 2000×2000 mosaic of four 1000² LROC NAC frames, opens it in napari, docks the widget, prints
the estimate shown before Run, runs ×2 on CPU with a very short schedule (1 iteration, 1 inner step,
warm-up 5), waits for the first finished tile, presses Stop and prints how long Stop took, how many
tiles were kept and whether the viewer still answers. Prints a table and writes CSV with the commit.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from ._common import git_commit  # noqa: E402

FRAMES = (
    "moon_lrocnac_M115143943RE_cal_echo_2_2.png",
    "moon_lrocnac_M1183658592LE_cal_echo_23_0.png",
    "moon_lrocnac_M1303619844LE_cal_echo_26_2.png",
    "moon_lrocnac_M161142858RE_cal_echo_1_2.png",
)


def mosaic(hr_dir: Path) -> np.ndarray:
    import imageio.v3 as iio

    tiles = [
        np.asarray(iio.imread(hr_dir / name))[..., 0]
        if iio.imread(hr_dir / name).ndim == 3
        else np.asarray(iio.imread(hr_dir / name))
        for name in FRAMES
    ]
    return np.block([[tiles[0], tiles[1]], [tiles[2], tiles[3]]]).astype(np.uint8)


def main(hr_dir: str, out: str = "bench_out/widget_large_frame.csv") -> None:
    from qtpy.QtWidgets import QApplication

    import napari

    image = mosaic(Path(hr_dir))
    viewer = napari.Viewer(show=True)
    viewer.add_image(image, name="lroc_2000", contrast_limits=(0, 255))
    _, widget = viewer.window.add_plugin_dock_widget("napari-hacbsr", "Super-Resolution")
    app = QApplication.instance()
    widget.device.value = "cpu"
    widget.iterations.value = 1
    widget.kernel_warmup.value = 5
    widget.inner_steps.value = 1
    widget.encoder.value = "fallback"
    app.processEvents()
    estimate = widget.frame.estimate.value
    print("estimate before Run:", estimate)
    t0 = time.time()
    widget.run_button.native.click()
    run = widget._run
    while run is not None and not run.done and not (run.last_step and run.last_step.stage == "tile"):
        app.processEvents()
        time.sleep(0.05)
    first_tile = time.time() - t0
    stop_at = time.time()
    widget.stop_button.native.click()
    while not run.done:
        app.processEvents()
        time.sleep(0.05)
    stop_latency = time.time() - stop_at
    result = run.result
    app.processEvents()
    alive = viewer.window._qt_window.isVisible() and "lroc_2000" in viewer.layers
    sr = viewer.layers[run.sr_name].data if run.sr_name in viewer.layers else None
    row = {
        "commit": git_commit(),  # (with "+dirty-src" when src/ has uncommitted changes)
        "frame": "2000x2000 (4 LROC NAC 1000² frames)",
        "scale": 2,
        "estimate_before_run": estimate,
        "tiles": int(np.prod(result.tile_boxes.shape[:2]))
        if result is not None and result.tile_boxes is not None
        else 1,
        "tiles_kept": getattr(result, "tiles_done", None),
        "first_tile_s": round(first_tile, 1),
        "stop_latency_s": round(stop_latency, 2),
        "sr_shape": None if sr is None else list(sr.shape),
        "error": run.message,
        "napari_alive": bool(alive),
    }
    for key, value in row.items():
        print(f"{key:22s} {value}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if fh.tell() == 0:
            writer.writeheader()
        writer.writerow(row)
    viewer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
