#!/usr/bin/env python
"""How hard each loss pulls G_k: gradient norms on the kernel generator's parameters during one anchor run.

    python benchmarks/kernel_gradients.py --scale 2 --image moon_lrocnac_M115143943RE_cal_echo_2_2 \\
        --csv bench_out/anchor/kernel_gradients.csv

Runs `core.engine.Solver` stage by stage on an MLMC anchor file (as `trajectory.py`) and, before the
outer iterations listed in --at, measures the gradient norm of the prior stage's loss (KL / MCMC) and of
the kernel's data loss under each `kernel_loss` (1-SSIM, MSE, scaled MSE) at the current image and
kernel. With one Adam for both stages (the MLMC code's kernel model, HACBSR's ×2 default) their ratio
decides whether the data or the prior moves G_k (docs/algorithm.md, "The kernel's loss"). Measuring draws
extra prior kernels, so the run after the first probe differs from an unprobed one: a diagnostic, not a
score. One CSV row per probe, with the git commit.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import anchor as A  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ["method", "scale", "image", "seed", "iteration", "prior", "one_minus_ssim", "mse", "scaled_mse"]


def probe(method: str, scale: int, stem: str, seed: int, at: list[int], out: Path, threads: int) -> None:
    import torch

    from napari_hacbsr.core.degradation import forward_model
    from napari_hacbsr.core.engine import Solver
    from napari_hacbsr.core.image import prepare_image

    torch.set_num_threads(threads)
    pair = A.load_pair(A.DEFAULT_DIR, scale, stem)
    cfg = A.config_for(method, scale, seed, None, None).for_device(torch.device("cpu"))
    solver = Solver(prepare_image(pair["lr"], scale, None, cfg.gray_channels), cfg, torch.device("cpu"))
    solver.warmup(lambda: False)
    params = list(solver.net_k.parameters())

    def norm(loss: torch.Tensor) -> float:
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return float(torch.sqrt(sum((g**2).sum() for g in grads if g is not None)))

    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    commit = C.git_commit() or "unknown"
    with out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*FIELDS, "git_commit"])
        if new:
            writer.writeheader()
        for index in range(max(at) + 1):
            if index in at:
                with torch.no_grad():
                    x = solver.generate()
                pred = forward_model(x, solver.net_k(solver.z_k), scale)
                row = {"method": method, "scale": scale, "image": stem, "seed": seed, "iteration": index}
                row["prior"] = f"{norm(solver.prior_loss()):.4e}"
                for name, kind, use_ssim in (
                    ("one_minus_ssim", "data", True),
                    ("mse", "data", False),
                    ("scaled_mse", "scaled-mse", True),
                ):
                    row[name] = f"{norm(solver.data.for_kernel(pred, use_ssim, kind)):.4e}"
                writer.writerow({**row, "git_commit": commit})
                fh.flush()
                print(" ".join(f"{k}={v}" for k, v in row.items() if k not in ("method", "image")), flush=True)
            solver.outer_iteration(index, lambda: False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--image", required=True)
    p.add_argument("--method", default="hacbsr-noise-free", choices=[m for m in A.METHODS if A.METHODS[m]])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--at", type=int, nargs="+", default=[0, 10, 20, 40, 80], help="outer iterations to probe")
    p.add_argument("--csv", type=Path, default=ROOT / "bench_out" / "anchor" / "kernel_gradients.csv")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    probe(args.method, args.scale, args.image, args.seed, args.at, args.csv, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
