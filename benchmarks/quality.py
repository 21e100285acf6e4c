#!/usr/bin/env python
"""Quality benchmark: the paper's Table I / Table III protocol on a folder of HR images.

    python benchmarks/quality.py --preset cpu            # CPU tier (duration: docs/benchmarks.md)
    python benchmarks/quality.py --preset paper          # paper tier: full images, 300x5, CUDA
    python benchmarks/quality.py --preset cpu --report-only   # rebuild tables/figures from the CSV
    python benchmarks/quality.py --anchor --scales 4 2         # the MLMC reference anchor (anchor.py)

Each HR image is (optionally) centre-cropped, degraded once per (protocol, scale, seed) with
`napari_hacbsr.core.degradation.simulate` and cached on disk, so every method and every run sees
the identical LR image. Every method then reconstructs it; one CSV row per (image, scale, method,
seed) is appended as soon as it is done, so a crash or Ctrl-C loses at most the run in progress
and a re-run resumes. Tables (Markdown, the layout of the paper's Table I/III), a PSNR-gain
figure and a visual grid are rebuilt at the end. See docs/benchmarks.md for every parameter.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from napari_hacbsr.core.config import ENCODERS, PRECISIONS  # noqa: E402

# ---------------------------------------------------------------------------- presets
# cpu: small centre crops and a reduced schedule (fraction of the paper's N; MLMC keeps its 2/3
#      ratio to HACBSR, the SSIM phase shrinks with it) so the whole tier fits a 2-core CPU in about an hour
#      (an estimate from measured step costs; docs/benchmarks.md).
# paper: full images, the paper's schedule (HACBSR 300x5, MLMC 200x5), CUDA.
# CPU tier images (used when --hr-dir is the default folder and --images is not given): one per
# body, Ceres first (the paper's body), chosen for textured 96-px centre crops (no blank sky).
CPU_IMAGES = [
    "ceres_dawnfc_ceres1k_0001",
    "moon_lrocnac_M115143943RE_cal_echo_2_2",
    "europa_galileossi_11ESREGMAP01_y2336x0896",
    "mars_hrsc_nanedi_y0932x0000",
]
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {
        "crop": 96,
        "limit": None,
        "schedule_fraction": 0.2,
        "device": "cpu",
        "seeds": [0],
        "scales": [2, 3, 4],
        "images": CPU_IMAGES,
    },
    "paper": {
        "crop": 0,
        "limit": None,
        "schedule_fraction": 1.0,
        "device": "cuda",
        "seeds": [0],
        "scales": [2, 3, 4],
        "images": None,
    },
}
DEFAULT_METHODS = ["bicubic", "bicubic-phase", "mlmc", "hacbsr", "hacbsr-ck", "hacbsr-cl", "hacbsr-ck-cl"]
DEFAULT_NOISE_MAX = 10.0 / 255.0  # MLMC paper's lower noise level (3.92 %); sigma ~ U(0, noise_max)

CSV_FIELDS = [
    "image",
    "body",
    "scale",
    "method",
    "seed",
    "protocol",
    "crop",
    "hr_h",
    "hr_w",
    "psnr_y",
    "ssim_y",
    "psnr_gray",
    "ssim_gray",
    "kernel_psnr",
    "lpips",
    "wall_s",
    "peak_mem_mb",
    "mem_kind",
    "device",
    "encoder",
    "iterations",
    "inner_steps",
    "precision",
    "lr_consistency",
    "preset",
    "git_commit",
    "finished_at",
]
KEY_FIELDS = ("image", "scale", "method", "seed")
# Settings that change the numbers: resuming into a CSV made with different ones is refused.
ESSENTIAL = (
    "protocol",
    "noise_max",
    "kernel_noise",
    "quantize",
    "crop",
    "schedule_fraction",
    "iterations",
    "inner_steps",
    "kernel_warmup",
    "encoder",
    "precision",
)


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="HACBSR quality benchmark (paper Table I/III protocol). Values left unset come from --preset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="cpu",
        help="cpu: 4 images, crop 96, 20%% schedule (HACBSR 60x5, MLMC 40x5), CPU; "
        "paper: all images, full size, 300x5 / 200x5, CUDA",
    )
    p.add_argument("--hr-dir", type=Path, default=C.DEFAULT_HR_DIR, help="folder of HR images")
    p.add_argument("--images", nargs="+", default=None, help="only these file names/stems")
    p.add_argument(
        "--select",
        choices=["spread", "sorted"],
        default="spread",
        help="image order: round-robin over bodies (Ceres first) or file-name order",
    )
    p.add_argument("--limit", type=int, default=None, help="first N images (0 = all; preset default)")
    p.add_argument("--crop", type=int, default=None, help="centre crop of the HR, px (0 = full image)")
    p.add_argument("--scales", type=int, nargs="+", default=None)
    p.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=list(C.METHODS))
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds: each seed gives its own LR set (kernel, noise) and engine seed",
    )
    p.add_argument(
        "--protocol",
        choices=["bicubic", "stride"],
        default="bicubic",
        help="bicubic: spec §1.3 Ceres-50 reconstruction; stride: spec §1.1 MLMC/FKP",
    )
    p.add_argument(
        "--noise-max",
        type=float,
        default=DEFAULT_NOISE_MAX,
        help="additive noise sigma ~ U(0, noise_max) per image, [0,1] units",
    )
    p.add_argument(
        "--kernel-noise",
        type=float,
        default=0.0,
        help="multiplicative kernel noise U[-n, n] per kernel pixel (FKP noise_ker)",
    )
    p.add_argument(
        "--no-quantize",
        dest="quantize",
        action="store_false",
        help="keep the LR in float instead of flooring it to 8 bits",
    )
    p.add_argument(
        "--schedule-fraction",
        type=float,
        default=None,
        help="outer iterations = round(fraction x paper N) (HACBSR 300, MLMC 200)",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="outer iterations for every engine method (overrides --schedule-fraction)",
    )
    p.add_argument("--inner-steps", type=int, default=5)
    p.add_argument("--kernel-warmup", type=int, default=None, help="kernel warm-up steps (default 200)")
    p.add_argument("--encoder", choices=ENCODERS, default="auto")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N | auto (preset default)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=None, help="default bench_out/quality/<preset>")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="LR cache (default bench_out/lr_cache); keyed by protocol/noise/crop/scale/seed",
    )
    p.add_argument(
        "--no-save-images",
        dest="save_images",
        action="store_false",
        help="do not keep SR PNGs / kernels (the visual grid needs them)",
    )
    p.add_argument("--report-only", action="store_true", help="only rebuild tables and figures")
    p.add_argument("--overwrite", action="store_true", help="discard an existing CSV made with different settings")
    p.add_argument(
        "--diagnostics",
        action="store_true",
        help="add the bias / shift diagnostics table to the report (reads the SR PNGs)",
    )
    p.add_argument("--grid-image", default=None, help="image (stem) for the visual grid")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def resolve_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    preset = PRESETS[args.preset]
    for key in ("crop", "limit", "schedule_fraction", "device", "seeds", "scales"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    if args.images is None and preset["images"] and Path(args.hr_dir).resolve() == C.DEFAULT_HR_DIR:
        args.images = list(preset["images"])
    if args.limit == 0:
        args.limit = None
    args.crop = int(args.crop or 0)
    if args.out is None:
        args.out = C.BENCH_OUT / "quality" / args.preset
    if args.cache_dir is None:
        args.cache_dir = C.BENCH_OUT / "lr_cache"
    args.out = Path(args.out)
    args.cache_dir = Path(args.cache_dir)
    # keep the method order canonical (tables, figures)
    args.methods = [m for m in C.METHODS if m in set(args.methods)]
    return args


def schedule(args: argparse.Namespace, mode: str) -> dict[str, int]:
    """Outer iterations and warm-up for an engine mode under this run's schedule.

    N is a fraction of the mode's GPU (paper) schedule, or --iterations; the 1-SSIM phase is the
    config's policy (the paper's proportion of N).
    """
    from napari_hacbsr.core.config import SCHEDULES

    paper = SCHEDULES["gpu"]["iterations"]
    if args.iterations is not None:
        n = int(args.iterations)
    else:
        n = max(1, int(round(paper[mode] * float(args.schedule_fraction))))
    out = {"iterations": n, "inner_steps": int(args.inner_steps)}
    if args.kernel_warmup is not None:
        out["kernel_warmup"] = int(args.kernel_warmup)
    return out


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "preset": args.preset,
        "protocol": args.protocol,
        "noise_max": args.noise_max,
        "kernel_noise": args.kernel_noise,
        "quantize": args.quantize,
        "crop": args.crop,
        "schedule_fraction": args.schedule_fraction,
        "iterations": args.iterations,
        "inner_steps": args.inner_steps,
        "kernel_warmup": args.kernel_warmup,
        "encoder": args.encoder,
        "precision": args.precision,
        "device": args.device,
        "hr_dir": str(args.hr_dir),
        "select": args.select,
        "limit": args.limit,
        "schedules": {m: schedule(args, m) for m in ("hacbsr", "mlmc")},
    }


# ---------------------------------------------------------------------------- LR cache
def cache_key_dir(args: argparse.Namespace, scale: int, seed: int) -> Path:
    noise = f"nmax{args.noise_max:.5f}_knoise{args.kernel_noise:.3f}"
    crop = f"crop{args.crop}" if args.crop else "full"
    q = "q8" if args.quantize else "float"
    return args.cache_dir / f"{args.protocol}_{crop}_{noise}_{q}" / f"x{scale}_seed{seed}"


def get_lr(args: argparse.Namespace, path: Path, scale: int, seed: int) -> dict[str, Any]:
    """The cached degraded pair for (image, protocol, scale, seed, crop, noise); built once."""
    key = cache_key_dir(args, scale, seed)
    npz, meta = key / f"{path.stem}.npz", key / f"{path.stem}.json"
    if npz.is_file() and meta.is_file():
        with np.load(npz) as data:
            arrays = {k: data[k] for k in ("lr", "hr", "kernel")}
        return {**arrays, "params": json.loads(meta.read_text())}

    from napari_hacbsr.core.degradation import centre_crop, simulate

    hr_full = C.load_gray01(path)
    hr = centre_crop(hr_full, args.crop)
    dseed = C.derived_seed(path.stem, scale, seed)
    deg = simulate(
        hr,
        scale,
        protocol=args.protocol,
        noise_max=args.noise_max,
        kernel_noise=args.kernel_noise,
        seed=dseed,
        quantize=args.quantize,
    )
    params = {
        **deg.params,
        "source": path.name,
        "source_shape": list(hr_full.shape),
        "crop": args.crop,
        "bench_seed": seed,
        "derived_seed": dseed,
        "derived_seed_rule": "crc32('<stem>|x<scale>|<seed>') & 0x7fffffff",
    }
    key.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_suffix(".tmp.npz")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, lr=deg.lr, hr=deg.hr, kernel=deg.kernel)
    os.replace(tmp, npz)
    C.save_png01(key / f"{path.stem}_lr.png", deg.lr)
    C.write_json(meta, params)
    return {"lr": deg.lr, "hr": deg.hr, "kernel": deg.kernel, "params": params}


# ---------------------------------------------------------------------------- CSV
def read_rows(csv_path: Path) -> list[dict[str, str]]:
    if not csv_path.is_file():
        return []
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def row_key(row: dict[str, Any]) -> tuple[str, int, str, int]:
    return (str(row["image"]), int(row["scale"]), str(row["method"]), int(row["seed"]))


def append_row(csv_path: Path, row: dict[str, Any]) -> None:
    new = not csv_path.is_file() or csv_path.stat().st_size == 0
    fields = CSV_FIELDS
    if not new:  # keep the existing file's columns (a CSV written by an older version stays valid)
        with open(csv_path, newline="") as fh:
            fields = next(csv.reader(fh), None) or CSV_FIELDS
    with open(csv_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        fh.flush()
        os.fsync(fh.fileno())


def check_resume(args: argparse.Namespace) -> None:
    """Refuse to mix rows made with different essential settings into one CSV."""
    cfg_path = args.out / "run_config.json"
    csv_path = args.out / "results.csv"
    now = run_settings(args)
    if cfg_path.is_file() and csv_path.is_file():
        old = json.loads(cfg_path.read_text())
        diff = {k: (old.get(k), now[k]) for k in ESSENTIAL if old.get(k) != now[k]}
        if diff and not args.overwrite:
            raise SystemExit(
                f"{csv_path} was made with different settings {diff}; use another --out, or --overwrite to discard it"
            )
        if diff:
            csv_path.unlink()
    C.write_json(cfg_path, now)


# ---------------------------------------------------------------------------- one run
def engine_config(args: argparse.Namespace, method: str, scale: int, seed: int):
    from napari_hacbsr.core.config import HACBSRConfig
    from napari_hacbsr.core.degradation import PROTOCOL_SAMPLING

    overrides = dict(C.METHODS[method] or {})
    preset = overrides.pop("preset", "default")
    overrides.update(schedule(args, overrides["mode"]))
    return HACBSRConfig.preset(
        preset,
        sampling=PROTOCOL_SAMPLING[args.protocol],  # the convention the data was made with
        scale=scale,
        seed=seed,
        device=args.device,
        encoder=args.encoder,
        precision=args.precision,
        extra={"benchmark": "benchmarks/quality.py", "method": method},
        **overrides,
    )


def run_engine(lr: np.ndarray, config: Any, label: str, quiet: bool):
    """The one blocking entry point (`super_resolve`), with an inner progress bar; returns the Result."""
    from tqdm import tqdm

    from napari_hacbsr.core.api import super_resolve

    bar = tqdm(
        total=config.outer_iterations,
        desc=label,
        leave=False,
        disable=quiet,
        mininterval=1.0,
        dynamic_ncols=True,
        position=1,
    )

    def follow(step: Any) -> None:
        bar.n = step.iteration
        bar.refresh()

    try:  # tile=None: the benchmark crops are one run each, like the reference code's
        return super_resolve(lr, config.scale, config=config, callback=follow, tile=None)
    finally:
        bar.close()


def run_one(
    args: argparse.Namespace, method: str, pair: dict[str, Any], scale: int, seed: int, label: str, lpips_metric: Any
) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    from napari_hacbsr.core.degradation import PROTOCOL_SAMPLING, bicubic_upscale, phase_correct_bicubic
    from napari_hacbsr.core.metrics import evaluate_sr, kernel_psnr

    lr, hr = pair["lr"], pair["hr"]
    info: dict[str, Any] = {}
    baseline = C.METHODS[method] is None
    with C.PeakMemory(args.device if not baseline else "cpu") as mem:
        t0 = time.perf_counter()
        if baseline:
            if method == "bicubic":
                sr = np.asarray(bicubic_upscale(lr, scale), dtype=np.float64)
            else:
                sr = np.clip(phase_correct_bicubic(lr, scale, PROTOCOL_SAMPLING[args.protocol]), 0.0, 1.0)
            sr = sr[: hr.shape[0], : hr.shape[1]]
            k_est = None
            info.update(device="cpu", encoder="", iterations="", inner_steps="", precision="", lr_consistency="")
        else:
            config = engine_config(args, method, scale, seed)
            result = run_engine(lr, config, label, args.quiet)
            sr, k_est = np.asarray(result.sr, dtype=np.float64), np.asarray(result.kernel)
            info.update(
                device=result.device,
                encoder=result.encoder,
                iterations=result.iterations_done,
                inner_steps=config.inner_steps,
                precision=config.precision,
                lr_consistency=f"{result.lr_consistency:.3e}",
            )
            info["_provenance"] = {**result.provenance(), "losses": result.losses}
        wall = time.perf_counter() - t0
    metrics = evaluate_sr(sr, hr, scale)
    kpsnr: Any = ""
    if args.protocol == "stride" and k_est is not None:
        kpsnr = f"{kernel_psnr(k_est, pair['kernel']):.3f}"
    lp: Any = "N/A"
    if lpips_metric is not None:
        lp = f"{float(lpips_metric(sr, hr)):.4f}"
    row = {
        "scale": scale,
        "method": method,
        "seed": seed,
        "protocol": args.protocol,
        "crop": args.crop,
        "hr_h": hr.shape[0],
        "hr_w": hr.shape[1],
        **{k: f"{float(metrics[k]):.4f}" for k in ("psnr_y", "ssim_y", "psnr_gray", "ssim_gray")},
        "kernel_psnr": kpsnr,
        "lpips": lp,
        "wall_s": f"{wall:.2f}",
        "peak_mem_mb": f"{mem.peak_mb:.1f}",
        "mem_kind": mem.kind,
        "preset": args.preset,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **info,
    }
    return row, sr, k_est


# ---------------------------------------------------------------------------- main loop
def run_benchmark(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    check_resume(args)
    csv_path = args.out / "results.csv"
    done = {row_key(r) for r in read_rows(csv_path)}
    images = C.list_images(args.hr_dir, args.limit, args.select, args.images)
    jobs = [
        (path, body, seed, scale, method)
        for path, body in images
        for seed in args.seeds
        for scale in args.scales
        for method in args.methods
    ]
    pending = [j for j in jobs if (j[0].stem, j[3], j[4], j[2]) not in done]
    print(
        f"[quality] {len(images)} images x {len(args.scales)} scales x {len(args.methods)} methods x "
        f"{len(args.seeds)} seeds = {len(jobs)} runs; {len(jobs) - len(pending)} already in {csv_path}, "
        f"{len(pending)} to do. schedule: {run_settings(args)['schedules']}",
        flush=True,
    )
    lpips_metric = None
    if pending:
        from napari_hacbsr.core.metrics import LPIPSMetric

        lpips_metric = LPIPSMetric.try_load()
        print(f"[quality] LPIPS: {'loaded' if lpips_metric is not None else 'N/A (weights unavailable)'}", flush=True)
    git = C.git_commit()
    # ETA: weight engine runs by their outer iterations (bicubic is ~free)
    weight = {
        m: (0.02 if C.METHODS[m] is None else schedule(args, (C.METHODS[m] or {})["mode"])["iterations"])
        for m in args.methods
    }
    bar = tqdm(
        total=sum(weight[j[4]] for j in pending),
        desc="quality",
        unit="it",
        disable=args.quiet,
        dynamic_ncols=True,
        mininterval=2.0,
        position=0,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} [{elapsed}<{remaining}]",
    )
    status = 0
    bicubic_psnr: dict[tuple[str, int, int], float] = {
        (r["image"], int(r["scale"]), int(r["seed"])): float(r["psnr_y"])
        for r in read_rows(csv_path)
        if r["method"] == "bicubic"
    }
    try:
        for i, (path, body, seed, scale, method) in enumerate(pending, 1):
            pair = get_lr(args, path, scale, seed)
            label = f"x{scale} {method} {path.stem[:28]}"
            row, sr, k_est = run_one(args, method, pair, scale, seed, label, lpips_metric)
            prov = row.pop("_provenance", None)
            row.update(image=path.stem, body=body, git_commit=git)
            if args.save_images:
                img_dir = args.out / "images" / f"x{scale}" / method
                C.save_png01(img_dir / f"{path.stem}_seed{seed}.png", sr)
                if k_est is not None:
                    np.save(img_dir / f"{path.stem}_seed{seed}_kernel.npy", k_est.astype(np.float32))
            if prov is not None:
                C.write_json(args.out / "runs" / f"x{scale}" / method / f"{path.stem}_seed{seed}.json", prov)
            append_row(csv_path, row)
            if method == "bicubic":
                bicubic_psnr[(path.stem, scale, seed)] = float(row["psnr_y"])
            base = bicubic_psnr.get((path.stem, scale, seed))
            gain = f" ({float(row['psnr_y']) - base:+.2f} vs bicubic)" if base is not None else ""
            bar.update(weight[method])
            msg = (
                f"[{i}/{len(pending)}] x{scale} {method:<13} {path.stem:<44} PSNR-Y {row['psnr_y']}"
                f"{gain} SSIM-Y {row['ssim_y']}  {row['wall_s']} s  {row['peak_mem_mb']} MiB"
            )
            if args.quiet:
                print(msg, flush=True)
            else:
                tqdm.write(msg)
    except KeyboardInterrupt:
        print("\n[quality] interrupted: finished rows are kept; re-run the same command to resume.", flush=True)
        status = 130
    finally:
        bar.close()
    return status


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--anchor" in argv:  # the MLMC reference anchor (identical LR files): benchmarks/anchor.py
        import anchor

        return anchor.main([a for a in argv if a != "--anchor"])
    args = resolve_args(argv)
    status = 0
    if not args.report_only:
        status = run_benchmark(args)
    from quality_report import build_report  # (tables and figures: their own module)

    build_report(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
