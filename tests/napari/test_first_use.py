"""What a scientist meets in the first minutes with the dock widget (issue: first use in napari)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr.napari.widget import HACBSRWidget

TIMEOUT_MS = 240_000


def _texture(shape=(20, 20), seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (100 + 50 * np.sin(xx / 2.0) * np.cos(yy / 3.0) + 10 * rng.random(shape)).astype(np.float32)


def _docked(viewer) -> HACBSRWidget:
    widget = HACBSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="HACBSR test")
    return widget


def test_image_list_follows_the_active_layer_until_picked_by_hand(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.add_image(_texture(), name="frame")
    widget = _docked(viewer)
    assert widget.image.value.name == "frame"
    viewer.add_image(_texture(seed=1), name="crop")  # napari makes the new layer active
    assert widget.image.value.name == "crop"
    viewer.layers.selection.active = viewer.layers["frame"]
    assert widget.image.value.name == "frame"
    viewer.add_labels(np.zeros((20, 20), int), name="seg")  # not an Image: the choice stays
    assert widget.image.value.name == "frame"
    widget.image.value = next(x for x in widget.image.choices if x.name == "crop")  # picked by hand
    viewer.layers.selection.active = viewer.layers["frame"]
    assert widget.image.value.name == "crop"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (np.random.default_rng(0).random((10, 10)).astype(np.float32), "needs at least 17×17"),
        (np.full((30, 30), 7.0, np.float32), "constant"),
        (np.random.default_rng(0).random((30, 30)) > 0.5, "real numbers"),
    ],
)
def test_layers_are_checked_on_selection_not_after_run(make_napari_viewer_proxy, data, words):
    viewer = make_napari_viewer_proxy()
    widget = _docked(viewer)
    viewer.add_image(data, name="bad")
    assert words in widget.message.value.replace("\u200b", "")


def test_long_code_in_messages_can_wrap(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    widget = _docked(viewer)
    viewer.add_image(np.zeros((4, 30, 30), np.float32), name="a_long_stack_name")
    text = widget.message.value
    assert "viewer.\u200blayers[" in text  # a break opportunity inside the code suggestion
    assert text.replace("\u200b", "").count("viewer.layers['a_long_stack_name'].data[0]") == 1


def test_scale_one_is_refused_for_the_right_reason():
    from napari_hacbsr.core.config import HACBSRConfig

    with pytest.raises(ValueError, match="at least 2") as info:
        HACBSRConfig(scale=1)
    assert "kernel" not in str(info.value)


def test_live_layers_keep_the_source_display_and_never_steal_the_active_layer(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    src = viewer.add_image(_texture(), name="ctx", colormap="viridis", gamma=0.8)
    src.contrast_limits = (0.0, 255.0)
    widget = _docked(viewer)
    widget.device.value = "cpu"
    widget.iterations.value = 2
    widget.kernel_warmup.value = 5
    widget.inner_steps.value = 1
    widget.encoder.value = "fallback"
    first: dict[str, np.ndarray] = {}

    def on_setup(step):
        first["sr"] = np.array(viewer.layers["ctx_HACBSR_x2"].data)

    widget.run_button.native.click()
    widget._run._listeners["setup"] = on_setup  # observe the first picture (tests only)
    show_step = widget._run._listeners["step"]

    def on_step(step):
        if step.stage == "warmup":
            first["after_warmup"] = np.array(viewer.layers["ctx_HACBSR_x2"].data)
        show_step(step)

    widget._run._listeners["step"] = on_step
    qtbot.waitUntil(lambda: widget._run.done, timeout=TIMEOUT_MS)

    run = widget._run
    assert run.error is None and run.result is not None
    sr, kernel = viewer.layers["ctx_HACBSR_x2"], viewer.layers["ctx_HACBSR_kernel"]
    np.testing.assert_allclose(sr.contrast_limits, [0.0, 255.0])
    assert sr.colormap.name == "viridis" and sr.gamma == pytest.approx(0.8)
    assert not kernel.visible  # not drawn over image data
    assert viewer.layers.selection.active.name == "ctx"  # still the user's layer
    # the first picture is the cubic upsample of the input (smooth, in its value range), not noise
    assert first["sr"].shape == (40, 40)
    assert src.data.min() - 1e-3 <= first["sr"].min() and first["sr"].max() <= src.data.max() + 1e-3
    lr_means = src.data.reshape(-1).mean()
    assert abs(first["sr"].mean() - lr_means) < 2.0
    # the warm-up fits the kernel only: its untrained image generator's output is not shown
    np.testing.assert_array_equal(first["after_warmup"], first["sr"])
    # the kernel is shown enlarged in the dock, with its numbers
    assert widget.kernel_view.shape is not None and "FWHM" in widget.kernel_view.numbers.value
    assert widget.kernel_view.picture.native.pixmap().width() >= 110
