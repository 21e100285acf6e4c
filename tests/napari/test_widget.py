"""The dock widget in a real (Xvfb) napari viewer: layer list, threaded runs, Stop, errors, bad layers.

Real engine runs use tiny images (20×20 → 40×40), a 5-step kernel warm-up, the weight-free
encoder and 2 inner steps, so each run takes seconds on a CPU. ``make_napari_viewer_proxy``
raises if a layer is mutated outside the main thread.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr.core.config import SCHEDULES
from napari_hacbsr.napari.error_text import friendly_error
from napari_hacbsr.napari.status_text import format_seconds
from napari_hacbsr.napari.widget import HACBSRWidget

from ..helpers import made_result

CPU_DEFAULT_ITERATIONS = SCHEDULES["cpu"]["iterations"]["hacbsr"]

TIMEOUT_MS = 240_000


def _image(shape=(20, 20), seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (np.sin(xx / 2.0) * np.cos(yy / 3.0) + 0.3 * rng.random(shape)).astype(np.float32)


def _fast(widget: HACBSRWidget, iterations: int) -> None:
    widget.device.value = "cpu"
    widget.iterations.value = iterations
    widget.kernel_warmup.value = 5
    widget.inner_steps.value = 2
    widget.encoder.value = "fallback"
    widget.yield_every.value = 1


def _widget(viewer) -> HACBSRWidget:
    widget = HACBSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="HACBSR test")
    return widget


def _wait_done(qtbot, widget):
    qtbot.waitUntil(lambda: widget._run is not None and widget._run.done, timeout=TIMEOUT_MS)


def test_widget_from_manifest_lists_and_refreshes_image_layers(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(_image(), name="a")
    viewer.add_labels(np.zeros((20, 20), dtype=int), name="seg")
    _, widget = viewer.window.add_plugin_dock_widget("napari-hacbsr", "Super-Resolution")
    assert isinstance(widget, HACBSRWidget)
    assert [layer.name for layer in widget.image.choices] == ["a"]  # Labels are not offered
    viewer.add_image(_image(), name="b")
    assert [layer.name for layer in widget.image.choices] == ["a", "b"]
    viewer.layers.remove("a")
    assert [layer.name for layer in widget.image.choices] == ["b"]
    assert widget.image.value.name == "b"

    devices = list(widget.device.choices)
    assert devices[0] == "auto" and "cpu" in devices
    widget.device.value = "cpu"
    assert widget.iterations.value == CPU_DEFAULT_ITERATIONS
    assert widget.yield_every.value == 1  # live updates every iteration on a CPU
    assert f"{CPU_DEFAULT_ITERATIONS} iterations" in widget.iterations_hint.value
    assert "cpu →" in widget.device_hint.value and "CPU" in widget.device_hint.value
    widget.iterations.value = 7  # a user's choice survives device changes
    widget.device.value = "auto"
    assert widget.iterations.value == 7

    assert widget.advanced.native.isHidden()
    widget.advanced_toggle.native.click()
    assert not widget.advanced.native.isHidden()
    widget.custom_scale.value = 5
    assert widget.make_config().scale == 5
    widget.custom_scale.value = 0
    widget.scale.value = 3
    assert widget.make_config().scale == 3
    assert widget.run_button.enabled and not widget.stop_button.enabled


def test_threaded_run_layers_geometry_metadata_and_second_run(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    data = _image()
    original = data.copy()
    src = viewer.add_image(
        data,
        name="img",
        scale=(2.0, 0.5),
        translate=(5.0, -1.0),
        units=("km", "km"),
        axis_labels=("y", "x"),
        colormap="magma",
    )
    widget = _widget(viewer)
    widget.image.value = src
    _fast(widget, iterations=2)
    added: list[str] = []
    viewer.layers.events.inserted.connect(lambda event: added.append(event.value.name))

    widget.run_button.native.click()
    assert widget.running and not widget.run_button.enabled and widget.stop_button.enabled
    _wait_done(qtbot, widget)

    assert added == ["img_HACBSR_x2", "img_HACBSR_kernel"]  # created once, then updated in place
    sr, kernel = viewer.layers["img_HACBSR_x2"], viewer.layers["img_HACBSR_kernel"]
    assert sr.data.shape == (40, 40) and kernel.data.shape == (11, 11)
    np.testing.assert_allclose(sr.scale, [1.0, 0.25])
    np.testing.assert_allclose(sr.translate, [5.0 - 2.0 * 0.25, -1.0 - 0.5 * 0.25])  # "area" default: - S·(s-1)/(2s)
    assert tuple(sr.units) == tuple(src.units) and tuple(sr.axis_labels) == ("y", "x")
    assert sr.colormap.name == "magma" and kernel.colormap.name == "inferno"
    np.testing.assert_allclose(kernel.scale, [1.0, 0.25])
    assert kernel.data_to_world((0, 0))[1] > src.data_to_world((0, 19.5))[1]  # beside, not on top
    np.testing.assert_allclose(sr.contrast_limits, src.contrast_limits)  # the source's display, kept
    assert not kernel.visible  # shown enlarged in the dock instead

    for layer in (sr, kernel):
        meta = layer.metadata["hacbsr"]
        for key in (
            "version",
            "source_layer",
            "config",
            "seed",
            "device",
            "device_name",
            "encoder",
            "iterations_done",
            "stopped_early",
            "final_losses",
            "timings",
        ):
            assert key in meta, key
        assert meta["source_layer"] == "img" and meta["iterations_done"] == 2
        assert meta["stopped_early"] is False and meta["config"]["scale"] == 2 and meta["device"] == "cpu"
    assert widget.run_button.enabled and not widget.stop_button.enabled and not widget.running
    assert "Done: 2 iterations" in widget.status.value
    lr_noise = sr.metadata["hacbsr"]["plan"]["lr_noise"]  # estimated by the run, said with the schedule it chose
    gain = f"hyper-Laplacian ×{lr_noise / 0.01:.1f} for the noise"
    said = f"of 2 iterations, then MSE, {gain} (LR noise {100 * lr_noise:.2f} % of its range, gate 1 %)"
    assert said in widget.status.value
    assert "Device: CPU" in widget.status.value and "built-in pixel encoder (as requested)" in widget.status.value
    np.testing.assert_array_equal(src.data, original)  # the source is never modified

    first_sr = np.array(sr.data)
    widget.iterations.value = 1
    widget.run_button.native.click()
    _wait_done(qtbot, widget)
    assert added[2:] == ["img_HACBSR_x2_2", "img_HACBSR_kernel_2"]
    np.testing.assert_array_equal(viewer.layers["img_HACBSR_x2"].data, first_sr)  # earlier result kept
    assert viewer.layers["img_HACBSR_x2_2"].metadata["hacbsr"]["iterations_done"] == 1
    np.testing.assert_array_equal(src.data, original)


def test_stop_keeps_estimate_and_shows_encoder_fallback(make_napari_viewer_proxy, qtbot, tmp_path):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(_image(), name="img")
    widget = _widget(viewer)
    _fast(widget, iterations=500)
    widget.encoder.value = "auto"  # CLIP wanted, but its weights file is missing → labelled fallback
    widget.clip_checkpoint.value = tmp_path / "missing_clip.pt"
    widget.run_button.native.click()
    qtbot.waitUntil(lambda: widget._run.last_step is not None, timeout=TIMEOUT_MS)  # live layers exist
    assert "img_HACBSR_x2" in viewer.layers
    status = widget.status.value
    assert "CLIP weights were not found" in status and "HACBSR_CLIP_CHECKPOINT" in status  # what to do
    assert "fallback:" not in status  # in words, not an internal id
    assert viewer.layers["img_HACBSR_x2"].metadata["hacbsr"]["status"] == "running"
    widget.stop_button.native.click()
    assert widget.stop_button.text == "Stopping…" and not widget.stop_button.enabled
    _wait_done(qtbot, widget)

    result = widget._run.result
    assert result is not None and result.stopped_early and result.iterations_done < 500
    meta = viewer.layers["img_HACBSR_x2"].metadata["hacbsr"]
    assert meta["stopped_early"] is True and meta["status"] == "done"
    assert "stopped by the user" in meta["stop_reason"]
    assert [layer.name for layer in viewer.layers] == ["img", "img_HACBSR_x2", "img_HACBSR_kernel"]
    assert widget.run_button.enabled and widget.stop_button.text == "Stop"
    assert "Stopped (stopped by the user)" in widget.status.value
    assert "missing_clip.pt" in meta["encoder_note"] and meta["encoder"].startswith("fallback")


def _start_long_run(make_napari_viewer_proxy, qtbot):
    """A viewer with layer "img" and a 500-iteration run that has yielded its first step."""
    viewer = make_napari_viewer_proxy()
    viewer.add_image(_image(), name="img")
    widget = _widget(viewer)
    _fast(widget, iterations=500)
    widget.run_button.native.click()
    qtbot.waitUntil(lambda: widget._run.last_step is not None, timeout=TIMEOUT_MS)
    return viewer, widget


def test_removing_the_source_layer_stops_the_run(make_napari_viewer_proxy, qtbot):
    viewer, widget = _start_long_run(make_napari_viewer_proxy, qtbot)
    viewer.layers.remove("img")
    _wait_done(qtbot, widget)
    assert widget._run.result.stopped_early
    assert "source layer was removed" in viewer.layers["img_HACBSR_x2"].metadata["hacbsr"]["stop_reason"]
    assert widget.run_button.enabled


def test_closing_the_viewer_stops_the_run(make_napari_viewer_proxy, qtbot):
    viewer, widget = _start_long_run(make_napari_viewer_proxy, qtbot)
    run = widget._run
    viewer.close()
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.stop_event.is_set() and run.error is None


def test_engine_error_resets_ui_frees_memory_and_next_run_works(make_napari_viewer_proxy, qtbot, monkeypatch):
    import napari_hacbsr.napari.run as run_module
    from napari_hacbsr.core import engine
    from napari_hacbsr.core.errors import OutOfMemoryError
    from napari_hacbsr.core.records import Step

    sr0, k0 = np.zeros((40, 40), np.float32), np.full((11, 11), 1 / 121, np.float32)

    def failing(image, config=None, should_stop=None):
        yield Step(0, config.outer_iterations, "warmup", {}, None, 0.01, sr0, k0)
        raise OutOfMemoryError(
            "cuda:0 — NVIDIA H100 ran out of memory for a 20×20 image at ×2. Memory "
            "has been released: try a smaller crop, a smaller scale, or device='cpu'."
        )

    def succeeding(image, config=None, should_stop=None):
        yield Step(0, 1, "warmup", {}, None, 0.01, sr0, k0)
        yield Step(1, 1, "iterate", {"data": 0.1}, None, 0.02, sr0 + 1, k0)
        return made_result(sr0 + 2, config, k0, losses=[{"data": 0.1}])

    freed: list[int] = []
    errors: list[str] = []
    monkeypatch.setattr(run_module, "free_device_memory", lambda: freed.append(1))
    monkeypatch.setattr("napari.utils.notifications.show_error", lambda message: errors.append(message))
    monkeypatch.setattr(engine, "iterate", failing)

    viewer = make_napari_viewer_proxy()
    src = viewer.add_image(_image(), name="img")
    original = np.array(src.data)
    widget = _widget(viewer)
    _fast(widget, iterations=3)
    widget.run_button.native.click()
    _wait_done(qtbot, widget)
    assert widget.run_button.enabled and not widget.stop_button.enabled and not widget.running
    assert "ran out of memory" in widget.message.value and "smaller crop" in widget.message.value
    assert errors and "ran out of memory" in errors[-1]
    assert freed, "GPU memory was not released after the error"
    assert "Failed" in widget.status.value
    np.testing.assert_array_equal(src.data, original)

    monkeypatch.setattr(engine, "iterate", succeeding)
    widget.run_button.native.click()
    _wait_done(qtbot, widget)
    assert widget._run.error is None
    np.testing.assert_array_equal(viewer.layers["img_HACBSR_x2_2"].data, sr0 + 2)  # warm-up layers kept
    assert widget.message.value == ""


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda v: v.add_image(np.zeros((5, 20, 20)), name="stack"), "no channel axis"),
        (lambda v: v.add_image([np.zeros((64, 64)), np.zeros((32, 32))], multiscale=True, name="pyr"), "multiscale"),
        (lambda v: v.add_image(np.zeros((20, 20, 3)), rgb=False, name="col"), "rgb=True"),
        (lambda v: v.add_image(_image((10, 10)), name="tiny"), "at least 17×17"),
        (lambda v: v.add_image(np.full((20, 20), 3.0), name="flat"), "constant"),
    ],
    ids=["stack", "multiscale", "rgb-not-rgb", "too-small", "constant"],
)
def test_unsupported_layers_get_a_message_not_a_run(make_napari_viewer_proxy, monkeypatch, make, expected):
    warnings_shown: list[str] = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", warnings_shown.append)
    viewer = make_napari_viewer_proxy()
    layer = make(viewer)
    widget = _widget(viewer)
    widget.image.value = layer
    widget.device.value = "cpu"
    widget.run_button.native.click()
    assert widget.worker is None and not widget.running and widget.run_button.enabled
    assert expected in widget.message.value
    assert warnings_shown and expected in warnings_shown[-1]
    assert "Not started" in widget.status.value


def test_friendly_error_messages():
    from napari_hacbsr.core.errors import EncoderUnavailableError

    assert "ran out of memory" in friendly_error(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert "'auto'" in friendly_error(EncoderUnavailableError("no weights"))
    assert "cannot run on this input" in friendly_error(ValueError("too small"))
    assert "unexpectedly" in friendly_error(KeyError("x"))
    assert format_seconds(42) == "0:42" and format_seconds(3723) == "1:02:03" and format_seconds(None) == "–"
