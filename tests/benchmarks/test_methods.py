"""The benchmarks' method table (benchmarks.methods), the LR cache's names, and the package's layout."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.lr_cache import LRCache
from benchmarks.methods import ENGINE_METHODS, METHODS, label, method_config, paper_cell

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
    ]
    assert list(METHODS)[2:] == ENGINE_METHODS
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
