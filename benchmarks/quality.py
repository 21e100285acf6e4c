"""Quality benchmark: the paper's Table I / Table III protocol on a folder of HR images.

    python -m benchmarks.quality --preset cpu            # CPU tier (duration: docs/benchmarks.md)
    python -m benchmarks.quality --preset paper          # paper tier: full images, 300x5, CUDA
    python -m benchmarks.quality --preset cpu --report-only   # rebuild tables/figures from the CSV
    python -m benchmarks.quality --anchor --scales 4 2         # the MLMC reference anchor (benchmarks.anchor)

Each HR image is (optionally) centre-cropped, degraded once per (protocol, scale, seed) with
`napari_hacbsr.core.degradation.simulate` and cached on disk (`benchmarks.lr_cache`), so every method and
every run sees the identical LR image. Every method (`benchmarks.methods`) then reconstructs it; one CSV
row per (image, scale, method, seed), with the commit, is appended as soon as it is done, so a crash or
Ctrl-C loses at most the run in progress and a re-run resumes. Tables (Markdown, the layout of the paper's
Table I/III), a PSNR-gain figure and a visual grid are rebuilt at the end (`benchmarks.quality_report`).
The tiers and every parameter: `benchmarks.quality_settings`, docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from . import _common as C
from .methods import METHODS, method_config
from .oracle import dip, forward_kernel, nonblind, oracle_of
from .quality_settings import CSV_FIELDS, check_resume, lr_cache, resolve_args, run_settings, schedule


# ---------------------------------------------------------------------------- one run
def engine_config(args: argparse.Namespace, method: str, scale: int, seed: int):
    from napari_hacbsr.core.degradation import PROTOCOL_SAMPLING

    return method_config(
        method,
        sampling=PROTOCOL_SAMPLING[args.protocol],  # the convention the data was made with
        scale=scale,
        seed=seed,
        device=args.device,
        encoder=args.encoder,
        precision=args.precision,
        extra={"benchmark": "benchmarks.quality", "method": method},
        **schedule(args, METHODS[method].mode),
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
    sampling = PROTOCOL_SAMPLING[args.protocol]
    info: dict[str, Any] = {}
    baseline = not METHODS[method].engine
    with C.PeakMemory(args.device if not baseline else "cpu") as mem:
        t0 = time.perf_counter()
        if baseline:
            if method == "bicubic":
                sr = np.asarray(bicubic_upscale(lr, scale), dtype=np.float64)
            elif oracle_of(method) == "nonblind":
                kernel, sigma = forward_kernel(pair["kernel"], scale, args.protocol), pair["params"]["noise_sigma"]
                sr = nonblind(lr, kernel, scale, sampling, sigma)
            else:
                sr = np.clip(phase_correct_bicubic(lr, scale, sampling), 0.0, 1.0)
            sr = sr[: hr.shape[0], : hr.shape[1]]
            k_est = None
            info.update(device="cpu", encoder="", iterations="", inner_steps="", precision="", lr_consistency="")
        else:
            config = engine_config(args, method, scale, seed)
            if oracle_of(method) == "dip":
                result = dip(lr, forward_kernel(pair["kernel"], scale, args.protocol), config)
            else:
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
def row_key(row: dict[str, Any]) -> tuple[str, int, str, int]:
    """(image, scale, method, seed): one run, as the resume check counts it."""
    return (str(row["image"]), int(row["scale"]), str(row["method"]), int(row["seed"]))


def run_benchmark(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    check_resume(args)
    csv_path = args.out / "results.csv"
    done = {row_key(r) for r in C.read_csv_rows(csv_path)}
    images = C.list_images(args.hr_dir, args.limit, args.select, args.images)
    cache = lr_cache(args)
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
    weight = {m: (schedule(args, METHODS[m].mode)["iterations"] if METHODS[m].engine else 0.02) for m in args.methods}
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
        for r in C.read_csv_rows(csv_path)
        if r["method"] == "bicubic"
    }
    try:
        for i, (path, body, seed, scale, method) in enumerate(pending, 1):
            pair = cache.pair(path, scale, seed)
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
            C.append_csv_row(csv_path, row, CSV_FIELDS)
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
    if "--anchor" in argv:  # the MLMC reference anchor (identical LR files): benchmarks.anchor
        from . import anchor

        return anchor.main([a for a in argv if a != "--anchor"])
    args = resolve_args(argv)
    status = 0
    if not args.report_only:
        status = run_benchmark(args)
    from .quality_report import build_report  # (tables and figures: their own module)

    build_report(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
