"""Tiled runs end to end on tiny images: equality with the untiled run, the kernel map, Stop, OOM."""

import numpy as np
import pytest

from napari_hacbsr.core import engine
from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.errors import OutOfMemoryError
from napari_hacbsr.core.image import prepare_image
from napari_hacbsr.core.tiling import cubic_fill, iterate_tiled

from ..helpers import TINY, drain

CFG = HACBSRConfig(scale=2, **{**TINY, "iterations": 2, "inner_steps": 2})


def image(h, w, seed=0):
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    return (0.5 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 4.0) + 0.05 * rng.standard_normal((h, w))).astype(np.float32)


def test_a_frame_that_fits_in_one_tile_gives_exactly_the_untiled_result():
    img = image(20, 24)
    _, plain = drain(engine.iterate(img, CFG))
    _, tiled = drain(iterate_tiled(img, CFG, tile=64))
    auto = super_resolve(img, 2, config=CFG, tile="auto")
    for other in (tiled, auto):
        assert np.array_equal(other.sr, plain.sr) and np.array_equal(other.kernel, plain.kernel)
    assert tiled.kernel_map.shape == (1, 1, 11, 11) and np.array_equal(tiled.kernel_map[0, 0], plain.kernel)
    assert tiled.tile_boxes.tolist() == [[[0, 0, 20, 24]]]


def test_tiled_run_yields_tiles_and_returns_a_kernel_map():
    img = image(40, 30)
    steps, result = drain(iterate_tiled(img, CFG, tile=30, overlap=10))
    tiles = [s for s in steps if s.stage == "tile"]
    assert [s.tile for s in tiles] == [1, 2] and all(s.tiles == 2 for s in steps)
    assert [s.tile_box for s in tiles] == [(0, 0, 60, 60), (20, 0, 80, 60)]
    assert all(s.sr.shape == (60, 60) for s in tiles)
    assert steps[0].stage == "setup" and steps[0].sr.shape == (80, 60)  # the frame's cubic upsample first
    assert result.sr.shape == (80, 60) and np.isfinite(result.sr).all() and not result.stopped_early
    assert result.kernel_map.shape == (2, 1, 11, 11) and result.tiles_done == 2
    np.testing.assert_allclose(result.kernel_map.sum(axis=(2, 3)), 1.0, atol=1e-4)
    assert not np.array_equal(result.kernel_map[0, 0], result.kernel_map[1, 0])  # each tile its own kernel
    assert result.tile_boxes.tolist() == [[[0, 0, 30, 30]], [[10, 0, 40, 30]]]
    # outside the overlap each tile's picture is the result
    np.testing.assert_array_equal(result.sr[:20], tiles[0].sr[:20])


class Poll:
    """should_stop that answers True from its n-th call on and counts every call."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self):
        self.calls += 1
        return self.calls >= self.n


@pytest.fixture
def counted(monkeypatch):
    counts = {"kernel_steps": 0, "forward": 0}
    kernel_step, forward = engine.Solver._kernel_step, engine.ImageGenerator.forward

    def kernel_step_counted(self, loss):
        counts["kernel_steps"] += 1
        return kernel_step(self, loss)

    def forward_counted(self, z):
        counts["forward"] += 1
        return forward(self, z)

    monkeypatch.setattr(engine.Solver, "_kernel_step", kernel_step_counted)
    monkeypatch.setattr(engine.ImageGenerator, "forward", forward_counted)
    return counts


def test_stop_during_warmup_ends_within_one_step_without_a_forward_pass(counted):
    stop = Poll(3)
    steps, result = drain(iterate_tiled(image(20, 20), CFG.replace(kernel_warmup=50), stop))
    assert stop.calls == 3 and counted["kernel_steps"] == 2  # two warm-up steps ran, the third was refused
    assert counted["forward"] == 0  # no generator pass after Stop (the picture is the cubic upsample)
    assert result.stopped_early and result.inner_steps_done == 0
    assert np.array_equal(result.sr, steps[0].sr)


def test_stop_during_iterations_ends_within_one_inner_step():
    warmup = CFG.kernel_warmup
    # polls: one per warm-up step, one before the history pass, one before the snapshot, one before the
    # first KL stage, then one before each inner step: the 6th after the warm-up stops before the third
    stop = Poll(warmup + 6)
    _, result = drain(iterate_tiled(image(20, 20), CFG.replace(iterations=5), stop))
    assert stop.calls == warmup + 6 and result.inner_steps_done == 2 and result.stopped_early


def test_stop_between_tiles_keeps_the_finished_tile_and_the_cubic_elsewhere():
    img = image(40, 30)
    seen = []

    def stop():
        return bool(seen)

    gen = iterate_tiled(img, CFG, stop, tile=30, overlap=10)
    while True:
        try:
            step = next(gen)
        except StopIteration as done:
            result = done.value
            break
        if step.stage == "tile":
            seen.append(step)
    assert len(seen) == 1 and result.stopped_early and result.tiles_done == 1
    assert np.isnan(result.kernel_map[1, 0]).all() and np.isfinite(result.kernel_map[0, 0]).all()
    fill = cubic_fill(prepare_image(img, 2), 2, CFG.sampling)
    np.testing.assert_array_equal(result.sr[60:], fill[60:])  # tile 2 alone there: never ran
    np.testing.assert_array_equal(result.sr[:20], seen[0].sr[:20])


def test_cpu_allocator_message_takes_the_out_of_memory_path(monkeypatch):
    def no_memory(self, kernel, use_ssim):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
            "you tried to allocate 2048000000 bytes. Error code 12 (Cannot allocate memory)"
        )

    img = image(40, 30)
    with monkeypatch.context() as patch:
        patch.setattr(engine.Solver, "image_step", no_memory)
        with pytest.raises(OutOfMemoryError, match="Memory has been released: try a smaller crop"):
            drain(iterate_tiled(img, CFG, tile=30, overlap=10))
    _, result = drain(iterate_tiled(img, CFG.replace(iterations=1), tile=30, overlap=10))  # the next run works
    assert result.tiles_done == 2
