"""``run_in_viewer`` from the napari console: same live layers as the widget, ``worker.quit()`` stops."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr import run_in_viewer

from ..helpers import made_result

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
    assert sr.metadata["hacbsr"]["stop_reason"] == "stopped by the user"
    np.testing.assert_allclose(sr.contrast_limits, src.contrast_limits)  # the source's display, not a stretch
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


def test_second_run_on_the_same_layer_is_refused_while_one_runs(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(np.random.default_rng(0).random((20, 20)).astype(np.float32), name="img")
    worker = run_in_viewer(viewer, "img", iterations=500, progress=False, **FAST)
    try:
        with pytest.raises(ValueError, match="already going"):
            run_in_viewer(viewer, "img", iterations=2, progress=False, **FAST)
    finally:
        worker.quit()
        qtbot.waitUntil(lambda: worker.hacbsr_run.done, timeout=TIMEOUT_MS)
    # once it has finished, the layer can be run again
    again = run_in_viewer(viewer, "img", iterations=1, progress=False, **FAST)
    qtbot.waitUntil(lambda: again.hacbsr_run.done, timeout=TIMEOUT_MS)
    assert again.hacbsr_run.error is None


def test_add_result_places_a_blocking_result_over_a_scaled_source(make_napari_viewer):
    """35 m/px, translated: the docs' recipe must not assume unit pixels."""
    from napari_hacbsr import add_result
    from napari_hacbsr.core.config import HACBSRConfig

    viewer = make_napari_viewer(show=False)
    src = viewer.add_image(np.zeros((20, 20), np.float32), name="ctx", scale=(35.0, 35.0), translate=(1000.0, -70.0))
    src.contrast_limits = (0.0, 0.5)
    result = made_result(np.ones((40, 40), np.float32), HACBSRConfig(scale=2))
    layer = add_result(viewer, "ctx", result)
    np.testing.assert_allclose(layer.scale, [17.5, 17.5])
    # default "area" sampling: HR pixel 0 holds LR position -(s-1)/(2s) = -0.25 px = -8.75 m from the origin
    assert result.config.sampling == "area"
    np.testing.assert_allclose(layer.translate, [1000.0 - 8.75, -70.0 - 8.75])
    np.testing.assert_allclose(layer.contrast_limits, [0.0, 0.5])
    assert layer.name == "ctx_HACBSR_x2" and layer.metadata["hacbsr"]["source_layer"] == "ctx"
