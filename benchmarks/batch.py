"""Throughput of `hacbsr batch` on local Dask clusters, and the batch layer's overhead per item.

    python -m benchmarks.batch                      # 6 synthetic 24² LR frames, short CPU schedule (~6 min)
    python -m benchmarks.batch --items 12 --iterations 100   # the CPU demo schedule (slow)

Three ways over the same frames, each into a fresh output folder, after one warm-up item:

  plain loop   read_image -> super_resolve -> write_result in this process (1 torch thread), i.e. what
               a user's own for-loop does; the reference for the overhead
  batch, 1 w   `BatchRun` on a local cluster of 1 worker process (1 thread): hashing, manifest,
               scheduling, atomic publish included
  batch, 2 w   the same with 2 worker processes

The cluster is started (and its workers import torch) before the clock starts; that start-up is
reported on its own. Then, on the 1-worker cluster, each frame once in this process and once on the
worker, in turn (`paired_ratio`). Overheads: "batch layer" = (1-worker batch wall - the worker's summed item
times) / summed item times, i.e. hashing, manifest, scheduling, transfer (target <= 5 % per item); and
"vs loop" = batch wall / plain-loop wall - 1, which also holds any difference in compute speed between
a worker process and this one (on a shared machine, mostly other processes' load).
Writes batch.csv, batch.md and batch.json (with the git commit) into --out (default bench_out/batch).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import BENCH_OUT, fmt, machine_info, markdown_table, write_json


def make_frames(folder: Path, count: int, side: int) -> list[Path]:
    import imageio.v3 as iio

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:side, 0:side]
        img = 0.5 + 0.3 * np.sin(xx / (3.0 + i % 3)) * np.cos(yy / 4.0) + 0.05 * rng.standard_normal((side, side))
        paths.append(folder / f"frame{i:03d}.png")
        iio.imwrite(paths[-1], np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
    return paths


def plain_loop(paths: list[Path], out: Path, config) -> float:
    from napari_hacbsr.core.api import super_resolve
    from napari_hacbsr.files import read_image
    from napari_hacbsr.outputs import write_result

    t0 = time.perf_counter()
    for path in paths:
        image, axis = read_image(path)
        result = super_resolve(image, config.scale, config=config, channel_axis=axis)
        write_result(out, path.stem, result, {"input": str(path), "input_shape": list(image.shape)})
    return time.perf_counter() - t0


def _import_engine() -> int:
    import torch

    import napari_hacbsr.core.api  # noqa: F401 - the first task on a fresh worker pays this import

    return torch.get_num_threads()


def paired_ratio(paths: list[Path], work: Path, config, client) -> float:
    """Median over items of (one item's wall on the worker) / (the same item in this process), run in turn.

    Alternating item by item lets load from other processes hit both sides alike; the ratio holds the
    worker's compute speed, serialisation and scheduling, but not the manifest or hashing.
    """
    from napari_hacbsr.batching.item import run_item

    ratios = []
    for path in paths:
        here = plain_loop([path], work / "pair_here", config)
        t0 = time.perf_counter()
        outcome = client.submit(run_item, path.stem, str(path), str(work / "pair_worker"), config.to_dict(), pure=False)
        assert outcome.result()["status"] == "done"
        ratios.append((time.perf_counter() - t0) / here)
    return float(np.median(ratios))


def batch_on_cluster(paths: list[Path], work: Path, config, workers: int) -> dict:
    from distributed import Client

    from napari_hacbsr.batching.runner import BatchRun, start_local_cluster

    t0 = time.perf_counter()
    cluster = start_local_cluster(workers)
    try:
        with Client(cluster) as client:
            threads = sorted(set(client.run(_import_engine).values()))
            startup = time.perf_counter() - t0
            address = cluster.scheduler_address
            BatchRun(paths[:1], work / f"warm{workers}", config, scheduler=address).run()  # warm every code path
            t1 = time.perf_counter()
            report = BatchRun(paths, work / f"batch{workers}", config, scheduler=address).run()
            wall = time.perf_counter() - t1
            paired = paired_ratio(paths, work, config, client) if workers == 1 else float("nan")
    finally:
        cluster.close()
    assert len(report.done) == len(paths), report.table()
    seconds = [item["seconds"] for item in report.done]
    # What the batch layer adds: with one worker the items run one after another, so wall time beyond
    # the worker's own item time is hashing, manifest, scheduling and result transfer.
    layer = 100 * (wall - sum(seconds)) / sum(seconds) if workers == 1 else float("nan")
    return {
        "method": "batch",
        "workers": workers,
        "wall_s": wall,
        "startup_s": startup,
        "item_s": float(np.median(seconds)),
        "layer_pct": layer,
        "paired_ratio": paired,
        "worker_torch_threads": threads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.batch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--side", type=int, default=24, help="LR side in pixels (HR = side x scale)")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=10, help="outer iterations (short: the machine is shared)")
    parser.add_argument("--kernel-warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="local cluster sizes (1 is required)")
    parser.add_argument(
        "--keep-dask-malloc-trim",
        action="store_true",
        help="keep Dask's MALLOC_TRIM_THRESHOLD_=65536 in the workers (what local clusters unset), to measure it",
    )
    parser.add_argument("--out", type=Path, default=BENCH_OUT / "batch")
    args = parser.parse_args(argv)
    if args.keep_dask_malloc_trim:
        from napari_hacbsr.batching import runner

        runner.LOCAL_CLUSTER_CONFIG.pop("distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_")

    import torch

    from napari_hacbsr.core.config import HACBSRConfig

    torch.set_num_threads(1)  # the same as one batch worker
    schedule = {"iterations": args.iterations, "kernel_warmup": args.kernel_warmup, "encoder": "fallback"}
    config = HACBSRConfig(scale=args.scale, device="cpu", **schedule)  # (the loss schedule: the default's share of N)
    info = machine_info("cpu")
    rows = []
    with tempfile.TemporaryDirectory(prefix="hacbsr-bench-batch-") as tmp:
        work = Path(tmp)
        paths = make_frames(work / "in", args.items, args.side)
        plain_loop(paths[:1], work / "warm", config)
        plain = plain_loop(paths, work / "plain", config)
        rows.append({"method": "plain loop", "workers": 1, "wall_s": plain, "item_s": plain / len(paths)})
        rows += [batch_on_cluster(paths, work, config, workers) for workers in sorted(set(args.workers) | {1})]
    for row in rows:
        row.update(
            items=args.items,
            items_per_hour=3600 * args.items / row["wall_s"],
            vs_plain_pct=100 * (row["wall_s"] / plain - 1),
            commit=info["git_commit"],
            lr_side=args.side,
            scale=args.scale,
            iterations=args.iterations,
            kernel_warmup=args.kernel_warmup,
        )

    header = ["method", "workers", "items", "wall (s)", "items/hour", "s/item on a worker", "batch layer", "vs loop"]
    header.append("cluster start (s)")
    body = []
    for r in rows:
        batch = r["method"] == "batch"
        body.append(
            [
                r["method"],
                str(r["workers"]),
                str(r["items"]),
                fmt(r["wall_s"], 1),
                fmt(r["items_per_hour"], 0),
                fmt(r["item_s"], 2),
                f"{r['layer_pct']:+.1f} %" if batch and r["workers"] == 1 else "–",
                f"{r['vs_plain_pct']:+.1f} %" if batch else "reference",
                fmt(r["startup_s"], 1) if batch else "–",
            ]
        )
    table = markdown_table(header, body)
    caption = (
        f"{args.items} synthetic {args.side}² LR frames, ×{args.scale}, {args.iterations} outer iterations, kernel "
        f"warm-up {args.kernel_warmup}, fallback encoder, CPU, 1 torch thread per process; {info['host_cpu']}, "
        f"{info['cpu_count']} cores (shared); commit {info['git_commit']}; {info['date']}"
        f"{'; Dask MALLOC_TRIM_THRESHOLD_ kept' if args.keep_dask_malloc_trim else ''}."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "batch.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[-1]), restval="")
        writer.writeheader()
        writer.writerows(rows)
    write_json(args.out / "batch.json", {"machine": info, "rows": rows, "config": config.to_dict()})
    one = next(r for r in rows if r["method"] == "batch" and r["workers"] == 1)
    verdict = (
        f"per-item overhead of the batch layer: {one['layer_pct']:+.2f} % (manifest, hashing, scheduling) and "
        f"{100 * (one['paired_ratio'] - 1):+.1f} % (an item on a worker vs in this process, median of "
        f"{args.items} alternating pairs); target <= 5 %"
    )
    (args.out / "batch.md").write_text(f"{table}\n\n{verdict}\n\n{caption}\n")
    print(table)
    print(verdict)
    print(caption)
    print(f"[batch] wrote {args.out / 'batch.csv'}, batch.md, batch.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
