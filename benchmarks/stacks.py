"""Issue 29's multi-frame stacks measured on simulated stacks of the shared planetary images.

    python -m benchmarks.stacks                      # T = 4, ×2 and ×3, seeds 0-2, the IMAGES below
    python -m benchmarks.stacks --frames 4 9 --scales 2 3 --seeds 0 1 2 --crop 192 --suffix _full

Each stack: `core.stack_sim.simulate_stack` on a centre crop (HR side `--crop`), shifts U(−2, 2) LR px, one
data-range kernel per frame, gain U(0.9, 1.1), white noise σ = 5/255. Rows (PSNR-Y and the Proba-V cPSNR,
the PSNR after removing the mean brightness bias; shave s px):
- cubic: the phase-correct cubic of the reference frame;
- single-fast: HACBSR's fast path on the reference frame alone (`reconstruction="fast"`);
- ibp-true: iterative back-projection (Landweber, step 1/‖ΣAᵀA‖, 50 iterations) with the TRUE shifts and kernels;
- stack: HACBSR's stack path end to end (`super_resolve(frames, frame_axis=0)`: registration, a kernel per
  frame, the multi-frame solve), with its registration RMS error against the true shifts.
Images are none of the three MLMC anchors. CSV: benchmarks/results/stacks/stacks<suffix>.csv with the commit.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks import _common as C
from benchmarks.paths import DEFAULT_HR_DIR
from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.degradation import centre_crop, forward_model, phase_correct_bicubic
from napari_hacbsr.core.metrics import evaluate_sr
from napari_hacbsr.core.stack_sim import simulate_stack
from napari_hacbsr.core.stack_solve import shifted_kernel

OUT = C.REPO_ROOT / "benchmarks" / "results" / "stacks"
IMAGES = ("mars_ctx_P17_007703_2313", "moon_lrocnac_M1155395732_mosaic_train_small", "ceres_dawnfc_ceres1k_0003")
NOISE = 5.0 / 255.0
IBP_ITERATIONS = 50


def cpsnr(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    """PSNR (8-bit peak, shave s) after adding the mean HR − SR difference to the SR (brightness bias)."""
    s = int(scale)
    a, b = sr[s:-s, s:-s].astype(np.float64), hr[s:-s, s:-s].astype(np.float64)
    a = a + (b - a).mean()
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def ibp(frames: np.ndarray, kernels: np.ndarray, shifts: np.ndarray, gains, offsets, scale: int) -> np.ndarray:
    """Landweber back-projection onto the reference grid with the true shifts, kernels and photometry."""
    s = int(scale)
    ops = []
    for t in range(len(frames)):
        whole = np.round(shifts[t]).astype(int)
        k = torch.from_numpy(shifted_kernel(kernels[t], tuple((shifts[t] - whole) * s)))
        valid = np.zeros(frames[t].shape)  # frame pixels whose reference position is inside the frame (no wrap)
        h, w = valid.shape
        valid[max(-whole[0], 0) : h - max(whole[0], 0), max(-whole[1], 0) : w - max(whole[1], 0)] = 1
        y = torch.from_numpy(np.ascontiguousarray(frames[t]))[None, None].double()
        ops.append((y, k.double(), whole, t, torch.from_numpy(valid)[None, None]))
    x = torch.from_numpy(phase_correct_bicubic(frames[0], s, "stride", channel_axis=None))[None, None].double()

    def gradient(z: torch.Tensor) -> torch.Tensor:
        z = z.detach().requires_grad_(True)
        energy = 0.0
        for y, k, whole, t, valid in ops:
            pred = gains[t] * forward_model(z, k, s) + offsets[t]
            moved = torch.roll(pred, shifts=(-int(whole[0]), -int(whole[1])), dims=(2, 3))  # frame t's grid
            energy = energy + 0.5 * (((moved - y) * valid) ** 2).sum()
        (grad,) = torch.autograd.grad(energy, z)
        return grad

    probe = torch.rand_like(x)  # power iteration for ‖Σ AᵀA‖: the largest step that cannot diverge
    for _ in range(15):
        probe = gradient(probe) - gradient(torch.zeros_like(x))
        norm = probe.norm()
        probe = probe / norm
    step = 1.0 / float(norm)
    for _ in range(IBP_ITERATIONS):
        x = (x - step * gradient(x)).detach()
    return np.clip(x[0, 0].numpy(), 0, 1)


def measure(stem: str, scale: int, frames: int, seed: int, crop: int) -> list[dict]:
    hr = centre_crop(C.load_gray01(DEFAULT_HR_DIR / f"{stem}.png"), crop)
    st = simulate_stack(hr, scale, frames, seed=C.derived_seed(stem, scale, seed), noise_sigma=NOISE, photometry=0.1)
    base = {"image": stem, "scale": scale, "frames": frames, "seed": seed, "lr": f"{st.frames.shape[1]}²"}
    rows = []

    def row(method: str, sr: np.ndarray, seconds: float, **extra) -> None:
        score = evaluate_sr(sr, st.hr, scale)
        rows.append({**base, "method": method, "psnr_y": round(score["psnr_y"], 2),
                     "cpsnr": round(cpsnr(sr, st.hr, scale), 2), "ssim_y": round(score["ssim_y"], 4),
                     "seconds": round(seconds, 1), **extra})  # fmt: skip

    t0 = time.perf_counter()
    row("cubic", phase_correct_bicubic(st.frames[0], scale, "stride", channel_axis=None), time.perf_counter() - t0)
    t0 = time.perf_counter()
    single = super_resolve(st.frames[0], scale, reconstruction="fast", device="cpu", seed=seed, encoder="fallback")
    row("single-fast", single.sr, time.perf_counter() - t0)
    t0 = time.perf_counter()
    row("ibp-true", ibp(st.frames, st.kernels, st.shifts, st.gains, st.offsets, scale), time.perf_counter() - t0)
    t0 = time.perf_counter()
    result = super_resolve(st.frames, scale, frame_axis=0, device="cpu", seed=seed, encoder="fallback")
    found = np.array([f["shift"] for f in result.frames])
    error = float(np.sqrt(np.mean(np.sum((found - st.shifts) ** 2, axis=1)[1:])))
    refused = sum(not f["accepted"] for f in result.frames)
    row("stack", result.sr, time.perf_counter() - t0, registration_rms_lr_px=round(error, 4), refused=refused)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=list(IMAGES))
    parser.add_argument("--frames", nargs="+", type=int, default=[4])
    parser.add_argument("--scales", nargs="+", type=int, default=[2, 3])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--crop", type=int, default=192, help="HR side of the centre crop each stack is made of")
    parser.add_argument("--suffix", default="")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    for stem in args.images:
        for scale in args.scales:
            for frames in args.frames:
                for seed in args.seeds:
                    rows.extend(measure(stem, scale, frames, seed, args.crop))
                    print(rows[-1], flush=True)
    fields = sorted({k for r in rows for k in r}, key=lambda k: list(rows[-1]).index(k) if k in rows[-1] else 99)
    C.print_and_write_rows(OUT / f"stacks{args.suffix}.csv", [{k: r.get(k, "") for k in fields} for r in rows])


if __name__ == "__main__":
    main()
