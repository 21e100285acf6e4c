"""Calibrate the resource model of `napari_hacbsr.core.resources` (peak memory and time of one run).

Each size runs in a fresh subprocess (so its peak RSS is its own): a short HACBSR run on a random LR
image (encoder "fallback", CPU) records the process's resident memory before the run, its peak
(VmHWM) during the run, and the seconds per inner image step. The parent fits

    peak_rss  = base + bytes_per_hr_px · (H·W)          (H, W: the HR side lengths)
    step_time = step_base + seconds_per_hr_px · (H·W)   (all stages after warm-up, per inner step)
    run_fixed = setup + warm-up seconds (mean over sizes)

by least squares and prints the coefficients to paste into `core/resources.py` (CPU_MODEL), plus a
table and a CSV (bench_out/memory.csv, with the git commit).

    OMP_NUM_THREADS=2 python -m benchmarks.memory --sizes 64 128 192 --scale 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from ._common import BENCH_OUT, REPO_ROOT, _proc_status_kb, git_commit, markdown_table, write_rows_csv


def child(lr_side: int, scale: int) -> None:
    import torch

    from napari_hacbsr.core.config import HACBSRConfig
    from napari_hacbsr.core.engine import iterate

    rng = np.random.default_rng(0)
    image = rng.random((lr_side, lr_side)).astype(np.float32)
    cfg = HACBSRConfig(
        scale=scale, iterations=4, inner_steps=5, kernel_warmup=5, encoder="fallback", device="cpu", yield_every=1
    )
    torch.zeros(1)  # torch's own start-up allocations belong to the base
    before = _proc_status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    gen = iterate(image, cfg)
    t0 = time.perf_counter()
    ends: list[float] = []  # elapsed at the end of each outer iteration
    try:
        while True:
            step_record = next(gen)
            if step_record.stage == "iterate":
                ends.append(step_record.elapsed)
    except StopIteration:
        pass
    wall = time.perf_counter() - t0
    peak = _proc_status_kb("VmHWM")
    # Per inner step, from the 2nd outer iteration on: the first pays one-off costs (the optimiser's first
    # step imports torch's compiler stack), which belong to the fixed part.
    step = (ends[-1] - ends[0]) / ((len(ends) - 1) * cfg.inner_steps)
    print(
        json.dumps(
            {
                "lr_side": lr_side,
                "scale": scale,
                "hr_px": (lr_side * scale) ** 2,
                "rss_before_kb": before,
                "peak_kb": peak,
                "step_s": step,
                "wall_s": wall,
                "fixed_s": ends[0] - cfg.inner_steps * step,  # setup, warm-up and the first step's one-off costs
                "threads": torch.get_num_threads(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 192], help="LR sides to measure")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.scale)
        return
    rows = []
    for side in args.sizes:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "--child", str(side), "--scale", str(args.scale)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,  # (where `benchmarks` is the package)
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    hr = np.array([r["hr_px"] for r in rows], float)
    design = np.stack([np.ones_like(hr), hr], axis=1)
    (base, per_px), *_ = np.linalg.lstsq(design, np.array([r["peak_kb"] * 1024.0 for r in rows]), rcond=None)
    (step_base, step_px), *_ = np.linalg.lstsq(design, np.array([r["step_s"] for r in rows]), rcond=None)
    fixed = float(np.mean([r["fixed_s"] for r in rows]))
    table = [
        [
            str(r["lr_side"]),
            str(r["hr_px"]),
            f"{r['rss_before_kb'] / 2**20:.2f}",
            f"{r['peak_kb'] / 2**20:.2f}",
            f"{r['step_s']:.3f}",
        ]
        for r in rows
    ]
    print(markdown_table(["LR side", "HR px", "RSS before (GiB)", "peak RSS (GiB)", "s / inner step"], table))
    commit = git_commit()
    print(f"\nfit (commit {commit}, {rows[0]['threads']} torch threads, ×{args.scale}):")
    print(
        f"  base_bytes={base:.4g}, bytes_per_hr_px={per_px:.4g}, step_base_s={step_base:.4g}, "
        f"step_s_per_hr_px={step_px:.4g}, run_fixed_s={fixed:.3g}"
    )
    write_rows_csv(BENCH_OUT / "memory.csv", rows, commit)


if __name__ == "__main__":
    main()
