"""Smoke test of benchmarks/anchor.py on a tiny anchor-shaped folder made here (not the shared data)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]


def _load_anchor():
    spec = importlib.util.spec_from_file_location("_bench_anchor", ROOT / "benchmarks" / "anchor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    anchor = _load_anchor()
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


def test_anchor_configs_use_the_stride_convention_and_presets():
    anchor = _load_anchor()
    paper = anchor.config_for("hacbsr-paper", 4, 1, None, None)
    default = anchor.config_for("hacbsr", 4, 1, None, None)
    mlmc = anchor.config_for("mlmc", 4, 1, 60, None)
    assert paper.sampling == default.sampling == mlmc.sampling == "stride"
    assert paper.kernel_prior == mlmc.for_device("cpu").kernel_prior == "mlmc"
    assert default.for_device("cpu").kernel_prior == "data"  # the engine's own HACBSR model
    assert (paper.outer_iterations, mlmc.outer_iterations) == (300, 40)  # proxies keep MLMC's 2/3
    lead = anchor.config_for("hacbsr-noise-free-mlmc-kernel", 2, 0, None, None).for_device("cpu")
    assert (lead.kernel_prior, lead.prior_optimizer, lead.ssim_iterations) == ("mlmc", "shared", 300)


def test_kernel_gradients_probe_writes_one_row_per_probed_iteration(tmp_path, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("_bench_kgrad", ROOT / "benchmarks" / "kernel_gradients.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder, _ = _anchor_folder(tmp_path, "tiny_moon", 2)
    monkeypatch.setattr(module.A, "DEFAULT_DIR", folder)  # (the shared `anchor` module: undone after the test)
    out = tmp_path / "grads.csv"
    assert module.main(["--image", "tiny_moon", "--at", "0", "2", "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["iteration"] for r in rows] == ["0", "2"]
    for row in rows:
        prior, ssim, mse, scaled = (float(row[k]) for k in ("prior", "one_minus_ssim", "mse", "scaled_mse"))
        assert min(prior, ssim, mse, scaled) > 0
        # scaled MSE: MSE's gradient times 1-SSIM / MSE (> 1 on [0, 1] data), so larger than MSE's
        assert scaled > 3 * mse
        assert row["git_commit"]
    assert "iteration=2" in capsys.readouterr().out
