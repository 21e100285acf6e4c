"""Per-iteration trace of one anchor run: where the kernel and the picture are best, and what the
final-output choices (last iterate, output EMA, the history network) would score.

    python -m benchmarks.trajectory --scale 4 --image ceres_dawnfc_ceres1k_0001 --method hacbsr --seed 0

Drives `core.engine.Solver` stage by stage (the same calls `iterate` makes) on an anchor pair
(benchmarks.anchor) and writes one CSV row per outer iteration: PSNR-Y/SSIM-Y of the current
output and of the averaged outputs, kernel PSNR and RMS radius against the true kernel. Outputs are
scored as the reference was (core.metrics.evaluate_sr). The trace is what docs/benchmarks.md's
"where the run is best" section is built from.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np

from . import _common as C
from . import anchor as A
from .methods import ENGINE_METHODS

EMA_DECAYS = (0.9, 0.97)


def trace(
    method: str, scale: int, stem: str, seed: int, iterations: int | None, out: Path, threads: int, changes: dict
) -> None:
    import torch

    from napari_hacbsr.core.degradation import forward_model
    from napari_hacbsr.core.engine import Solver
    from napari_hacbsr.core.image import prepare_image
    from napari_hacbsr.core.kernel_stats import kernel_shape
    from napari_hacbsr.core.metrics import evaluate_sr, kernel_psnr, kernel_width
    from napari_hacbsr.core.plan import resolve

    torch.set_num_threads(threads)
    pair = A.load_pair(A.DEFAULT_DIR, scale, stem)
    base = A.config_for(method, scale, seed, iterations, None).replace(**changes)
    prepared = prepare_image(pair["lr"], scale, None, base.gray_channels)
    cfg = resolve(base, "cpu", prepared)
    solver = Solver(prepared, cfg, torch.device("cpu"))
    never = lambda: False  # noqa: E731
    solver.warmup(never)
    commit = C.git_commit() or "unknown"
    ema: dict[float, np.ndarray] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["method", "scale", "image", "seed", "iteration", "psnr_y", "ssim_y", "k_psnr", "k_rms", "k_rms_true"]
    fields += ["k_ellipticity", "k_ellipticity_true"]
    fields += [f"ema{d}_psnr_y" for d in EMA_DECAYS] + ["hist_psnr_y", "residual_rms", "seconds", "git_commit"]
    new = not out.exists()
    true_rms = kernel_width(pair["kernel"])[0]
    true_ellipticity = kernel_shape(pair["kernel"]).ellipticity
    t0 = time.perf_counter()
    with out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        if new:
            writer.writeheader()
        for index in range(cfg.outer_iterations):
            solver.outer_iteration(index, never)
            sr, kernel = solver.snapshot()
            row = {
                "method": method + "".join(f" {k}={v}" for k, v in changes.items()),
                "scale": scale,
                "image": stem,
                "seed": seed,
                "iteration": index + 1,
            }
            m = evaluate_sr(sr, pair["hr"], scale)
            row.update(psnr_y=f"{m['psnr_y']:.4f}", ssim_y=f"{m['ssim_y']:.4f}")
            row.update(k_psnr=f"{kernel_psnr(kernel, pair['kernel']):.3f}", k_rms=f"{kernel_width(kernel)[0]:.3f}")
            row["k_rms_true"] = f"{true_rms:.3f}"
            row["k_ellipticity"] = f"{kernel_shape(kernel).ellipticity:.3f}"
            row["k_ellipticity_true"] = f"{true_ellipticity:.3f}"
            for d in EMA_DECAYS:
                ema[d] = sr if d not in ema else d * ema[d] + (1 - d) * sr
                row[f"ema{d}_psnr_y"] = f"{evaluate_sr(ema[d], pair['hr'], scale)['psnr_y']:.4f}"
            if solver.net_hist is not None:
                with torch.no_grad():
                    hist = solver.net_hist(solver.z_x).float()[0].numpy()
                row["hist_psnr_y"] = f"{evaluate_sr(prepared.to_output(hist), pair['hr'], scale)['psnr_y']:.4f}"
            with torch.no_grad():  # the LR fit's RMS residual, in 8-bit levels (vs the LR's noise level)
                fit = forward_model(solver.x_last, solver.k_last, scale)
                row["residual_rms"] = f"{255 * float(((fit - solver.y) ** 2).mean().sqrt()):.3f}"
            row.update(seconds=f"{time.perf_counter() - t0:.1f}", git_commit=commit)
            writer.writerow(row)
            fh.flush()
    print(f"{method} x{scale} {stem} seed {seed}: last {row['psnr_y']} k_rms {row['k_rms']}/{true_rms:.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.trajectory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--image", required=True)
    p.add_argument("--method", default="hacbsr", choices=ENGINE_METHODS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=None, help="proxy schedule (as benchmarks.anchor)")
    p.add_argument("--csv", type=Path, default=C.BENCH_OUT / "anchor" / "trajectory.csv")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="config overrides (JSON values)")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    changes = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    trace(args.method, args.scale, args.image, args.seed, args.iterations, args.csv, args.threads, changes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
