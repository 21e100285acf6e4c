"""Speed and memory benchmark of the HACBSR engine, stage by stage.

    python -m benchmarks.speed                       # CPU: HR 64..256, ×4, fp32 + bf16
    python -m benchmarks.speed --device cuda --sizes 64 128 256 512 1024

For each (variant, HR size, precision) a fresh worker process builds the engine's own `Solver`
(`napari_hacbsr.core.engine`, which has one method per stage) on a synthetic LR image and times:

  bare DIP step     G_x forward + MSE(A(x, k), y) + backward + Adam step: the physical floor
  image step        the engine's full image step (data + hyper-Laplacian + history/CLIP term,
                    backward, Adam, kernel-side loss)
  f_c term          the CLIP (or fallback) feature term alone: f_c(x) forward + backward
  KL / MCMC stage   HACBSR: T CKS kernels + one kernel Adam step; MLMC: L prior kernels weighted
                    by their LR fit (one extra no-grad G_x forward) + one kernel step
  meta update       weighted sum of the P kernel-side losses + kernel Adam step
  history update    EMA of G_x's parameters + no-grad G_x^hist forward + f_c(x_h)
  outer iteration   `Solver.outer_iteration` (MSE phase), i.e. everything above as the loop runs it
  inner step (amortised) = outer iteration / P; ratio = inner step / bare DIP step (target ≤ 1.3)

Timings are medians over --repeats calls after --warmup calls (CUDA synchronised). Memory is the
worker's peak over the timed loop: CUDA max allocated, or the process's peak RSS on CPU (also given
above the RSS measured right before the solver was built). Results: speed.csv, speed.md, speed.json
in --out (default bench_out/speed/<device>), with the commit; the tables: `benchmarks.speed_report`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from napari_hacbsr.core.config import ENCODERS, PRECISIONS

from . import _common as C
from .methods import method_config
from .speed_report import STAGES, VARIANTS, ms, report


# ---------------------------------------------------------------------------- worker
def _sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from napari_hacbsr.core.degradation import forward_model
    from napari_hacbsr.core.device import resolve_device
    from napari_hacbsr.core.engine import Solver
    from napari_hacbsr.core.image import prepare_image
    from napari_hacbsr.core.plan import resolve

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    scale, size = int(spec["scale"]), int(spec["size"])
    device = resolve_device(spec["device"])
    method, overrides = VARIANTS[spec["variant"]]
    overrides = dict(overrides)
    if spec["variant"] == "hacbsr" and spec.get("encoder"):
        overrides["encoder"] = spec["encoder"]
    # the MSE data term with the history term on (the paper's; HACBSR's default drops it in the MSE phase):
    # the costliest image step the loop can take
    base = {"kernel_warmup": 0, "ssim_share": 0.0, "history_in_mse": True}
    precision = spec["precision"]
    cfg = method_config(method, scale=scale, seed=0, device=str(device), precision=precision, **base, **overrides)
    rng = np.random.default_rng(0)
    lr_side = size // scale
    yy, xx = np.mgrid[0:lr_side, 0:lr_side] / max(1, lr_side)
    lr = 0.5 + 0.2 * np.sin(9 * xx) * np.cos(7 * yy) + 0.05 * rng.standard_normal((lr_side, lr_side))
    lr = np.clip(lr, 0, 1).astype(np.float32)
    rss_before = (C._proc_status_kb("VmRSS") or 0) / 1024.0
    mem = C.PeakMemory(str(device))
    mem.__enter__()
    prepared = prepare_image(lr, scale, None, cfg.gray_channels)
    t0 = time.perf_counter()
    solver = Solver(prepared, resolve(cfg, device, prepared), device)
    setup_s = time.perf_counter() - t0
    if solver.net_hist is not None:
        solver.refresh_history_features()
    warm, reps = int(spec["warmup"]), int(spec["repeats"])
    out: dict[str, Any] = {
        **spec,
        "device_name": C.machine_info()["gpu"] or C.cpu_model(),
        "encoder": solver.encoder.name if solver.encoder else "none",
        "hr_side": size,
        "lr_side": lr_side,
        "setup_s": setup_s,
    }
    kernel = solver.net_k(solver.z_k).detach()

    def bare_step() -> None:  # the floor: what any DIP-based blind SR must pay per image step
        x = solver.generate()
        loss = F.mse_loss(forward_model(x, kernel, scale), solver.y)
        solver.opt_x.zero_grad(set_to_none=True)
        loss.backward()
        solver.opt_x.step()

    k_live = solver.net_k(solver.z_k)
    # same protocol as the image step (for the "extras" line of the breakdown)
    out["bare_dip_step_single"] = _time(bare_step, device, warm, reps)
    out["image_step"] = _time(lambda: solver.image_step(k_live, False), device, warm, reps)

    if solver.encoder is not None:
        x_leaf = torch.rand(1, prepared.net_channels, size, size, device=device, requires_grad=True)

        def fc_term() -> None:
            loss = F.mse_loss(solver.features(x_leaf), solver.feat_hist)
            loss.backward()
            x_leaf.grad = None

        out["fc_term"] = _time(fc_term, device, warm, reps)
        out["history_update"] = _time(lambda: solver.history_update(1e-3), device, warm, reps)
    else:
        out["fc_term"] = 0.0
        out["history_update"] = 0.0
    out["kl_stage"] = _time(solver.kernel_prior_step, device, warm, reps)

    def meta() -> None:
        k = solver.net_k(solver.z_k)
        losses = [F.mse_loss(forward_model(solver.x_last, k, scale), solver.y) for _ in range(cfg.inner_steps)]
        values = [float(v.item()) for v in losses] if cfg.mode == "hacbsr" else None
        solver.meta_update(losses, values)

    out["meta_update"] = _time(meta, device, warm, reps)
    # The headline ratio: interleaved rounds of one outer iteration and P bare steps, so that load
    # drift on a shared machine hits both sides alike; medians over the rounds.
    counter = iter(range(10**9))

    def outer() -> None:
        solver.outer_iteration(solver.cfg.ssim_iterations + next(counter), lambda: False)

    def bare_p() -> None:
        for _ in range(cfg.inner_steps):
            bare_step()

    outer()
    bare_p()
    outer_t, bare_t = [], []
    for _ in range(max(3, int(spec.get("rounds", 4)))):
        outer_t.append(_time(outer, device, 0, 1))
        bare_t.append(_time(bare_p, device, 0, 1) / cfg.inner_steps)
    out["outer_iteration"] = statistics.median(outer_t)
    out["bare_dip_step"] = statistics.median(bare_t)
    out["outer_iteration_samples"] = outer_t
    out["bare_dip_step_samples"] = bare_t
    out["inner_steps"] = cfg.inner_steps
    out["inner_step_amortised"] = out["outer_iteration"] / cfg.inner_steps
    out["ratio_vs_bare"] = out["inner_step_amortised"] / out["bare_dip_step"]
    mem.__exit__(None, None, None)
    out["peak_mem_mb"] = mem.peak_mb
    out["mem_kind"] = mem.kind
    out["rss_before_mb"] = rss_before if mem.kind == "cpu_peak_rss" else float("nan")
    out["mem_above_start_mb"] = mem.peak_mb - rss_before if mem.kind == "cpu_peak_rss" else mem.peak_mb
    # bookkeeping for the breakdown: how often each stage runs per outer iteration
    if cfg.mode == "hacbsr":
        hist = cfg.inner_steps / cfg.history_interval if solver.net_hist is not None else 0
        calls = {"kl_stage": 1, "image_step": cfg.inner_steps, "meta_update": 1, "history_update": hist}
    else:
        calls = {
            "kl_stage": 1,
            "image_step": cfg.inner_steps,
            "meta_update": cfg.inner_steps / cfg.mlmc_meta_interval,
            "history_update": 0,
        }
    out["calls_per_outer"] = calls
    solver.release()
    return out


# ---------------------------------------------------------------------------- driver
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        help="HR sides (default CPU 64 128 192 256; CUDA 64 128 256 512 1024)",
    )
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    p.add_argument(
        "--bf16-variants",
        nargs="+",
        default=["hacbsr"],
        choices=list(VARIANTS),
        help="variants that are also timed in bf16 (keeps the CPU run short)",
    )
    p.add_argument("--encoder", choices=ENCODERS, default="auto", help="encoder of the plain 'hacbsr' variant")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per stage")
    p.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="interleaved rounds (1 outer iteration + P bare steps) for the headline ratio",
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--timeout", type=float, default=1800, help="seconds per worker")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def run_worker_process(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.speed", "--worker", json.dumps(spec)]
    try:  # (from the repository root, where `benchmarks` is the package)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=C.REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timeout after {timeout:.0f} s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {**spec, "error": " | ".join(tail) or f"exit {proc.returncode}"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker)), default=float), flush=True)
        return 0
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    sizes = args.sizes or ([64, 128, 256, 512, 1024] if cuda else [64, 128, 192, 256])
    tag = "cuda" if cuda else "cpu"
    out = args.out or C.BENCH_OUT / "speed" / tag
    out.mkdir(parents=True, exist_ok=True)
    info = C.machine_info(args.device)
    specs = []
    for precision in args.precisions:
        for variant in args.variants:
            if precision == "bf16" and variant not in args.bf16_variants:
                continue
            for size in sizes:
                specs.append(
                    {
                        "variant": variant,
                        "size": size,
                        "scale": args.scale,
                        "device": args.device,
                        "precision": precision,
                        "encoder": args.encoder,
                        "warmup": args.warmup,
                        "repeats": args.repeats,
                        "rounds": args.rounds,
                        "threads": args.threads,
                    }
                )
    results = []
    stopped_sizes: set[tuple[str, str]] = set()
    for i, spec in enumerate(specs, 1):
        key = (spec["variant"], spec["precision"])
        if key in stopped_sizes:  # a smaller size already ran out of memory / time
            results.append({**spec, "error": "skipped: a smaller size failed"})
            continue
        t0 = time.perf_counter()
        res = run_worker_process(spec, args.timeout)
        results.append(res)
        if "error" in res:
            stopped_sizes.add(key)
            print(
                f"[speed {i}/{len(specs)}] {spec['variant']} {spec['precision']} {spec['size']}²: "
                f"FAILED {res['error']}",
                flush=True,
            )
        else:
            print(
                f"[speed {i}/{len(specs)}] {spec['variant']:<17} {spec['precision']} {spec['size']:>5}²  "
                f"bare {ms(res['bare_dip_step'])} ms  inner {ms(res['inner_step_amortised'])} ms  "
                f"ratio {res['ratio_vs_bare']:.2f}  peak {res['peak_mem_mb']:.0f} MiB  "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        C.write_json(out / "speed.json", {"machine": info, "results": results})
    md = report(results, info, args)
    (out / "speed.md").write_text(md + "\n")
    fields = [
        "variant",
        "precision",
        "hr_side",
        "lr_side",
        "scale",
        "device",
        "device_name",
        "encoder",
        *STAGES,
        "inner_step_amortised",
        "ratio_vs_bare",
        "setup_s",
        "peak_mem_mb",
        "mem_kind",
        "rss_before_mb",
        "mem_above_start_mb",
        "error",
        "git_commit",
    ]
    import csv

    with open(out / "speed.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow({**r, "hr_side": r.get("hr_side", r.get("size")), "git_commit": info["git_commit"]})
    print(md)
    print(f"[speed] wrote {out / 'speed.md'}, speed.csv, speed.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
