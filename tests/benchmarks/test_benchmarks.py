"""Smoke tests of the benchmark harness (benchmarks.quality, benchmarks.speed).

Tiny synthetic HR images in tmp_path, one scale, bicubic + one engine method at 2 iterations:
checks the CSV and Markdown content, the LR cache, and that a re-run resumes instead of
recomputing. Fast (seconds) on CPU.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def quality():
    from benchmarks import quality

    return quality


@pytest.fixture
def hr_dir(tmp_path: Path) -> Path:
    """Two 48×48 8-bit 'planetary' images: shaded discs (craters) on a smooth gradient."""
    from PIL import Image

    folder = tmp_path / "hr"
    folder.mkdir()
    yy, xx = np.mgrid[0:48, 0:48].astype(np.float64)
    rng = np.random.default_rng(0)
    for i, name in enumerate(("ceres_a.png", "moon_b.png")):
        img = 0.35 + 0.2 * (xx + (i + 1) * yy) / 150.0
        for _ in range(6):
            cy, cx, r = rng.uniform(6, 42), rng.uniform(6, 42), rng.uniform(3, 9)
            d = np.hypot(yy - cy, xx - cx)
            img += np.where(d < r, -0.15 * (1 - d / r) + 0.1 * (xx - cx) / r, 0.0)
        img += 0.02 * rng.standard_normal(img.shape)
        Image.fromarray(np.clip(img * 255, 0, 255).round().astype(np.uint8)).save(folder / name)
    return folder


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _argv(hr_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--hr-dir",
        str(hr_dir),
        "--out",
        str(out),
        "--cache-dir",
        str(out.parent / "cache"),
        "--scales",
        "2",
        "--crop",
        "0",
        "--limit",
        "0",
        "--seeds",
        "0",
        "--iterations",
        "2",
        "--kernel-warmup",
        "5",
        "--encoder",
        "fallback",
        "--device",
        "cpu",
        "--quiet",
        *extra,
    ]


def test_quality_smoke_csv_markdown_and_resume(quality, hr_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    argv = _argv(hr_dir, out, "--methods", "bicubic", "hacbsr")
    assert quality.main(argv) == 0

    rows = _rows(out / "results.csv")
    assert len(rows) == 4  # 2 images x 1 scale x 2 methods x 1 seed
    assert {(r["image"], r["method"]) for r in rows} == {
        (i, m) for i in ("ceres_a", "moon_b") for m in ("bicubic", "hacbsr")
    }
    for r in rows:
        assert r["scale"] == "2" and r["protocol"] == "bicubic" and r["seed"] == "0"
        for key in ("psnr_y", "ssim_y", "psnr_gray", "ssim_gray", "wall_s", "peak_mem_mb"):
            assert math.isfinite(float(r[key])), (key, r[key])
        # Y of replicated gray = gray + 20 log10(255/219) dB (spec §4.1)
        assert float(r["psnr_y"]) - float(r["psnr_gray"]) == pytest.approx(1.3219, abs=0.02)
        assert r["kernel_psnr"] == ""  # bicubic protocol: no kernel PSNR
        assert r["lpips"] == "N/A" or 0.0 <= float(r["lpips"]) <= 1.5
    engine_rows = [r for r in rows if r["method"] == "hacbsr"]
    assert all(r["iterations"] == "2" and r["device"] == "cpu" for r in engine_rows)
    assert all(r["encoder"].startswith("fallback") for r in engine_rows)
    assert {r["body"] for r in rows} == {"Ceres", "Moon"}
    assert all(r["git_commit"] for r in rows)  # every row names the code that made it
    run = json.loads((out / "runs" / "x2" / "hacbsr" / "ceres_a_seed0.json").read_text())
    assert "benchmarks.quality" in json.dumps(run)  # the provenance names the benchmark and its method

    # LR cache: one npz + params JSON per image, keyed by protocol/crop/noise/scale/seed
    cached = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(cached) == 2
    params = json.loads(cached[0].read_text())
    assert params["protocol"] == "bicubic" and params["scale"] == 2 and "noise_sigma" in params

    md = (out / "results.md").read_text()
    assert "| Bicubic |" in md and "| HACBSR |" in md
    assert "27.80/0.695" in md  # the paper's Ceres-50 bicubic x2 figure, labelled as such
    assert "Ceres-50" in md and "## ×2" in md
    assert (out / "results_x2.md").is_file()
    assert (out / "psnr_gain.png").stat().st_size > 0
    assert (out / "visual_grid.png").stat().st_size > 0
    assert (out / "images" / "x2" / "hacbsr" / "ceres_a_seed0_kernel.npy").is_file()

    # Resume: nothing is recomputed when every row exists ...
    def boom(*args, **kwargs):
        raise AssertionError("a finished run was recomputed")

    monkeypatch.setattr(quality, "run_one", boom)
    assert quality.main(argv) == 0
    assert len(_rows(out / "results.csv")) == 4
    monkeypatch.undo()

    # ... and only the missing row is redone after a lost row (crash mid-run).
    with open(out / "results.csv", newline="") as fh:
        lines = fh.readlines()
    (out / "results.csv").write_text("".join(lines[:-1]))
    lost = rows[-1]
    calls = []
    real = quality.run_one

    def spy(args, method, pair, scale, seed, label, lpips_metric):
        calls.append(method)
        return real(args, method, pair, scale, seed, label, lpips_metric)

    monkeypatch.setattr(quality, "run_one", spy)
    assert quality.main(argv) == 0
    assert calls == [lost["method"]]
    again = _rows(out / "results.csv")
    assert len(again) == 4
    redone = again[-1]
    assert (redone["image"], redone["method"]) == (lost["image"], lost["method"])
    # the LR set is cached and the engine is seeded: the redone row reproduces the lost one
    assert float(redone["psnr_y"]) == pytest.approx(float(lost["psnr_y"]), abs=1e-3)


def test_quality_refuses_to_mix_settings(quality, hr_dir, tmp_path):
    out = tmp_path / "out"
    assert quality.main(_argv(hr_dir, out, "--methods", "bicubic")) == 0
    with pytest.raises(SystemExit, match="different settings"):
        quality.main(_argv(hr_dir, out, "--methods", "bicubic", "--protocol", "stride"))
    # --overwrite discards the old CSV and starts again
    argv = _argv(hr_dir, out, "--methods", "bicubic", "--protocol", "stride", "--overwrite")
    assert quality.main(argv) == 0
    rows = _rows(out / "results.csv")
    assert len(rows) == 2 and {r["protocol"] for r in rows} == {"stride"}


def test_quality_report_leaves_out_rows_of_retired_methods(quality, hr_dir, tmp_path):
    """An old CSV with a method no longer in benchmarks/methods.py still reports, and says what it left out."""
    out = tmp_path / "out"
    argv = _argv(hr_dir, out, "--methods", "bicubic")
    assert quality.main(argv) == 0
    rows = _rows(out / "results.csv")
    with open(out / "results.csv", "a", newline="") as fh:
        csv.DictWriter(fh, fieldnames=list(rows[0])).writerow({**rows[0], "method": "hacbsr-kernel-mse"})
    assert quality.main([*argv, "--report-only"]) == 0
    md = (out / "results.md").read_text()
    assert "Rows of retired methods left out: hacbsr-kernel-mse." in md
    assert "| Bicubic |" in md and "hacbsr-kernel-mse |" not in md


def test_speed_worker_and_report_smoke():
    from benchmarks import speed

    spec = {
        "variant": "hacbsr",
        "size": 48,
        "scale": 2,
        "device": "cpu",
        "precision": "fp32",
        "encoder": "fallback",
        "warmup": 0,
        "repeats": 1,
        "rounds": 3,
        "threads": None,
    }
    res = speed.worker(spec)
    for key in (
        "bare_dip_step",
        "image_step",
        "fc_term",
        "kl_stage",
        "meta_update",
        "history_update",
        "outer_iteration",
        "inner_step_amortised",
    ):
        assert res[key] >= 0 and math.isfinite(res[key]), key
    assert res["bare_dip_step"] > 0 and res["ratio_vs_bare"] > 0
    assert res["encoder"].startswith("fallback") and res["calls_per_outer"]["image_step"] == 5
    args = speed.build_parser().parse_args(["--sizes", "48", "--scale", "2"])
    md = speed.report(  # (benchmarks.speed_report's, as speed.py calls it)
        [res, {**spec, "variant": "mlmc", "error": "timeout"}],
        {
            "host_cpu": "cpu",
            "cpu_count": 2,
            "torch_threads": 2,
            "gpu": None,
            "torch": "x",
            "python": "3",
            "git_commit": None,
            "date": "today",
        },
        args,
    )
    assert "ratio vs bare" in md and "Breakdown of one amortised inner step — hacbsr" in md
    assert "Not measured" in md and "timeout" in md


@pytest.mark.parametrize("protocol", ["bicubic", "stride"])
def test_quality_runs_the_known_kernel_bounds(quality, hr_dir, tmp_path, protocol):
    """The oracle rows get the protocol's true forward kernel (bicubic: through the cubic's ↓s) and noise."""
    out = tmp_path / "out"
    argv = _argv(hr_dir, out, "--methods", "bicubic-phase", "oracle-nonblind", "oracle-dip", "--protocol", protocol)
    assert quality.main([*argv, "--images", "ceres_a"]) == 0
    by = {r["method"]: r for r in _rows(out / "results.csv")}
    assert set(by) == {"bicubic-phase", "oracle-nonblind", "oracle-dip"}
    assert float(by["oracle-nonblind"]["psnr_y"]) > float(by["bicubic-phase"]["psnr_y"])
    assert by["oracle-dip"]["iterations"] == "2" and math.isfinite(float(by["oracle-dip"]["psnr_y"]))
