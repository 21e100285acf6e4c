"""benchmarks.paper_preset_check's parts that run in seconds (the full check runs two engines: minutes)."""

from __future__ import annotations

import pytest

from benchmarks import paper_preset_check as check
from napari_hacbsr.core.plan import resolve


def test_the_paper_config_is_the_short_schedule_with_one_ssim_iteration():
    config = check.paper_config(scale=4, encoder="fallback", device="cpu", iterations=3, kernel_warmup=20, seed=0)
    plan = resolve(config, "cpu")
    assert (plan.sampling, plan.iterations, plan.ssim_iterations) == ("stride", 3, 1)
    assert plan.history_in_mse is True and plan.kernel_model == "paper"


def test_a_child_refuses_an_engine_from_another_tree(tmp_path):
    """The check compares two trees; an engine imported from elsewhere would compare nothing."""
    with pytest.raises(SystemExit, match="napari_hacbsr came from .* not from"):
        check.child(str(tmp_path), str(tmp_path / "out.npy"), "hacbsr")
    assert not (tmp_path / "out.npy").exists()
