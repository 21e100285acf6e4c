"""The resource estimate: tiles when the frame does not fit, refuses when nothing fits, the CLI prints it."""

import csv

import numpy as np
import pytest

import napari_hacbsr
from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.resources import (
    InsufficientMemoryError,
    estimate_resources,
    plan_tiles,
    run_peak_bytes,
)

from ..helpers import TINY

# full HACBSR (its tiles and refusals); on big frames "auto" would pick the fast path, which tiles itself
CFG = HACBSRConfig(scale=2, **TINY, reconstruction="hacbsr")


def test_console_function_is_exported_lazily():
    assert napari_hacbsr.estimate_resources is estimate_resources


def test_a_frame_that_fits_runs_untiled():
    est = estimate_resources((100, 100), 2, CFG, "cpu", budget_bytes=100e9)
    assert est.fits and est.tile is None and est.tiles == 1
    assert est.peak_bytes == pytest.approx(run_peak_bytes(200 * 200, CFG, "cpu"))
    assert est.seconds > 0 and "1 tile" in est.summary()


def test_a_frame_too_large_for_the_budget_is_tiled_within_it():
    budget = 3e9
    est = estimate_resources((1000, 1000), 2, CFG, "cpu", budget_bytes=budget)
    assert est.fits and est.tile is not None and est.tiles > 1
    assert est.peak_bytes <= budget
    assert run_peak_bytes((1000 * 2) ** 2, CFG, "cpu") > budget  # untiled would not have fitted
    larger = estimate_resources((1000, 1000), 2, CFG, "cpu", budget_bytes=2 * budget)
    assert larger.tile > est.tile and larger.tiles < est.tiles


def test_a_frame_that_cannot_fit_even_as_tiles_is_refused_with_a_message():
    est = estimate_resources((5000, 5000), 4, CFG, "cpu", budget_bytes=1.0e9)
    assert not est.fits and "the run was not started" in est.message and "5000×5000" in est.message
    with pytest.raises(InsufficientMemoryError, match="smaller region"):
        plan_tiles((5000, 5000), 4, CFG, 1.0e9, "cpu")
    calls = []
    with pytest.raises(InsufficientMemoryError, match="the run was not started"):
        super_resolve(
            np.random.default_rng(0).random((40, 40)), 2, config=CFG, memory_budget=1e6, callback=calls.append
        )
    assert calls == []  # refused before any step


def test_cli_prints_the_estimate_and_writes_the_kernel_map_for_a_region(tmp_path, capsys):
    from napari_hacbsr.cli import main  # (here: the estimate's tests do not need the CLI to import)

    rng = np.random.default_rng(1)
    from PIL import Image

    path = tmp_path / "frame.png"
    Image.fromarray((rng.random((70, 90)) * 255).astype(np.uint8)).save(path)
    args = [
        str(path),
        "--roi",
        "10,5,60,30",
        "--tile",
        "30",
        "--tile-overlap",
        "10",
        "--iterations",
        "1",
        "--inner-steps",
        "1",
        "--kernel-warmup",
        "2",
        "--encoder",
        "fallback",
        "--device",
        "cpu",
        "--quiet",
    ]
    assert main(["run", *args, "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "estimate: ≈" in err and "tiles (1×3 of 30 px)" in err
    import tifffile

    assert tifffile.imread(tmp_path / "out" / "frame_HACBSR_x2.tif").shape == (60, 120)
    assert tifffile.imread(tmp_path / "out" / "frame_HACBSR_kernel_map.tif").shape == (1, 3, 11, 11)
    with open(tmp_path / "out" / "frame_HACBSR_kernels.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["y0"], r["x0"], r["y1"], r["x1"]) for r in rows] == [
        ("5", "10", "35", "40"),
        ("5", "25", "35", "55"),
        ("5", "40", "35", "70"),
    ]  # LR boxes in the input's pixels (the region starts at row 5, column 10)
    assert all(float(r["fwhm_major_hr_px"]) >= float(r["fwhm_minor_hr_px"]) > 0 for r in rows)


def test_cli_refuses_a_region_outside_the_image(tmp_path, capsys):
    from PIL import Image

    from napari_hacbsr.cli import main

    path = tmp_path / "frame.png"
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(path)
    assert main(["run", str(path), "--roi", "40,0,20,20", "--device", "cpu"]) == 2
    assert "leaves the 50×50 image" in capsys.readouterr().err
