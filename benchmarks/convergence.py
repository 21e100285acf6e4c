"""The convergence rule measured (issue 26, core.convergence): iterations used and PSNR-Y against the fixed count.

    python -m benchmarks.convergence --images mars_hrsc_nanedi_y0000x0000 ... --scales 2 --seeds 0

One run per (image, scale, seed) at the fixed count (`convergence_tol=0`, the CPU default's N unless
--iterations), the LR of quality's cache (stride protocol, no noise, 8-bit, 96² crop). The rule reads only the
Steps' LR residual ("lr_mse") and kernel, the very numbers the engine feeds it, so replaying it on the Steps for
each tolerance of --tols gives the iteration each would stop at and the estimate it would return (that Step's
picture) from the one run. Writes `<out>/convergence.csv` (a row per tolerance, the fixed count as tol 0) and
`<out>/convergence_trace.csv` (per iteration: residual, its and the kernel's change over the window, PSNR-Y).
`--replay TRACE` runs nothing: it replays the rule on such a trace (`<out>/convergence_replay.csv`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import _common as C
from .lr_cache import LRCache
from .methods import method_config

OUT = C.REPO_ROOT / "benchmarks" / "results" / "convergence"


def measure(path: Path, scale: int, seed: int, args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    from napari_hacbsr.core.convergence import Convergence, first_check
    from napari_hacbsr.core.engine import iterate
    from napari_hacbsr.core.metrics import evaluate_sr
    from napari_hacbsr.core.plan import resolve

    pair = LRCache(args.cache_dir, "stride", args.crop, 0.0).pair(path, scale, seed)
    changes = {"scale": scale, "seed": seed, "sampling": "stride", "device": "cpu", "encoder": "fallback"}
    config = method_config("hacbsr", **changes, convergence_tol=0.0, yield_every=1, iterations=args.iterations)
    plan = resolve(config, "cpu")
    minimum = first_check(plan.share_iterations)
    rules = {tol: Convergence(tol, minimum) for tol in args.tols}
    trace_rule = Convergence(1.0, 0)  # (only its window's changes, for the trace)
    stops: dict[float, dict] = {}
    trace: list[dict] = []
    t0 = time.perf_counter()
    run = iterate(pair["lr"], config)
    while True:
        try:
            step = next(run)
        except StopIteration as done:
            result = done.value
            break
        if step.stage != "iterate":
            continue
        residual = step.losses["lr_mse"]
        trace_rule.update(residual, step.kernel)
        score = evaluate_sr(step.sr, pair["hr"], scale)
        d_r, d_k = trace_rule.changes or (float("nan"), float("nan"))
        base = {"image": path.stem, "scale": scale, "seed": seed}
        trace.append({**base, "iteration": step.iteration, "lr_mse": f"{residual:.4e}", "residual_change": f"{d_r:.4f}",
                      "kernel_change": f"{d_k:.4f}", "psnr_y": f"{score['psnr_y']:.4f}"})  # fmt: skip
        for tol, rule in rules.items():
            if rule.update(residual, step.kernel) and tol not in stops:
                stops[tol] = {**base, "tol": tol, "iterations_used": step.iteration, "psnr_y": score["psnr_y"],
                              "ssim_y": score["ssim_y"], "wall_s": time.perf_counter() - t0}  # fmt: skip
    final = evaluate_sr(result.sr, pair["hr"], scale)
    fixed = {"image": path.stem, "scale": scale, "seed": seed, "tol": 0.0, "iterations_used": result.iterations_done,
             "psnr_y": final["psnr_y"], "ssim_y": final["ssim_y"], "wall_s": time.perf_counter() - t0}  # fmt: skip
    rows = [fixed]
    for tol in args.tols:
        row = stops.get(tol, {**fixed, "tol": tol})  # never converged: the ceiling's result
        rows.append(row)
    reference = fixed["psnr_y"]
    for row in rows:
        row.update(ceiling=plan.iterations, first_check=minimum, delta_vs_fixed=f"{row['psnr_y'] - reference:+.4f}")
        row.update(psnr_y=f"{row['psnr_y']:.4f}", ssim_y=f"{row['ssim_y']:.4f}", wall_s=f"{row['wall_s']:.1f}")
    return rows, trace


def replay(trace_csv: Path, tols: list[float], first: int) -> list[dict]:
    """The rule (`core.convergence.has_converged`) replayed on a trace's residuals and kernel changes: per
    (image, scale, seed) and tolerance, the iteration it stops at and that iteration's PSNR-Y (the ceiling's
    where it never fires). `first`: the plan's first check (the CPU default's share 27 + 10 = 37 at N = 100)."""
    from napari_hacbsr.core.convergence import WINDOW, has_converged

    runs: dict[tuple[str, str, str], list[dict]] = {}
    for row in C.read_csv_rows(trace_csv):
        runs.setdefault((row["image"], row["scale"], row["seed"]), []).append(row)
    out = []
    for (image, scale, seed), rows in runs.items():
        rows.sort(key=lambda r: int(r["iteration"]))
        residuals = [float(r["lr_mse"]) for r in rows]
        fixed = rows[-1]
        for tol in tols:
            stop = next(
                (r for i, r in enumerate(rows) if i + 1 >= max(first, 2 * WINDOW)
                 and has_converged(residuals[i + 1 - 2 * WINDOW : i + 1], float(r["kernel_change"]), tol)),
                fixed,
            )  # fmt: skip
            delta = float(stop["psnr_y"]) - float(fixed["psnr_y"])
            out.append({"image": image, "scale": scale, "seed": seed, "tol": tol, "iterations_used": stop["iteration"],
                        "ceiling": fixed["iteration"], "first_check": first, "psnr_y": stop["psnr_y"],
                        "delta_vs_fixed": f"{delta:+.4f}", "trace_commit": fixed["git_commit"]})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.convergence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--images", nargs="+", required=True, help="stems in the planetary HR folder")
    p.add_argument("--scales", type=int, nargs="+", default=[2])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--tols", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.05])
    p.add_argument("--iterations", type=int, default=None, help="the ceiling (default: the CPU default's N)")
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--cache-dir", type=Path, default=C.BENCH_OUT / "lr_cache")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--replay", type=Path, default=None, help="a trace CSV: replay the rule on it, run nothing")
    p.add_argument("--first-check", type=int, default=37, help="with --replay: the plan's first check")
    args = p.parse_args(argv)
    if args.replay is not None:
        rows = replay(args.replay, args.tols, args.first_check)
        commit = C.git_commit() or "unknown"
        for row in rows:
            fields = [*rows[0], "git_commit"]
            C.append_csv_row(args.out / "convergence_replay.csv", {**row, "git_commit": commit}, fields)
            print(f"x{row['scale']} {row['image'][:30]:30s} tol {row['tol']:<6} it {row['iterations_used']:>3} "
                  f"PSNR-Y {row['psnr_y']} ({row['delta_vs_fixed']})")  # fmt: skip
        return 0
    import torch

    torch.set_num_threads(args.threads)
    commit = C.git_commit() or "unknown"
    fields = ["image", "scale", "seed", "tol", "iterations_used", "ceiling", "first_check", "psnr_y", "ssim_y"]
    fields += ["delta_vs_fixed", "wall_s", "git_commit"]
    for scale in args.scales:
        for seed in args.seeds:
            for stem in args.images:
                rows, trace = measure(C.DEFAULT_HR_DIR / f"{stem}.png", scale, seed, args)
                for row in rows:
                    C.append_csv_row(args.out / "convergence.csv", {**row, "git_commit": commit}, fields)
                    print(f"x{scale} {stem[:30]:30s} tol {row['tol']:<6} it {row['iterations_used']:>3} "
                          f"PSNR-Y {row['psnr_y']} ({row['delta_vs_fixed']})", flush=True)  # fmt: skip
                for line in trace:
                    C.append_csv_row(args.out / "convergence_trace.csv", {**line, "git_commit": commit},
                                     [*trace[0], "git_commit"])  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
