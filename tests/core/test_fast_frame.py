"""The fast path for whole frames (core.fast_frame): texture tiles, the two stages, Stop, and what "auto" picks."""

import numpy as np
import pytest
from scipy import ndimage

from napari_hacbsr.cli.report import summary
from napari_hacbsr.core import fast_frame
from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.choices import AUTO_TIME_BUDGET_S
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.fast_frame import iterate_fast
from napari_hacbsr.core.image import prepare_image
from napari_hacbsr.core.plan import resolve
from napari_hacbsr.core.resources import estimate_resources

from ..helpers import TINY, drain


def textured(h, w, seed=0):
    field = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((h, w)), 1.0)
    return (0.2 + 0.6 * (field - field.min()) / (field.max() - field.min())).astype(np.float32)


@pytest.fixture
def short_solve(monkeypatch):
    monkeypatch.setattr(fast_frame, "SOLVE_ITERATIONS", 8)


def test_the_fast_path_estimates_on_tiles_then_solves_the_whole_frame(short_solve):
    lr = textured(48, 100)
    plan = resolve(HACBSRConfig(scale=2, **TINY, reconstruction="fast"), "cpu", prepare_image(lr, 2))
    steps, result = drain(iterate_fast(prepare_image(lr, 2), plan))
    stages = [s.stage for s in steps]
    assert stages.index("reconstruct") > stages.index("iterate")  # estimate first, then the solve
    assert {s.tiles for s in steps if s.stage == "iterate"} == {fast_frame.ESTIMATE_TILES}
    assert result.reconstruction == "fast" and not result.stopped_early
    assert result.sr.shape == (96, 200) and np.isfinite(result.sr).all()
    assert result.kernel.shape == (11, 11) and result.kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert [s["stage"] for s in result.stages] == ["estimate", "reconstruct"]
    assert result.consistency_map.shape == (1, 48, 100) and (result.consistency_map >= 0).all()
    # the map is |A x - y| in the data's units; the recorded LR-consistency is its mean square in [0, 1] units
    span = result.normalization.high - result.normalization.low
    assert np.mean(result.consistency_map**2) == pytest.approx(result.lr_consistency * span**2, rel=1e-4)
    assert result.provenance()["reconstruction"] == "fast"
    # the CLI's line names both stages (not "2 of 1 tile(s)")
    iters = result.stages[0]["iterations"]
    assert f"kernel from 2 of 2 tile(s) × {iters} iterations, then 8 non-blind iterations" in summary(result)


def test_stop_in_the_estimate_keeps_the_cubic_and_in_the_solve_the_iterate(short_solve):
    lr = textured(48, 100)
    prepared = prepare_image(lr, 2)
    plan = resolve(HACBSRConfig(scale=2, **TINY, reconstruction="fast"), "cpu", prepared)
    _, stopped = drain(iterate_fast(prepared, plan, lambda: True))
    assert stopped.stopped_early and stopped.consistency_map is None
    cubic = drain(iterate_fast(prepared, plan, lambda: True))[1].sr
    np.testing.assert_array_equal(stopped.sr, cubic)  # the cubic upsample stands in
    solving = {"on": False}  # Stop once the solve has reported an iteration
    gen = iterate_fast(prepared, plan, lambda: solving["on"])
    while True:
        try:
            step = next(gen)
        except StopIteration as done:
            result = done.value
            break
        solving["on"] = solving["on"] or step.stage == "reconstruct"
    assert 1 <= result.iterations_done < fast_frame.SOLVE_ITERATIONS
    assert result.stopped_early and result.consistency_map is not None
    assert not np.array_equal(result.sr, cubic)  # the iterate, not the start


def test_auto_runs_full_hacbsr_when_its_estimate_fits_the_budget_else_fast():
    cfg = HACBSRConfig(scale=2, encoder="fallback")
    small = resolve(cfg, "cpu", lr_shape=(24, 24))
    large = resolve(cfg, "cpu", lr_shape=(1000, 1000))
    assert small.hacbsr_seconds < AUTO_TIME_BUDGET_S and small.reconstruction == "hacbsr"
    assert large.hacbsr_seconds > AUTO_TIME_BUDGET_S and large.reconstruction == "fast"
    assert resolve(cfg.replace(reconstruction="hacbsr"), "cpu", lr_shape=(1000, 1000)).reconstruction == "hacbsr"
    assert resolve(cfg.replace(reconstruction="fast"), "cpu", lr_shape=(24, 24)).reconstruction == "fast"
    assert resolve(cfg, "cpu").reconstruction == "hacbsr"  # no image: nothing to weigh
    fast = estimate_resources((1000, 1000), 2, cfg, "cpu")
    full = estimate_resources((1000, 1000), 2, cfg.replace(reconstruction="hacbsr"), "cpu")
    assert fast.reconstruction == "fast" and full.reconstruction == "hacbsr"
    assert fast.seconds < full.seconds / 20 and "fast path" in fast.summary()
    with pytest.raises(ValueError, match="reconstruction must be one of"):
        HACBSRConfig(reconstruction="quick")


def test_the_api_reaches_the_fast_path(short_solve):
    result = super_resolve(textured(56, 64), 2, **TINY, reconstruction="fast")
    assert result.reconstruction == "fast" and result.plan.reconstruction == "fast"
    assert result.sr.shape == (112, 128)


def test_a_frame_no_tile_of_which_passes_the_texture_rules_estimates_on_its_centre(short_solve):
    lr = textured(48, 48)
    lr[:, :6] = 0.0  # a dark limb in every candidate tile
    prepared = prepare_image(lr, 2)
    plan = resolve(HACBSRConfig(scale=2, **TINY, reconstruction="fast"), "cpu", prepared)
    _, result = drain(iterate_fast(prepared, plan))
    assert result.stages[0]["tiles"] == [[0, 0, 48, 48]] and result.sr.shape == (96, 96)
