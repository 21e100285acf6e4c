"""Issue 24's fast path measured: non-blind SR with the TRUE kernel (`core.nonblind.reconstruct`) vs the
phase-correct cubic, on crops and on a whole 1000² LR frame, on this CPU.

    python -m benchmarks.fast_frames crops      # the noisy bicubic protocol: 96² crops, ×2/×3/×4, 3 seeds
    python -m benchmarks.fast_frames frame      # a 2000² HR mosaic -> 1000² LR at ×2: wall, peak RSS, PSNR-Y
    python -m benchmarks.fast_frames calibrate  # λ sweep on calibration crops (fits WEIGHT_PER_VARIANCE)
    python -m benchmarks.fast_frames solvers    # torch L-BFGS vs deepinv FISTA-TV (the library choice)
    python -m benchmarks.fast_frames frame --estimate --suffix _e2e   # end to end: HACBSR's kernel, then the solve

Data: `simulate` (core.degradation) with the bicubic protocol (spec §1.3), noise σ ~ U(0, 10/255) per draw
(the paper's level) or none, 8-bit quantised. The bicubic protocol's true kernel for the engine's forward
model is the Gaussian through MATLAB's antialiased ↓s: `effective_kernel` reads it off impulses.
CSVs go to benchmarks/results/fast/, stamped with the commit and the torch thread count.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from benchmarks import _common as C
from napari_hacbsr.core.degradation import centre_crop, forward_model, imresize, phase_correct_bicubic, simulate
from napari_hacbsr.core.metrics import evaluate_sr, psnr, to_y
from napari_hacbsr.core.noise import estimate_noise_sigma
from napari_hacbsr.core.nonblind import reconstruct, weight_for_noise

OUT = C.REPO_ROOT / "benchmarks" / "results" / "fast"
NOISE_MAX = 10.0 / 255.0  # the paper's (MLMC's) lower noise level
CROP = 96
# disjoint image sets: λ is fitted on CALIBRATION, reported on EVALUATION and on the FRAME mosaic
CALIBRATION = (
    "ceres_dawnfc_ceres1k_0003",
    "mars_hrsc_nanedi_y0000x0000",
    "europa_galileossi_C0374649039R",
    "moon_lrocnac_M115143943_mosaic_train_small",
)
EVALUATION = (
    "ceres_dawnfc_ceres1k_0001",
    "mars_hirise_ESP_037117_1755_y1408x0640",
    "europa_galileossi_11ESREGMAP01_y2336x0896",
    "moon_lrocnac_M1155395732_mosaic_train_small",
    "mars_ctx_P17_007703_2313",
)
FRAME = (  # 2×2 mosaic of 1024² HiRISE-derived PyCDA selections: the centre 2000² HR -> a 1000² LR at ×2
    "mars_pycda_selection0",
    "mars_pycda_selection2",
    "mars_pycda_selection4",
    "mars_pycda_selection5",
)


def effective_kernel(kernel: np.ndarray, scale: int) -> np.ndarray:
    """The forward-model kernel of the bicubic protocol: blur with `kernel`, then MATLAB bicubic ↓s.

    The pipeline is linear and shift-invariant by s, so s² impulses (one per HR phase) read every tap of
    k_eff, where forward_model gives LR[i] = Σ_t k_eff[t] · HR[s·i + t − K_eff//2]. K_eff = K + 4s (the
    cubic's antialiased support is 4s)."""
    s, size = int(scale), kernel.shape[0] + 4 * int(scale)
    n = s * math.ceil(4 * size / s)
    centre = (n // 2) // s * s
    out = np.zeros((size, size))
    lr_index = np.arange(n // s)
    for a in range(s):
        for b in range(s):
            hr = np.zeros((n, n))
            hr[centre + a, centre + b] = 1.0
            blurred = forward_model(torch.from_numpy(hr)[None, None], torch.from_numpy(kernel).double(), 1)[0, 0]
            lr = imresize(blurred.numpy(), 1.0 / s)
            t, u = centre + a - s * lr_index + size // 2, centre + b - s * lr_index + size // 2
            rows, cols = (t >= 0) & (t < size), (u >= 0) & (u < size)
            out[np.ix_(t[rows], u[cols])] = lr[np.ix_(lr_index[rows], lr_index[cols])]
    return (out / out.sum()).astype(np.float32)


def hr_image(stem: str, crop: int | None) -> np.ndarray:
    return centre_crop(C.load_gray01(C.DEFAULT_HR_DIR / f"{stem}.png"), crop)


def degrade(hr: np.ndarray, scale: int, noisy: bool, seed: int, margin: int):
    """`simulate` on the HR, then the LR and HR cut `margin` LR px in from every side: a crop of a degraded
    scene, as a real frame is (the simulator's circular blur and mirrored ↓s would otherwise put edge values in
    the LR border that no HR produces). Returns (LR, HR, the forward model's true kernel, the noise σ)."""
    d = simulate(hr, scale, protocol="bicubic", noise_max=NOISE_MAX if noisy else 0.0, seed=seed, quantize=True)
    m, hm = margin, margin * scale
    return (
        d.lr[m:-m, m:-m],
        d.hr[hm:-hm, hm:-hm],
        effective_kernel(d.kernel.astype(np.float64), scale),
        d.params["noise_sigma"],
    )


def margin_for(scale: int) -> int:
    """LR px beyond the crop that reach it through the effective kernel (K + 4s wide)."""
    from napari_hacbsr.core.sampling import kernel_size_for

    return math.ceil((kernel_size_for(scale) + 4 * scale) / 2 / scale) + 1


def crop_case(stem: str, scale: int, noisy: bool, seed: int):
    """A CROP² HR crop and its LR (CROP/s)², cut from a larger degraded neighbourhood of the image's centre."""
    m = margin_for(scale)
    return degrade(hr_image(stem, CROP + 2 * m * scale), scale, noisy, seed, m)


def band_psnr(sr: np.ndarray, hr: np.ndarray, width: int) -> tuple[float, float]:
    """PSNR-Y of the `width`-px border band and of the interior (ringing from the frame edge shows in the band)."""
    a, b = (to_y(np.round(np.clip(v, 0.0, 1.0) * 255.0)) for v in (sr, hr))
    band = np.ones(a.shape, bool)
    band[width:-width, width:-width] = False
    return psnr(a[band], b[band]), psnr(a[~band], b[~band])


def cubic(lr: np.ndarray, scale: int) -> np.ndarray:
    return np.clip(phase_correct_bicubic(lr, scale, "bicubic", channel_axis=None), 0.0, 1.0)


def solve(lr: np.ndarray, kernel: np.ndarray, scale: int, iterations: int | None = None, weight: float | None = None):
    kwargs = {} if iterations is None else {"iterations": iterations}
    return reconstruct(lr, kernel, scale, sampling="bicubic", weight=weight, **kwargs)


def solve_blind(lr: np.ndarray, scale: int, seed: int):
    """The fast path end to end, as a user runs it: HACBSR's kernel from textured tiles (the CPU schedule's
    estimate), then the non-blind solve. Returns the SR, the solve's numbers and the estimated kernel."""
    from types import SimpleNamespace

    from napari_hacbsr.core.api import super_resolve

    result = super_resolve(lr, scale, reconstruction="fast", sampling="bicubic", encoder="fallback", device="cpu",
                           seed=seed)  # fmt: skip
    solved = result.stages[-1]
    info = SimpleNamespace(
        noise_sigma=solved["noise_sigma"],
        weight=solved["weight"],
        iterations_done=solved["iterations_done"],
        lr_rmse=math.sqrt(result.lr_consistency),
        tiles=len(result.stages[0]["tiles"]),
    )
    return result.sr, info, result.kernel


def solve_case(args, lr, k, scale, seed):
    """(SR, info, the kernel's RMS radius / the true one's, 1 for the true kernel): the true kernel's solve, or
    with --estimate the whole fast path (the effective true kernel is wider than the model's K: no kernel PSNR)."""
    if not args.estimate:
        sr, info = solve(lr, k, scale, args.iterations)
        return sr, info, 1.0
    from napari_hacbsr.core.metrics import kernel_width

    sr, info, kernel = solve_blind(lr, scale, seed)
    return sr, info, kernel_width(kernel)[0] / kernel_width(k)[0]


# ---------------------------------------------------------------------------- crops (protocol b)
def run_crops(args) -> None:
    rows = []
    for stem in args.images or EVALUATION:
        for scale in args.scales:
            for seed in args.seeds:
                for noisy in (False, True):
                    lr, hr, k, sigma = crop_case(stem, scale, noisy, C.derived_seed(stem, scale, seed))
                    start = time.perf_counter()
                    sr, info, k_rms = solve_case(args, lr, k, scale, seed)
                    wall = time.perf_counter() - start
                    fast, base = (
                        evaluate_sr(sr, hr, scale)["psnr_y"],
                        evaluate_sr(cubic(lr, scale), hr, scale)["psnr_y"],
                    )
                    rows.append(
                        {
                            "image": stem,
                            "scale": scale,
                            "seed": seed,
                            "noise_sigma": round(sigma, 5),
                            "sigma_estimate": round(info.noise_sigma, 5),
                            "weight": f"{info.weight:.3g}",
                            "psnr_y_cubic": round(base, 3),
                            "psnr_y_fast": round(fast, 3),
                            "gain_db": round(fast - base, 3),
                            "lr_rmse": round(info.lr_rmse, 5),
                            "kernel": "estimated" if args.estimate else "true",
                            "kernel_rms_ratio": round(k_rms, 3),
                            "iterations": info.iterations_done,
                            "wall_s": round(wall, 2),
                            "threads": torch.get_num_threads(),
                        }
                    )
                    print(rows[-1], flush=True)
    C.print_and_write_rows(OUT / f"crops{args.suffix}.csv", rows)
    for noisy in (False, True):
        for scale in args.scales:
            gains = [r["gain_db"] for r in rows if (r["noise_sigma"] > 0) == noisy and r["scale"] == scale]
            label = "noisy" if noisy else "noise-free"
            print(f"x{scale} {label}: mean gain {np.mean(gains):+.3f} dB, min {min(gains):+.3f} ({len(gains)} draws)")


# ---------------------------------------------------------------------------- whole frame (protocol a)
def run_frame(args) -> None:
    scale = 2
    m = margin_for(scale)
    tiles = [hr_image(stem, 1000 + m * scale) for stem in FRAME]  # (1024² images: the crop is their centre)
    scene = np.block([[tiles[0], tiles[1]], [tiles[2], tiles[3]]])
    rows = []
    for seed in args.seeds:
        for noisy in (False, True) if seed == args.seeds[0] else (True,):
            lr, hr, k, sigma = degrade(scene, scale, noisy, seed, m)
            with C.PeakMemory("cpu") as mem:
                start = time.perf_counter()
                sr, info, k_rms = solve_case(args, lr, k, scale, seed)
                wall = time.perf_counter() - start
            fast, base = evaluate_sr(sr, hr, scale)["psnr_y"], evaluate_sr(cubic(lr, scale), hr, scale)["psnr_y"]
            band, interior = band_psnr(sr, hr, 2 * k.shape[0])
            cubic_band, cubic_interior = band_psnr(cubic(lr, scale), hr, 2 * k.shape[0])
            rows.append(
                {
                    "frame": "mars-pycda-2x2-mosaic",
                    "hr": "x".join(map(str, hr.shape)),
                    "lr": "x".join(map(str, lr.shape)),
                    "scale": scale,
                    "seed": seed,
                    "noise_sigma": round(sigma, 5),
                    "sigma_estimate": round(info.noise_sigma, 5),
                    "weight": f"{info.weight:.3g}",
                    "psnr_y_cubic": round(base, 3),
                    "psnr_y_fast": round(fast, 3),
                    "gain_db": round(fast - base, 3),
                    "band_px": 2 * k.shape[0],
                    "band_gain_db": round(band - cubic_band, 3),
                    "interior_gain_db": round(interior - cubic_interior, 3),
                    "tiles": info.tiles,
                    "kernel": "estimated" if args.estimate else "true",
                    "kernel_rms_ratio": round(k_rms, 3),
                    "iterations": info.iterations_done,
                    "wall_s": round(wall, 1),
                    "peak_rss_mb": round(mem.peak_mb),
                    "threads": torch.get_num_threads(),
                }
            )
            print(rows[-1], flush=True)
    C.print_and_write_rows(OUT / f"frame{args.suffix}.csv", rows)


# ---------------------------------------------------------------------------- λ calibration
FLOORS = (3e-6, 1e-5, 3e-5, 1e-4)  # noise-free: λ itself
PER_VARIANCE = (0.25, 0.5, 1.0, 2.0, 4.0)  # noisy: λ / σ_estimate²


def run_calibrate(args) -> None:
    """PSNR-Y over λ on calibration crops: noise-free over WEIGHT_FLOOR candidates, noisy over
    WEIGHT_PER_VARIANCE candidates (λ = c · σ_estimate²)."""
    rows = []
    for stem in args.images or CALIBRATION:
        for scale in args.scales:
            for seed in args.seeds:
                for noisy in (False, True):
                    lr, hr, k, sigma = crop_case(stem, scale, noisy, C.derived_seed(stem, scale, 100 + seed))
                    estimate = estimate_noise_sigma(lr)
                    for value in PER_VARIANCE if noisy else FLOORS:
                        lam = value * estimate**2 if noisy else value
                        sr, info = solve(lr, k, scale, args.iterations, weight=lam)
                        rows.append(
                            {
                                "image": stem,
                                "scale": scale,
                                "seed": seed,
                                "noise_sigma": round(sigma, 5),
                                "sigma_estimate": round(estimate, 5),
                                "sweep": "per_variance" if noisy else "floor",
                                "value": value,
                                "weight": f"{lam:.3g}",
                                "psnr_y": round(evaluate_sr(sr, hr, scale)["psnr_y"], 3),
                                "lr_rmse": round(info.lr_rmse, 5),
                                "threads": torch.get_num_threads(),
                            }
                        )
                        print(rows[-1], flush=True)
    C.print_and_write_rows(OUT / f"calibrate{args.suffix}.csv", rows)
    for sweep, values in (("floor", FLOORS), ("per_variance", PER_VARIANCE)):
        for scale in args.scales:
            sel = [r for r in rows if r["sweep"] == sweep and r["scale"] == scale]
            means = {v: round(float(np.mean([r["psnr_y"] for r in sel if r["value"] == v])), 3) for v in values}
            print(f"{sweep} x{scale}: mean PSNR-Y {means}")


# ---------------------------------------------------------------------------- solver choice
def lbfgs(lr, kernel, scale, iterations, lam):
    return solve(lr, kernel, scale, iterations, weight=lam)[0]


def deepinv_fista_tv(lr, kernel, scale, iterations, lam):
    """deepinv's FISTA with its TV prior on the same problem (free band, forward model, cubic start)."""
    import deepinv as dinv

    from napari_hacbsr.core.nonblind import free_band

    band = free_band(kernel.shape[0], scale)
    y = torch.from_numpy(np.pad(lr, band).astype(np.float32))[None, None]
    obs = torch.from_numpy(np.pad(np.ones_like(lr), band).astype(np.float32))[None, None]
    k = torch.from_numpy(kernel)
    start = phase_correct_bicubic(np.pad(lr, band, mode="symmetric"), scale, "bicubic", channel_axis=None)
    x0 = torch.from_numpy(np.ascontiguousarray(start, dtype=np.float32))[None, None]
    physics = dinv.physics.LinearPhysics(A=lambda x: obs * forward_model(x, k, scale), img_size=tuple(x0.shape[1:]))
    step = 1.0 / physics.compute_sqnorm(x0, verbose=False).item()
    model = dinv.optim.FISTA(
        data_fidelity=dinv.optim.data_fidelity.L2(),
        prior=dinv.optim.prior.TVPrior(n_it_max=20),
        lambda_reg=lam,
        stepsize=step,
        max_iter=iterations,
    )
    with torch.no_grad():
        x = model(y, physics, init=(x0, x0.clone()))
    s = scale * band
    return np.clip(x[0, 0, s:-s, s:-s].numpy(), 0.0, 1.0)


def run_solvers(args) -> None:
    """Each solver at its best weight of a small sweep (an oracle choice, generous to both), same crops."""
    rows = []
    iterations = args.iterations or 100
    for stem in (args.images or EVALUATION)[:2]:
        for scale in args.scales:
            for noisy in (False, True):
                lr, hr, k, sigma = crop_case(stem, scale, noisy, C.derived_seed(stem, scale, 0))
                base = evaluate_sr(cubic(lr, scale), hr, scale)["psnr_y"]
                rule = weight_for_noise(estimate_noise_sigma(lr), scale)
                for name, lam, run in [
                    *[("torch-lbfgs-hl0.8", f * rule, lbfgs) for f in (0.3, 1.0, 3.0)],
                    *[("deepinv-fista-tv", lam, deepinv_fista_tv) for lam in (1e-4, 3e-4, 1e-3, 3e-3)],
                ]:
                    start = time.perf_counter()
                    out = run(lr, k, scale, iterations, lam)
                    rows.append(
                        {
                            "image": stem,
                            "scale": scale,
                            "noise_sigma": round(sigma, 5),
                            "solver": name,
                            "weight": f"{lam:.3g}",
                            "iterations": iterations,
                            "psnr_y_cubic": round(base, 3),
                            "psnr_y": round(evaluate_sr(out, hr, scale)["psnr_y"], 3),
                            "wall_s": round(time.perf_counter() - start, 2),
                            "threads": torch.get_num_threads(),
                        }
                    )
                    print(rows[-1], flush=True)
    C.print_and_write_rows(OUT / f"solvers{args.suffix}.csv", rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["crops", "frame", "calibrate", "solvers"])
    p.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--images", nargs="+", default=None, help="HR stems (default: the subcommand's set)")
    p.add_argument("--iterations", type=int, default=None, help="L-BFGS iterations (default: the solver's)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (recorded in the CSV)")
    p.add_argument("--suffix", default="", help="CSV name suffix")
    p.add_argument(
        "--estimate",
        action="store_true",
        help="crops/frame end to end: the kernel HACBSR estimates (reconstruction='fast'), not the true one",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])  # (its first use imports torch._dynamo: ~5 s, untimed)
    {"crops": run_crops, "frame": run_frame, "calibrate": run_calibrate, "solvers": run_solvers}[args.what](args)


if __name__ == "__main__":
    main()
