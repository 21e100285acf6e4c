"""Whole frames: time, tiles, peak RSS and the estimate vs the measurement, plus a seam check.

For each size, the centre crop of a real frame is written to a temporary PNG and super-resolved by the
CLI (`hacbsr run --tile auto`) in a subprocess under a short schedule; the subprocess's peak RSS comes
from `resource.getrusage(RUSAGE_CHILDREN)` of a wrapper
whose only child it is. The estimate is `estimate_resources` for the same
options. Seam check: the mean |horizontal and vertical pixel difference| of the SR image on the rows/
columns inside tile overlaps, divided by the same on the other rows/columns (1.0 = no visible seam;
a seam raises it).

    OMP_NUM_THREADS=2 python -m benchmarks.frames --hr-dir ../shared/data/planetary/hr \
        --image moon_lrocnac_M115143943RE_cal_echo_2_2.png --sizes 1000 --memory-limit 4
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import BENCH_OUT, DEFAULT_HR_DIR, git_commit, markdown_table, write_rows_csv

SCHEDULE = ["--iterations", "1", "--inner-steps", "2", "--kernel-warmup", "20", "--encoder", "fallback"]


# runs the CLI as its only child and prints that child's peak RSS (a fresh process per size)
_MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=sys.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def read_boxes(path: Path) -> np.ndarray:
    """Tile LR boxes (n_rows, n_cols, 4) from the CLI's per-tile CSV."""
    with open(path) as fh:
        table = list(csv.DictReader(fh))
    n_rows, n_cols = 1 + max(int(r["row"]) for r in table), 1 + max(int(r["col"]) for r in table)
    boxes = np.zeros((n_rows, n_cols, 4), int)
    for r in table:
        boxes[int(r["row"]), int(r["col"])] = [int(r[k]) for k in ("y0", "x0", "y1", "x1")]
    return boxes


def seam_ratio(sr: np.ndarray, boxes: np.ndarray, scale: int) -> float:
    """Mean |difference| across pixels in overlap bands / elsewhere (rows and columns together)."""
    ratios = []
    for axis, (lo, hi) in ((0, (0, 2)), (1, (1, 3))):
        spans = boxes[:, 0] if axis == 0 else boxes[0, :]
        band = np.zeros(sr.shape[axis] - 1, bool)
        for a, b in zip(spans[1:, lo], spans[:-1, hi], strict=True):
            band[a * scale : b * scale - 1] = True
        diff = np.abs(np.diff(sr.astype(np.float64), axis=axis)).mean(axis=1 - axis)
        if band.any() and (~band).any():
            ratios.append(diff[band].mean() / diff[~band].mean())
    return float(np.mean(ratios)) if ratios else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.frames", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", default="moon_lrocnac_M115143943RE_cal_echo_2_2.png")
    parser.add_argument("--hr-dir", type=Path, default=DEFAULT_HR_DIR, help="folder of the frame")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--memory-limit", type=float, default=4.0, help="GB (the CLI's --memory-limit)")
    args = parser.parse_args()
    import tifffile
    from PIL import Image

    from napari_hacbsr.core.config import HACBSRConfig
    from napari_hacbsr.core.degradation import centre_crop
    from napari_hacbsr.core.resources import estimate_resources

    commit = git_commit()  # the code that runs (read now: the tree may change while a long run goes)
    frame = np.asarray(Image.open(args.hr_dir / args.image))
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"frame{size}.png"
            Image.fromarray(centre_crop(frame, size)).save(path)
            cfg = HACBSRConfig(iterations=1, inner_steps=2, kernel_warmup=20, encoder="fallback", device="cpu")
            est = estimate_resources((size, size), args.scale, cfg, "cpu", budget_bytes=args.memory_limit * 1e9)
            print(f"{size}²: estimate {est.summary()}", flush=True)
            cmd = [
                sys.executable,
                "-m",
                "napari_hacbsr.cli",
                "run",
                str(path),
                "-s",
                str(args.scale),
                *SCHEDULE,
                "--device",
                "cpu",
                "--memory-limit",
                str(args.memory_limit),
                "--quiet",
                "-o",
                tmp,
            ]
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], check=True, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            print(out.stderr, end="")
            peak = int(out.stdout.strip().splitlines()[-1]) * 1024  # ru_maxrss of that run alone, KiB on Linux
            sr = tifffile.imread(Path(tmp) / f"frame{size}_HACBSR_x{args.scale}.tif")
            boxes = read_boxes(Path(tmp) / f"frame{size}_HACBSR_kernels.csv")
        rows.append(
            {
                "lr_side": size,
                "scale": args.scale,
                "tiles": est.tiles,
                "tile": est.tile,
                "wall_s": wall,
                "peak_rss_gb": peak / 1e9,
                "estimate_gb": est.peak_bytes / 1e9,
                "estimate_s": est.seconds,
                "seam_ratio": seam_ratio(sr, boxes, args.scale),
            }
        )
    table = [
        [
            str(r["lr_side"]),
            str(r["tiles"]),
            f"{r['wall_s']:.0f}",
            f"{r['estimate_s']:.0f}",
            f"{r['peak_rss_gb']:.2f}",
            f"{r['estimate_gb']:.2f}",
            f"{r['seam_ratio']:.3f}",
        ]
        for r in rows
    ]
    print(
        markdown_table(
            ["LR side", "tiles", "time (s)", "estimate (s)", "peak RSS (GB)", "estimate (GB)", "seam ratio"], table
        )
    )
    write_rows_csv(BENCH_OUT / "frames.csv", rows, commit)


if __name__ == "__main__":
    main()
