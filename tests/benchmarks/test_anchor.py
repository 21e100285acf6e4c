"""Smoke tests of benchmarks.anchor on a tiny anchor-shaped folder made here (not the shared data)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import anchor


def _anchor_folder(tmp_path: Path, stem: str, scale: int) -> tuple[Path, np.ndarray]:
    """HR gray PNG, LR RGBA PNG made by the README's recipe (stride protocol, floor to 8 bits), kernel .npy."""
    from PIL import Image

    from napari_hacbsr.core.degradation import KernelSampler, forward_model

    rng = np.random.default_rng(0)
    rr, cc = np.indices((36, 36))
    hr = np.clip(0.5 + 0.3 * np.sin(rr / 3.0) * np.cos(cc / 4.0) + 0.05 * rng.random((36, 36)), 0, 1)
    hr8 = np.round(hr * 255).astype(np.uint8)
    kernel = KernelSampler.data(scale, rng)()
    lr = forward_model(torch.from_numpy(hr8 / 255.0)[None, None], torch.from_numpy(kernel), scale)[0, 0].numpy()
    lr8 = np.floor(255 * np.clip(lr, 0, 1)).astype(np.uint8)
    folder = tmp_path / f"stride_x{scale}"
    for sub in ("hr", "lr", "kernel"):
        (folder / sub).mkdir(parents=True)
    Image.fromarray(np.stack([hr8] * 3, -1)).save(folder / "hr" / f"{stem}.png")
    Image.fromarray(np.stack([lr8] * 3 + [np.full_like(lr8, 255)], -1)).save(folder / "lr" / f"{stem}.png")
    np.save(folder / "kernel" / f"{stem}.npy", kernel)
    return tmp_path, kernel


def test_anchor_benchmark_rows_resume_and_report(tmp_path, capsys):
    folder, kernel = _anchor_folder(tmp_path, "tiny_moon", 2)
    out = tmp_path / "anchor.csv"
    argv = ["--anchor-dir", str(folder), "--csv", str(out), "--scales", "2", "--images", "tiny_moon"]
    argv += ["--methods", "bicubic", "bicubic-phase", "hacbsr", "--seeds", "0", "1"]
    argv += ["--iterations", "2", "--kernel-warmup", "3"]
    assert anchor.main(argv) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["method"], r["seed"]) for r in rows] == [
        ("bicubic", "0"),
        ("bicubic-phase", "0"),
        ("hacbsr", "0"),
        ("hacbsr", "1"),
    ]
    by = {(r["method"], r["seed"]): r for r in rows}
    # stride data: the phase-correct cubic beats the misregistered torch bicubic
    assert float(by[("bicubic-phase", "0")]["psnr_y"]) > float(by[("bicubic", "0")]["psnr_y"])
    true_rms = anchor.kernel_width_of(kernel)
    for seed in ("0", "1"):
        row = by[("hacbsr", seed)]
        assert row["iterations"] == "2" and row["git_commit"]
        assert float(row["k_rms_true"]) == float(f"{true_rms:.3f}")
        assert float(row["k_rms"]) > 0 and float(row["s_per_iter"]) > 0 and float(row["warmup_rms"]) > 0
    text = capsys.readouterr().out
    assert "| tiny_moon | hacbsr | 2 | 2 |" in text and "±" in text
    assert anchor.main(argv) == 0  # resume: nothing re-run
    assert len(list(csv.DictReader(out.open()))) == 4


def test_anchor_runs_the_known_kernel_bounds_with_the_true_kernel(tmp_path):
    folder, kernel = _anchor_folder(tmp_path, "tiny_moon", 2)
    out = tmp_path / "anchor.csv"
    argv = ["--anchor-dir", str(folder), "--csv", str(out), "--scales", "2", "--images", "tiny_moon", "--seeds", "0"]
    argv += ["--methods", "bicubic-phase", "oracle-nonblind", "oracle-dip", "--iterations", "2", "--kernel-warmup", "2"]
    assert anchor.main(argv) == 0
    by = {r["method"]: r for r in csv.DictReader(out.open())}
    assert float(by["oracle-nonblind"]["psnr_y"]) > float(by["bicubic-phase"]["psnr_y"])  # (the true kernel)
    dip = by["oracle-dip"]
    assert dip["iterations"] == dip["iterations_done"] == "2" and np.isfinite(float(dip["psnr_y"]))
    assert float(dip["k_rms"]) == pytest.approx(anchor.kernel_width_of(kernel), abs=1e-3)  # the kernel never moved


def test_anchor_report_keeps_rows_of_retired_methods_last():
    """An old CSV's rows of a method no longer in the table still report (after today's), never crash."""
    rows = [
        {
            "image": "a",
            "scale": "2",
            "method": m,
            "seed": "0",
            "iterations": "2",
            "psnr_y": p,
            "ssim_y": "0.5",
            "k_rms_true": "1.0",
        }
        for m, p in (("hacbsr-kernel-mse", "30.0"), ("hacbsr", "31.0"))
    ]
    text = anchor.report(rows)
    assert text.index("| a | hacbsr | 2 |") < text.index("| a | hacbsr-kernel-mse | 2 |")
    assert "| **mean of images** | hacbsr-kernel-mse | 2 |  | 30.00 |" in text


def test_anchor_configs_use_the_stride_convention_and_presets():
    paper = anchor.config_for("hacbsr-paper", 4, 1, None, None)
    default = anchor.config_for("hacbsr", 4, 1, None, None)
    mlmc = anchor.config_for("mlmc", 4, 1, 60, None)
    assert paper.sampling == default.sampling == mlmc.sampling == "stride"
    assert (paper.seed, paper.scale, paper.device, paper.encoder) == (1, 4, "cpu", "fallback")
    assert (paper.outer_iterations, default.outer_iterations, mlmc.outer_iterations) == (300, 300, 40)
    assert mlmc.mode == "mlmc"  # (proxies keep MLMC's 2/3 of HACBSR's N)
    assert anchor.config_for("hacbsr", 2, 0, None, 7).kernel_warmup == 7
    assert paper.history_in_mse is True and default.history_in_mse is None  # the preset's, the mode's


def test_anchor_pins_one_kernel_model_per_method():
    """Needs the RunPlan change's `kernel_model` field (fails before the lead's core change is merged)."""
    assert anchor.config_for("hacbsr-mlmc-kernel", 4, 0, None, None).kernel_model == "mlmc"
    assert anchor.config_for("hacbsr-own-kernel", 2, 0, None, None).kernel_model == "hacbsr"
    assert anchor.config_for("hacbsr", 2, 0, None, None).kernel_model is None  # the rule picks by scale


def test_anchor_refuses_a_retired_method(capsys):
    with pytest.raises(SystemExit):
        anchor.main(["--methods", "hacbsr-kernel-mse", "--report-only", "--csv", "/nonexistent.csv"])
    assert "invalid choice: 'hacbsr-kernel-mse'" in capsys.readouterr().err


def test_trajectory_writes_one_row_per_outer_iteration(tmp_path, monkeypatch):
    from benchmarks import trajectory

    folder, _ = _anchor_folder(tmp_path, "tiny_moon", 2)
    monkeypatch.setattr(anchor, "DEFAULT_DIR", folder)
    out = tmp_path / "trace.csv"
    argv = ["--scale", "2", "--image", "tiny_moon", "--method", "hacbsr-ck", "--iterations", "2", "--csv", str(out)]
    assert trajectory.main([*argv, "--set", "kernel_warmup=3"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["iteration"] for r in rows] == ["1", "2"]
    assert {r["method"] for r in rows} == {"hacbsr-ck kernel_warmup=3"}
    assert all(float(r["psnr_y"]) > 10 and float(r["k_rms"]) > 0 and r["git_commit"] for r in rows)
