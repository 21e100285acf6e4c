"""Stop answers within one inner step in every stage (issue 28 item 5).

Before the fix three full generator passes ran without polling Stop: the history features after the
kernel warm-up, the snapshot after it, and the fit-weighted KL stage at the start of each outer
iteration. On a whole frame (a ~1062² HR tile) each pass took seconds, so Stop waited up to a minute.
The engine is driven with a ``should_stop`` that flips after N polls, for every N of a full run, and
no generator pass may start after the flip.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr.core import engine
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.networks import ImageGenerator
from napari_hacbsr.napari.run import HACBSRRun

from ..helpers import TINY, drain

TIMEOUT_MS = 240_000


def _image(shape=(20, 20)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (100 + 50 * np.sin(xx / 2.0) * np.cos(yy / 3.0)).astype(np.float32)


class FlipAfter:
    """A should_stop that says "stop" from its `n`-th poll on, and counts generator passes after that."""

    def __init__(self, n: int) -> None:
        self.n, self.polls, self.passes_after = n, 0, 0

    @property
    def flipped(self) -> bool:
        return self.polls >= self.n

    def __call__(self) -> bool:
        self.polls += 1
        return self.flipped


@pytest.mark.parametrize("kernel_model", [None, "mlmc"], ids=["hacbsr", "fit-weighted-kl"])
def test_no_generator_pass_starts_after_stop_in_any_stage(monkeypatch, kernel_model):
    config = HACBSRConfig(
        scale=2, **{**TINY, "iterations": 2, "inner_steps": 2, "kernel_warmup": 2}, kernel_model=kernel_model
    )
    assert config.history_enabled  # the history pass after the warm-up is one of the stages under test
    forward = ImageGenerator.forward
    stopper: FlipAfter | None = None

    def counted(self, z):
        if stopper is not None and stopper.flipped:
            stopper.passes_after += 1
        return forward(self, z)

    monkeypatch.setattr(ImageGenerator, "forward", counted)
    full = FlipAfter(10**9)
    drain(engine.iterate(_image(), config, full))
    assert full.polls >= 8  # warm-up, history, snapshot, then per outer iteration the KL stage and 2 inner steps
    for n in range(1, full.polls + 1):
        stopper = FlipAfter(n)
        _, result = drain(engine.iterate(_image(), config, stopper))
        assert result.stopped_early, n
        assert stopper.passes_after == 0, f"stop at poll {n}: {stopper.passes_after} generator pass(es) after Stop"
        assert np.isfinite(result.sr).all()  # the estimate (or the cubic stand-in) is kept


def test_a_stopped_whole_frame_adds_no_kernel_map_for_tiles_that_never_ran(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    source = viewer.add_image(_image((40, 30)), name="frame")
    cfg = HACBSRConfig(scale=2, **{**TINY, "iterations": 200, "inner_steps": 1})
    run = HACBSRRun(viewer, source, cfg, tile=30, progress=False, notify=False)
    assert run.estimate.tiles > 1
    run.start()
    qtbot.waitUntil(lambda: run.last_step is not None and run.last_step.iteration >= 1, timeout=TIMEOUT_MS)
    run.stop()
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.result.stopped_early and run.result.tiles_done == 0
    assert run.kernel_map_layers == []
    assert not [layer.name for layer in viewer.layers if layer.name.startswith(f"{run.kernel_name}_")]
    assert run.sr_name in viewer.layers  # the frame keeps its cubic stand-in


def test_the_status_says_stopping_as_soon_as_stop_is_pressed(make_napari_viewer_proxy, qtbot):
    from napari_hacbsr.napari.widget import STOPPING, HACBSRWidget

    viewer = make_napari_viewer_proxy()
    viewer.add_image(_image((24, 24)), name="frame")
    widget = HACBSRWidget(viewer)
    viewer.window.add_dock_widget(widget, name="HACBSR test")
    widget.device.value, widget.iterations.value, widget.encoder.value = "cpu", 200, "fallback"
    widget.kernel_warmup.value, widget.inner_steps.value = 2, 1
    widget._on_run()
    run = widget._run
    qtbot.waitUntil(lambda: run.setup_step is not None, timeout=TIMEOUT_MS)  # "Warming up…" is showing
    widget._on_stop()
    assert STOPPING in widget.status.value
    qtbot.waitUntil(lambda: run.done, timeout=TIMEOUT_MS)
    assert run.result.stopped_early and "stopped by the user" in widget.status.value
