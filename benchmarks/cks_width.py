#!/usr/bin/env python
"""Does CKS shift the width of the kernels it accepts? (issue 8, docs/algorithm.md "CKS without a width bias")

    python benchmarks/cks_width.py

For each scale's prior (HACBSR's data range at x3/x4, the MLMC code's at x2), 200 kernels per seed
(seeds 0, 1, 2) from: plain prior draws, CKS over M = 8 independent candidates (calibrated S), and CKS
over 8 candidates of one size (`KernelSampler.same_width`). Prints the mean RMS radius and ellipticity
of the accepted kernels and the RMS radius of their mean (what the KL stage pulls G_k to); writes
bench_out/cks_width.csv with the commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from napari_hacbsr.core.cks import ContrastiveKernelSampler  # noqa: E402
from napari_hacbsr.core.degradation import KernelSampler  # noqa: E402
from napari_hacbsr.core.kernel_stats import kernel_shape  # noqa: E402
from napari_hacbsr.core.metrics import kernel_width  # noqa: E402

PRIORS = ((4, "data"), (3, "data"), (2, "mlmc"))  # the prior each scale's default kernel model uses
DRAWS = ("plain", "cks-independent", "cks-same-width")


def accepted(scale: int, prior: str, draw: str, seed: int, n: int) -> list[np.ndarray]:
    sampler = KernelSampler.prior(scale, np.random.default_rng(seed), "stride", prior)
    if draw == "plain":
        return [sampler() for _ in range(n)]
    propose = sampler.same_width if draw == "cks-same-width" else None
    cks = ContrastiveKernelSampler(sampler, 8, 20, calibrate=True, propose=propose)
    return [cks() for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--draws", type=int, default=200, help="kernels per seed")
    p.add_argument("--csv", type=Path, default=C.BENCH_OUT / "cks_width.csv")
    args = p.parse_args(argv)
    rows = []
    for scale, prior in PRIORS:
        for draw in DRAWS:
            kernels, means = [], []
            for seed in (0, 1, 2):
                batch = accepted(scale, prior, draw, seed, args.draws)
                kernels += batch
                means.append(kernel_width(np.mean(batch, axis=0))[0])
            radii = [kernel_width(k)[0] for k in kernels]
            rows.append(
                {
                    "scale": scale,
                    "prior": prior,
                    "draw": draw,
                    "kernels": len(kernels),
                    "mean_rms_radius": round(float(np.mean(radii)), 3),
                    "p10_rms_radius": round(float(np.percentile(radii, 10)), 3),
                    "p90_rms_radius": round(float(np.percentile(radii, 90)), 3),
                    "mean_ellipticity": round(float(np.mean([kernel_shape(k).ellipticity for k in kernels])), 3),
                    "rms_radius_of_mean": round(float(np.mean(means)), 3),
                }
            )
    C.print_and_write_rows(args.csv, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
