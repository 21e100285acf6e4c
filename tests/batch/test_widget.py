"""The "Batch" dock widget in a real (Xvfb) napari viewer, on the shared 2-worker Dask cluster."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_hacbsr.napari.batch_widget import LAYERS, BatchWidget
from napari_hacbsr.outputs import output_paths

from ._data import TINY, write_images

TIMEOUT_MS = 180_000


def _widget(viewer, cluster, out) -> BatchWidget:
    widget = BatchWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Batch")
    widget.output.value = out
    widget.scheduler.value = cluster.address
    widget.config_overrides = dict(TINY)
    return widget


def _wait(qtbot, widget):
    qtbot.waitUntil(
        lambda: widget.report is not None or widget.status.value.startswith("Batch not run"), timeout=TIMEOUT_MS
    )
    qtbot.waitUntil(lambda: not widget.running, timeout=TIMEOUT_MS)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_folder_batch_shows_progress_and_failures(make_napari_viewer_proxy, qtbot, cluster, tmp_path):
    good = write_images(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.png").write_bytes(b"not a PNG")
    widget = _widget(make_napari_viewer_proxy(), cluster, tmp_path / "out")
    widget.folder.value = tmp_path / "in"

    widget.run_button.changed(True)
    assert widget.running and not widget.run_button.enabled and widget.stop_button.enabled
    _wait(qtbot, widget)

    assert sorted(i["key"] for i in widget.report.done) == [p.stem for p in good]
    assert (widget.progress.value, widget.progress.max) == (3, 3)
    assert widget.failures.value.startswith("broken.png: ") and "not a readable PNG image" in widget.failures.value
    assert "done 2, skipped 0, failed 1" in widget.status.value
    assert widget.run_button.enabled and not widget.stop_button.enabled
    assert all(output_paths(tmp_path / "out", p.stem, 2)["sr_tiff"].is_file() for p in good)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_open_layers_batch_and_stop(make_napari_viewer_proxy, qtbot, cluster, tmp_path):
    viewer = make_napari_viewer_proxy()
    data = [np.random.default_rng(i).random((20, 20)).astype(np.float32) for i in range(3)]
    for i, image in enumerate(data):
        viewer.add_image(image, name=f"moon {i}")
    out = tmp_path / "out"
    widget = _widget(viewer, cluster, out)
    widget.source.value = LAYERS
    assert not widget.folder.enabled

    widget.run_button.changed(True)
    widget.stop_button.changed(True)  # before anything could finish: every item is cancelled
    _wait(qtbot, widget)
    assert len(widget.report.cancelled) == 3 and not widget.report.done
    assert "cancelled 3" in widget.status.value

    widget.run_button.changed(True)  # the same batch again runs what the stopped one did not
    _wait(qtbot, widget)
    assert len(widget.report.done) == 3 and widget.report.exit_code == 0
    for i, image in enumerate(data):  # in-memory layers were copied unchanged for the workers
        np.testing.assert_array_equal(tifffile.imread(out / "layers" / f"moon_{i}.tif"), image)
        assert output_paths(out, f"moon_{i}", 2)["sr_tiff"].is_file()
        np.testing.assert_array_equal(viewer.layers[f"moon {i}"].data, image)  # the user's data untouched
