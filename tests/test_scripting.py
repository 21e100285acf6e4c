"""``run_in_viewer`` from the napari console: same live layers as the widget, ``worker.quit()`` stops."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr import run_in_viewer

TIMEOUT_MS = 240_000
FAST = {"kernel_warmup": 5, "inner_steps": 2, "encoder": "fallback", "device": "cpu", "yield_every": 1}


def test_run_in_viewer_rgb_quit_keeps_estimate(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    rng = np.random.default_rng(1)
    rgb = (rng.random((18, 22, 3)) * 255).astype(np.uint8)
    original = rgb.copy()
    src = viewer.add_image(rgb, name="colour", rgb=True, scale=(3.0, 3.0))

    worker = run_in_viewer(viewer, "colour", scale=2, iterations=500, progress=False, **FAST)
    run = worker.hacbsr_run
    qtbot.waitUntil(lambda: run.last_step is not None, timeout=TIMEOUT_MS)
    worker.quit()  # cooperative: the engine returns its current estimate
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)

    assert run.error is None and run.result.stopped_early and run.result.iterations_done < 500
    sr = viewer.layers["colour_HACBSR_x2"]
    assert sr.rgb and sr.data.shape == (36, 44, 3)
    np.testing.assert_allclose(sr.scale, [1.5, 1.5])
    np.testing.assert_allclose(sr.translate, [-0.75, -0.75])  # default "area" sampling: -S·(s-1)/(2s)
    assert viewer.layers["colour_HACBSR_kernel"].data.shape == (11, 11)
    assert sr.metadata["hacbsr"]["channel_axis"] == 2 and sr.metadata["hacbsr"]["source_layer"] == "colour"
    np.testing.assert_array_equal(src.data, original)


def test_run_in_viewer_rejects_bad_input_before_starting(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_labels(np.zeros((20, 20), dtype=int), name="seg")
    viewer.add_image(np.zeros((4, 20, 20)), name="stack")
    with pytest.raises(ValueError, match="Labels layer"):
        run_in_viewer(viewer, "seg")
    with pytest.raises(ValueError, match="no channel axis"):
        run_in_viewer(viewer, viewer.layers["stack"])
    with pytest.raises(ValueError, match="no layer named"):
        run_in_viewer(viewer, "missing")
    with pytest.raises(ValueError, match="unknown HACBSRConfig field"):
        run_in_viewer(viewer, "stack", not_a_setting=1)
