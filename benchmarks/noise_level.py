"""Can the LR image's own noise estimate tell noise-free from noisy data? (issue 8)

    python -m benchmarks.noise_level

1-SSIM for the whole run is best on noise-free data and fits the noise of noisy data, so a run picks
its loss schedule from the LR's noise level (`core.noise`, the gate `config.NOISE_GATE`). This prints,
next to the true σ: scikit-image's wavelet estimate (`skimage.restoration.estimate_sigma`, needs
PyWavelets from the `bench` extra) in 8-bit levels, and the engine's own (`core.noise`, the spectrum's
corner band) as the run reads it, a fraction of the prepared LR's value range, with the gate's choice;
for: the MLMC anchor LR files (noise-free, ×2 and ×4), the held-out stride images (noise-free, ×2 and
×4, seeds 0, 1, 2) and the bicubic protocol with σ ~ U(0, 10/255) (the quality benchmark's CPU-tier images and its
cached LR, ×2/×3/×4, seeds 0, 1, 2). Writes bench_out/noise_level.csv with the commit, and
bench_out/noise_level_white.csv: the estimate's bias and scatter on white noise per image side.
docs/algorithm.md ("The loss schedule's gate") reads the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import _common as C
from . import anchor as A
from .lr_cache import LRCache
from .quality_settings import CPU_IMAGES, DEFAULT_NOISE_MAX

ANCHOR_STEMS = (
    "ceres_dawnfc_ceres1k_0001",
    "europa_galileossi_E6ESDRKLIN01_y1152x0832",
    "moon_lrocnac_M115143943RE_cal_echo_2_2",
)
HELDOUT_STEMS = (
    "ceres_dawnfc_ceres1k_0003",
    "mars_hirise_ESP_037117_1755_y1408x0640",
    "europa_galileossi_C0374649039R",
    "moon_lrocnac_M1183658592LE_cal_echo_23_0",
)
CROP = 96  # the CPU tier's crop (quality_settings.PRESETS["cpu"])


def estimator():
    try:
        import pywt  # noqa: F401  (estimate_sigma imports it only when called)
        from skimage.restoration import estimate_sigma
    except ImportError as exc:
        raise SystemExit(f"{exc}\nInstall the benchmark extra: pip install -e '.[bench]'") from exc
    return estimate_sigma


def simulated(stem: str, scale: int, protocol: str, noise_max: float, seed: int = 0) -> tuple[np.ndarray, float]:
    """The LR image the quality benchmark builds (and caches) for (stem, scale, seed; 8-bit) and its true noise σ."""
    path = next(p for p in C.DEFAULT_HR_DIR.iterdir() if p.stem == stem)
    cache = LRCache(C.BENCH_OUT / "lr_cache", protocol, CROP, noise_max, kernel_noise=0.0, quantize=True)
    pair = cache.pair(path, scale, seed)
    return pair["lr"], float(pair["params"]["noise_sigma"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.noise_level",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--csv", type=Path, default=C.BENCH_OUT / "noise_level.csv")
    args = p.parse_args(argv)
    from napari_hacbsr.core.config import NOISE_GATE, HACBSRConfig
    from napari_hacbsr.core.image import prepare_image
    from napari_hacbsr.core.noise import estimate_noise_sigma
    from napari_hacbsr.core.plan import resolve

    estimate_sigma = estimator()
    rows = []

    def add(data: str, stem: str, scale: int, lr: np.ndarray, sigma: float, seed: int = 0) -> None:
        gray = lr if lr.ndim == 2 else lr.mean(axis=-1)
        prepared = prepare_image(lr, scale, -1 if lr.ndim == 3 else None)
        ours = estimate_noise_sigma(prepared.y, prepared.mask)
        low, high = prepared.normalization.low, prepared.normalization.high  # (LR files in [0, 1])
        schedule = resolve(HACBSRConfig(scale=scale, iterations=300, lr_noise=ours), "cpu").ssim_iterations
        rows.append(
            {
                "data": data,
                "image": stem,
                "scale": scale,
                "seed": seed,
                "lr_shape": "x".join(map(str, gray.shape)),
                "true_sigma_8bit": round(255 * sigma, 3),
                "true_sigma_pct_of_range": round(100 * sigma / (high - low), 3),
                "skimage_sigma_8bit": round(255 * float(estimate_sigma(gray)), 3),
                "corner_sigma_pct_of_range": round(100 * ours, 3),
                "gate_pct": 100 * NOISE_GATE,
                "ssim_iterations_of_300": schedule,
            }
        )

    for scale in (2, 4):
        for stem in ANCHOR_STEMS:
            add("anchor (stride, noise-free)", stem, scale, A.load_pair(A.DEFAULT_DIR, scale, stem)["lr"], 0.0)
    for scale in (2, 4):
        for seed in (0, 1, 2):  # (each seed draws its own true kernel)
            for stem in HELDOUT_STEMS:
                lr, sigma = simulated(stem, scale, "stride", 0.0, seed)
                add("held-out (stride, noise-free)", stem, scale, lr, sigma, seed)
    for scale in (2, 3, 4):
        for seed in (0, 1, 2):
            for stem in CPU_IMAGES:
                lr, sigma = simulated(stem, scale, "bicubic", DEFAULT_NOISE_MAX, seed)
                add("bicubic protocol, σ ~ U(0, 10/255)", stem, scale, lr, sigma, seed)
    C.print_and_write_rows(args.csv, rows)
    C.print_and_write_rows(args.csv.with_name(args.csv.stem + "_white.csv"), white_noise_scatter())
    return 0


def white_noise_scatter(draws: int = 200, sigma: float = 0.02) -> list[dict[str, object]]:
    """The corner estimate on pure white noise: its bias and relative scatter per image side (seeded)."""
    from napari_hacbsr.core.noise import estimate_noise_sigma

    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    for side in (12, 24, 48, 96, 200):
        ratios = np.array([estimate_noise_sigma(sigma * rng.standard_normal((side, side))) for _ in range(draws)])
        ratios /= sigma
        rows.append({"side": side, "draws": draws, "mean": round(ratios.mean(), 3), "std": round(ratios.std(), 3)})
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
