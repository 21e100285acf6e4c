#!/usr/bin/env python
"""Can the LR residual at the end of the 1-SSIM phase tell noise-free from noisy data? (issue 8)

    python benchmarks/ssim_phase_residual.py anchor 2 ceres_dawnfc_ceres1k_0001 0
    python benchmarks/ssim_phase_residual.py bicubic 4 mars_hrsc_nanedi_y0932x0000 0

Runs the default configuration (300x5 schedule, fallback encoder, CPU) through its 1-SSIM phase (81 outer
iterations) on one LR image - an MLMC anchor file ("anchor", noise-free) or a bicubic-protocol LR from
quality.py's cache ("bicubic", sigma ~ U(0, 10/255); run `quality.py --preset cpu` first) - and appends
the RMS of the LR residual y - D(x) (8-bit levels) and its lag-1 autocorrelation at iterations 16 ... 81 to
bench_out/ssim_phase_residual.csv with the commit. docs/algorithm.md ("Choosing the loss schedule") reads it.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import anchor as A  # noqa: E402
from napari_hacbsr.core.config import HACBSRConfig  # noqa: E402
from napari_hacbsr.core.degradation import PROTOCOL_SAMPLING, forward_model  # noqa: E402
from napari_hacbsr.core.engine import Solver  # noqa: E402
from napari_hacbsr.core.image import prepare_image  # noqa: E402
from napari_hacbsr.core.metrics import evaluate_sr  # noqa: E402


def probe(kind: str, scale: int, stem: str, seed: int, upto: int = 81) -> None:
    torch.set_num_threads(1)
    if kind == "anchor":
        pair = A.load_pair(A.DEFAULT_DIR, scale, stem)
        sigma = 0.0
        sampling = A.SAMPLING
    else:
        d = C.BENCH_OUT / f"lr_cache/bicubic_crop96_nmax0.03922_knoise0.000_q8/x{scale}_seed{seed}"
        z = np.load(d / f"{stem}.npz")
        pair = {k: z[k] for k in ("lr", "hr", "kernel")}
        sigma = json.loads((d / f"{stem}.json").read_text())["noise_sigma"]
        sampling = PROTOCOL_SAMPLING["bicubic"]
    cfg = HACBSRConfig.preset(
        "default", scale=scale, seed=seed, sampling=sampling, device="cpu", encoder="fallback", iterations=300
    )
    cfg = cfg.for_device(torch.device("cpu"))
    prepared = prepare_image(pair["lr"], scale, None, cfg.gray_channels)
    solver = Solver(prepared, cfg, torch.device("cpu"))
    solver.warmup(lambda: False)
    out = C.BENCH_OUT / "ssim_phase_residual.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    commit = C.git_commit() or "unknown"
    with out.open("a", newline="") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(
                [
                    "kind",
                    "scale",
                    "image",
                    "seed",
                    "sigma8",
                    "iteration",
                    "residual_rms",
                    "lag1",
                    "psnr_y",
                    "git_commit",
                ]
            )
        for i in range(upto):
            solver.outer_iteration(i, lambda: False)
            if (i + 1) in (5, 10, 16, 20, 30, 40, 50, 60, 70, 81):
                with torch.no_grad():
                    r = (forward_model(solver.x_last, solver.k_last, scale) - solver.y)[0, 0].numpy()
                rms = 255 * float(np.sqrt((r**2).mean()))
                rc = r - r.mean()
                lag = float(((rc[1:, :] * rc[:-1, :]).mean() + (rc[:, 1:] * rc[:, :-1]).mean()) / 2 / (rc**2).mean())
                sr, _ = solver.snapshot()
                p = evaluate_sr(sr, pair["hr"], scale)["psnr_y"]
                w.writerow(
                    [
                        kind,
                        scale,
                        stem,
                        seed,
                        round(255 * sigma, 3),
                        i + 1,
                        round(rms, 3),
                        round(lag, 3),
                        round(p, 3),
                        commit,
                    ]
                )
                fh.flush()
    print(kind, scale, stem, seed, "done")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["anchor", "bicubic"])
    p.add_argument("scale", type=int)
    p.add_argument("image")
    p.add_argument("seed", type=int)
    p.add_argument("--upto", type=int, default=81, help="last outer iteration (81: the default's 1-SSIM phase)")
    args = p.parse_args(argv)
    probe(args.kind, args.scale, args.image, args.seed, args.upto)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
