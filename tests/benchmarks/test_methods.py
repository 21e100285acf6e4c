"""The benchmarks' method table (benchmarks.methods), the LR cache's names, and the package's layout."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from benchmarks.lr_cache import LRCache
from benchmarks.methods import ENGINE_METHODS, METHODS, label, method_config, paper_cell
from benchmarks.oracle import dip, forward_kernel, nonblind, oracle_of

from ..helpers import TINY

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "__init__")


def test_the_table_holds_todays_methods_in_report_order():
    assert list(METHODS) == [
        "bicubic",
        "bicubic-phase",
        "mlmc",
        "hacbsr",
        "hacbsr-paper",
        "hacbsr-noise-free",
        "hacbsr-ck",
        "hacbsr-cl",
        "hacbsr-ck-cl",
        "hacbsr-mlmc-kernel",
        "hacbsr-own-kernel",
        "hacbsr-fast",
        "oracle-nonblind",
        "oracle-dip",
    ]
    assert list(METHODS)[2:-2] == ENGINE_METHODS  # (the oracles need the true kernel besides a config)
    labels = [m.label for m in METHODS.values()]
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mlmc", {"mode": "mlmc", "use_cks": True, "use_history": True}),
        ("hacbsr", {"mode": "hacbsr", "use_cks": True, "use_history": True, "ssim_share": None}),
        ("hacbsr-paper", {"sampling": "stride", "history_in_mse": True, "ssim_share": 81 / 300}),
        ("hacbsr-noise-free", {"ssim_share": 1.0, "use_cks": True}),
        ("hacbsr-ck", {"use_cks": False, "use_history": True}),
        ("hacbsr-cl", {"use_cks": True, "use_history": False}),
        ("hacbsr-ck-cl", {"use_cks": False, "use_history": False}),
    ],
)
def test_method_config_builds_each_method_from_its_preset(name, expected):
    config = method_config(name, scale=3, seed=2)
    assert (config.scale, config.seed) == (3, 2)
    assert {field: getattr(config, field) for field in expected} == expected


def test_kernel_model_methods_pin_the_model():
    """Needs the RunPlan change's `kernel_model` field (fails before the lead's core change is merged)."""
    assert method_config("hacbsr-mlmc-kernel").kernel_model == "mlmc"
    assert method_config("hacbsr-own-kernel").kernel_model == "hacbsr"
    assert method_config("hacbsr").kernel_model is None


def test_overrides_win_over_the_methods_changes():
    assert method_config("hacbsr-ck", use_cks=True).use_cks is True
    assert method_config("hacbsr-paper", sampling="area").sampling == "area"
    assert method_config("mlmc", iterations=7).outer_iterations == 7


def test_baselines_retired_and_unknown_names_are_refused_by_name():
    with pytest.raises(ValueError, match="'bicubic' is a baseline"):
        method_config("bicubic")
    with pytest.raises(ValueError, match="unknown benchmark method 'hacbsr-kernel-mse'"):
        method_config("hacbsr-kernel-mse")
    assert label("hacbsr-kernel-mse") == "hacbsr-kernel-mse"  # (an old CSV row labels itself)
    assert label("hacbsr-ck") == "HACBSR (−CK)"


def test_paper_cells():
    assert paper_cell("bicubic", 2) == "27.80/0.695"
    assert paper_cell("hacbsr", 4, with_lpips=True) == "29.87/0.720/0.497"
    assert paper_cell("hacbsr-noise-free", 2) == "–"


def test_lr_cache_folders_keep_their_names(tmp_path):
    """Caches made by earlier versions stay valid: the folder name is the degradation settings'."""
    cache = LRCache(tmp_path, "bicubic", 96, 10 / 255)
    assert cache.folder(2, 0) == tmp_path / "bicubic_crop96_nmax0.03922_knoise0.000_q8" / "x2_seed0"
    assert LRCache(tmp_path, "stride", 0, 0.0, quantize=False).folder(4, 1).parent.name == (
        "stride_full_nmax0.00000_knoise0.000_float"
    )


@pytest.mark.parametrize("module", MODULES)
def test_every_benchmark_module_imports_as_part_of_the_package(module):
    source = (ROOT / "benchmarks" / f"{module}.py").read_text()
    assert "sys.path" not in source  # (the package is imported, never put on the path by hand)
    importlib.import_module(f"benchmarks.{module}")


def test_no_import_circle_and_paths_stay_engine_free():
    """`paths` (read by the check that runs an old engine) imports no engine module, and the quality report
    does not import the quality runner (the runner imports the report, not the other way round)."""
    code = (
        "import sys, benchmarks.paths; "
        "assert not [m for m in sys.modules if m.startswith('napari_hacbsr')], 'paths imports the engine'; "
        "import benchmarks.quality_report; "
        "assert 'benchmarks.quality' not in sys.modules, 'quality_report imports quality'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def blurred_case(scale=2):
    """A 48² HR texture, its anisotropic Gaussian kernel (11², the ×2 model's K) and the stride-protocol LR."""
    import torch

    from napari_hacbsr.core.degradation import forward_model

    yy, xx = np.mgrid[0:48, 0:48]
    hr = 0.5 + 0.25 * np.sin(xx / 2.1) * np.cos(yy / 3.3) + 0.15 * np.sin((xx + 2 * yy) / 1.7)
    t = np.arange(11) - 5
    kernel = np.exp(-(t[:, None] ** 2) / (2 * 1.6**2) - t[None, :] ** 2 / (2 * 0.9**2))
    kernel /= kernel.sum()
    lr = forward_model(torch.from_numpy(hr)[None, None], torch.from_numpy(kernel), scale)[0, 0].numpy()
    return hr, kernel, lr


def test_the_true_kernel_non_blind_solve_beats_the_cubic_on_a_blurred_image():
    from napari_hacbsr.core.degradation import phase_correct_bicubic
    from napari_hacbsr.core.metrics import psnr

    hr, kernel, lr = blurred_case()
    sr = nonblind(lr, kernel, 2, "stride", noise_sigma=0.0)
    cubic = np.clip(phase_correct_bicubic(lr, 2, "stride"), 0, 1)
    inner = (slice(6, -6), slice(6, -6))  # (the solve leaves the frame's wrap out)
    assert sr.shape == hr.shape and np.isfinite(sr).all()
    assert psnr(sr[inner], hr[inner]) > psnr(cubic[inner], hr[inner]) + 1.0


def test_the_oracle_dip_trains_the_image_prior_with_the_kernel_frozen_to_the_truth():
    _, kernel, lr = blurred_case()
    config = method_config("oracle-dip", scale=2, sampling="stride", **{**TINY, "inner_steps": 1, "kernel_warmup": 2})
    result = dip(lr.astype(np.float32), kernel, config)
    assert result.sr.shape == (48, 48) and np.isfinite(result.sr).all() and result.iterations_done == 3
    np.testing.assert_allclose(result.kernel, kernel, atol=1e-6)  # no kernel stage moved it


def test_the_oracles_are_named_and_the_stride_protocol_kernel_is_the_blur_itself():
    assert (oracle_of("oracle-nonblind"), oracle_of("oracle-dip"), oracle_of("hacbsr")) == ("nonblind", "dip", None)
    assert not METHODS["oracle-nonblind"].engine and METHODS["oracle-dip"].engine
    _, kernel, _ = blurred_case()
    np.testing.assert_array_equal(forward_kernel(kernel, 2, "stride"), kernel.astype(np.float32))
    effective = forward_kernel(kernel, 2, "bicubic")  # through MATLAB's cubic ↓2: K + 4s wide
    assert effective.shape == (19, 19) and abs(effective.sum() - 1) < 1e-5
