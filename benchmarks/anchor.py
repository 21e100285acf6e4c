"""Anchor benchmark: our engine on the exact LR files the public MLMC reference code was scored on.

    python -m benchmarks.anchor --scales 4 --methods hacbsr mlmc --seeds 0 1 2
    python -m benchmarks.anchor --report-only          # rebuild the table from the CSV

Reads ``../shared/data/mlmc-anchor/`` (or --anchor-dir) as its README says: LR = one channel of the
RGBA PNG / 255, HR = the gray PNG / 255, the true kernel from ``kernel/<stem>.npy``; scores exactly
as the reference was scored (core.metrics.evaluate_sr: uint8, Y, shave s, MATLAB SSIM). The data is
the stride protocol, so every run uses ``sampling="stride"`` (the convention that protocol declares).
One CSV row per (image, scale, method, seed, iterations) with the git commit, appended as each run
ends; finished rows are skipped on a re-run. Prints per image and scale: bicubic (torch, as the
reference scored it), phase-correct bicubic, the reference's numbers, ours as mean ± std over
seeds, kernel PSNR, the estimated and true kernel RMS radius, G_k's radius after warm-up, and
seconds per outer iteration.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import _common as C
from .methods import METHODS, method_config
from .oracle import nonblind, oracle_of
from .paths import ANCHOR_DIR, BENCH_OUT

DEFAULT_DIR = ANCHOR_DIR  # (next to the planetary HR folder; HACBSR_ANCHOR_DIR overrides)
DEFAULT_CSV = BENCH_OUT / "anchor" / "anchor.csv"
SAMPLING = "stride"  # the convention of the anchor's (stride) protocol
# The reference code's scores (mlmc-anchor/README.md): (scale, stem) -> (bicubic PSNR-Y, SSIM-Y, MLMC PSNR-Y,
# SSIM-Y, kernel PSNR, s per outer iteration)
REFERENCE: dict[tuple[int, str], tuple[float, float, float, float, float, float]] = {
    (4, "ceres_dawnfc_ceres1k_0001"): (26.57, 0.5871, 30.45, 0.7222, 55.46, 1.62),
    (4, "europa_galileossi_E6ESDRKLIN01_y1152x0832"): (17.33, 0.1072, 20.37, 0.3751, 52.02, 1.62),
    (4, "moon_lrocnac_M115143943RE_cal_echo_2_2"): (20.44, 0.3466, 24.86, 0.5243, 53.89, 1.56),
    (2, "ceres_dawnfc_ceres1k_0001"): (30.37, 0.7495, 34.23, 0.8648, 53.38, 1.19),
    (2, "europa_galileossi_E6ESDRKLIN01_y1152x0832"): (21.05, 0.5895, 25.31, 0.8749, 42.48, 1.33),
    (2, "moon_lrocnac_M115143943RE_cal_echo_2_2"): (23.94, 0.5388, 27.71, 0.7359, 53.38, 1.47),
}
FIELDS = [
    "image",
    "scale",
    "method",
    "seed",
    "iterations",
    "iterations_done",
    "psnr_y",
    "ssim_y",
    "kernel_psnr",
    "k_rms",
    "k_rms_true",
    "k_centre_err",
    "warmup_rms",
    "s_per_iter",
    "threads",
    "git_commit",
    "finished_at",
]


def load_pair(anchor: Path, scale: int, stem: str) -> dict[str, np.ndarray]:
    from PIL import Image

    folder = anchor / f"stride_x{scale}"
    with Image.open(folder / "lr" / f"{stem}.png") as im:
        lr = np.asarray(im)[..., 0].astype(np.float64) / 255.0
    return {
        "lr": lr,
        "hr": C.load_gray01(folder / "hr" / f"{stem}.png"),
        "kernel": np.load(folder / "kernel" / f"{stem}.npy"),
    }


def torch_bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """The reference's bicubic: torch interpolate, align_corners=False, clamped (README)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(lr)[None, None]
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)[0, 0].numpy()


def config_for(method: str, scale: int, seed: int, iterations: int | None, warmup: int | None):
    """Method `method`'s run on an anchor file: the stride convention, CPU, the fallback encoder, each mode's
    full (paper) schedule, or a proxy `iterations` that keeps each mode's share of it (MLMC 200 : HACBSR 300)."""
    from napari_hacbsr.core.config import SCHEDULES

    paper = SCHEDULES["gpu"]["iterations"]  # the full (paper) schedule, on any device
    full = paper[METHODS[method].mode]
    changes: dict[str, Any] = {"scale": scale, "seed": seed, "sampling": SAMPLING, "device": "cpu"}
    changes.update(encoder="fallback", iterations=full)
    if iterations is not None:
        changes["iterations"] = max(1, round(iterations * full / paper["hacbsr"]))
    if warmup is not None:
        changes["kernel_warmup"] = warmup
    return method_config(method, **changes)


def kernel_width_of(kernel: np.ndarray) -> float:
    from napari_hacbsr.core.metrics import kernel_width

    return kernel_width(kernel)[0]


def run_one(method: str, pair: dict[str, np.ndarray], scale: int, seed: int, args: argparse.Namespace) -> dict:
    from napari_hacbsr.core.degradation import phase_correct_bicubic
    from napari_hacbsr.core.engine import iterate
    from napari_hacbsr.core.metrics import evaluate_sr, kernel_psnr, kernel_width

    true_rms, true_centre = kernel_width(pair["kernel"])
    row: dict[str, Any] = {"k_rms_true": f"{true_rms:.3f}"}
    if method == "bicubic":
        sr = torch_bicubic(pair["lr"], scale)
    elif method == "bicubic-phase":
        sr = np.clip(phase_correct_bicubic(pair["lr"], scale, SAMPLING), 0, 1)
    elif oracle_of(method) == "nonblind":
        sr = nonblind(pair["lr"], pair["kernel"], scale, SAMPLING, noise_sigma=0.0)  # (noise-free 8-bit files)
    else:
        cfg = config_for(method, scale, seed, args.iterations, args.kernel_warmup)
        known = pair["kernel"] if oracle_of(method) == "dip" else None
        gen = iterate(pair["lr"], cfg, known_kernel=known)
        warm = next(gen)
        while warm.stage != "warmup":  # (the setup Step comes first)
            warm = next(gen)
        try:
            while True:
                next(gen)
        except StopIteration as stop:
            result = stop.value
        sr = result.sr
        rms, centre = kernel_width(result.kernel)
        row.update(
            iterations=cfg.outer_iterations,
            iterations_done=result.iterations_done,
            kernel_psnr=f"{kernel_psnr(result.kernel, pair['kernel']):.3f}",
            k_rms=f"{rms:.3f}",
            k_centre_err=f"{np.abs(centre - true_centre).max():.3f}",
            warmup_rms=f"{kernel_width(warm.kernel)[0]:.3f}",
            s_per_iter=f"{(result.timings['total'] - result.timings['warmup']) / max(result.iterations_done, 1):.3f}",
        )
    metrics = evaluate_sr(sr, pair["hr"], scale)
    row.update(psnr_y=f"{metrics['psnr_y']:.4f}", ssim_y=f"{metrics['ssim_y']:.4f}")
    return row


def key(row: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (str(row["image"]), str(row["scale"]), str(row["method"]), str(row["seed"]), str(row.get("iterations", "")))


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    done = {key(r) for r in C.read_csv_rows(args.csv)}
    commit = C.git_commit() or "unknown"
    for scale in args.scales:
        for stem in args.images or sorted({s for sc, s in REFERENCE if sc == scale}):
            pair = load_pair(args.anchor_dir, scale, stem)
            for method in args.methods:
                engine = METHODS[method].engine
                for seed in args.seeds if engine else [0]:  # (a baseline has no seed)
                    iters = ""
                    if engine:
                        iters = str(config_for(method, scale, seed, args.iterations, None).outer_iterations)
                    base = {"image": stem, "scale": scale, "method": method, "seed": seed, "iterations": iters}
                    if key(base) in done:
                        continue
                    t0 = time.perf_counter()
                    row = {**base, **run_one(method, pair, scale, seed, args)}
                    row.update(threads=args.threads, git_commit=commit, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
                    C.append_csv_row(args.csv, row, FIELDS)
                    print(
                        f"x{scale} {stem[:24]:24s} {method:14s} seed {seed} it {iters:>3s}: PSNR-Y {row['psnr_y']} "
                        f"SSIM-Y {row['ssim_y']} k_rms {row.get('k_rms', '')}/{row['k_rms_true']} "
                        f"({time.perf_counter() - t0:.0f} s)",
                        flush=True,
                    )


def _ms(values: list[float], digits: int = 2) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def _values(rows: list[dict[str, str]], field: str) -> list[float]:
    return [float(r[field]) for r in rows if r.get(field)]


HEADER = [
    "image",
    "method",
    "iters",
    "seeds",
    "PSNR-Y",
    "SSIM-Y",
    "kernel PSNR",
    "k RMS (true)",
    "warm-up RMS",
    "s/iter",
]


def _order(method: str) -> int:
    """A method's place in the tables; a retired one (an old CSV row) comes last."""
    return list(METHODS).index(method) if method in METHODS else len(METHODS)


def report(rows: list[dict[str, str]]) -> str:
    """Markdown per scale: each image's reference and (method, schedule) mean ± std over seeds, then the
    mean over images of the per-image means (only for runs that cover every image)."""
    out = []
    for scale in sorted({int(r["scale"]) for r in rows}):
        at_scale = [r for r in rows if int(r["scale"]) == scale]
        stems = sorted({r["image"] for r in at_scale})
        runs = sorted({(r["method"], r["iterations"]) for r in at_scale}, key=lambda m: (_order(m[0]), m[1]))
        lines = [HEADER, ["---"] * len(HEADER)]
        means: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for stem in stems:
            ref = REFERENCE.get((scale, stem))
            if ref:
                lines.append(
                    [stem, "MLMC reference code", "200", "1", f"{ref[2]:.2f}", f"{ref[3]:.4f}", f"{ref[4]:.2f}"]
                )
                lines[-1] += ["", "", f"{ref[5]:.2f}"]
            for method, iters in runs:
                sel = [r for r in at_scale if r["image"] == stem and (r["method"], r["iterations"]) == (method, iters)]
                if not sel:
                    continue
                psnrs, ssims = _values(sel, "psnr_y"), _values(sel, "ssim_y")
                means.setdefault((method, iters), []).append((float(np.mean(psnrs)), float(np.mean(ssims))))
                k_rms = f"{_ms(_values(sel, 'k_rms'))} ({sel[0]['k_rms_true']})"
                used = _values(sel, "iterations_done")  # (fewer than planned where the run converged)
                cell = f"{iters} ({_ms(used, 0)} used)" if used and used != [float(iters)] * len(used) else iters
                lines.append([stem, method, cell or "—", str(len(sel)), _ms(psnrs), _ms(ssims, 4)])
                lines[-1] += [_ms(_values(sel, "kernel_psnr")), k_rms, _ms(_values(sel, "warmup_rms"))]
                lines[-1] += [_ms(_values(sel, "s_per_iter"))]
        for (method, iters), per_image in means.items():
            if len(per_image) == len(stems):
                psnr, ssim = np.mean(per_image, axis=0)
                lines.append(
                    ["**mean of images**", method, iters or "—", "", f"{psnr:.2f}", f"{ssim:.4f}", "", "", "", ""]
                )
        refs = [REFERENCE[(scale, s)] for s in stems if (scale, s) in REFERENCE]
        if refs and len(refs) == len(stems):
            psnr, ssim = np.mean([r[2] for r in refs]), np.mean([r[3] for r in refs])
            lines.append(["**mean of images**", "MLMC reference code", "200", "1", f"{psnr:.2f}", f"{ssim:.4f}"])
            lines[-1] += ["", "", "", ""]
        out.append(f"### ×{scale}\n\n" + "\n".join("| " + " | ".join(line) + " |" for line in lines))
    return "\n\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.anchor", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--anchor-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    p.add_argument("--scales", type=int, nargs="+", default=[4, 2])
    p.add_argument("--images", nargs="+", default=None, help="stems (default: all three)")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["bicubic", "bicubic-phase", "hacbsr", "hacbsr-paper", "mlmc"],
        choices=list(METHODS),
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="proxy schedule: HACBSR's N, MLMC gets 2/3 of it (default: each mode's full one)",
    )
    p.add_argument("--kernel-warmup", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report-only", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.report_only:
        if not args.anchor_dir.is_dir():
            print(f"anchor folder not found: {args.anchor_dir} (pass --anchor-dir)", file=sys.stderr)
            return 2
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        run(args)
    rows = C.read_csv_rows(args.csv)
    print(report(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
