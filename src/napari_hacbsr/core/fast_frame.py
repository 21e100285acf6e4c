"""A whole frame in minutes: HACBSR estimates the kernel on a few textured tiles, a non-blind solve does the rest.

Full HACBSR costs a Deep Image Prior per HR pixel; most of its quality comes from the kernel it estimates
(docs/algorithm.md, "Fast reconstruction"). So the fast path runs the full algorithm, with a short schedule,
on `ESTIMATE_TILES` LR tiles chosen for texture (`core.texture`: flat plains, sky and masked pixels carry
no kernel information), takes their normalised mean as the frame's kernel, and reconstructs the frame with
`core.nonblind.reconstruct` (the engine's forward model, a noise-following weight). Steps stream from both
stages; Stop in the estimate keeps the cubic upsample, Stop in the reconstruction keeps its iterate.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Generator

import numpy as np

from .cost_model import NONBLIND_BYTES_PER_HR_PX, nonblind_seconds, run_peak_bytes, run_seconds
from .degradation import phase_correct_bicubic
from .image import PreparedImage, min_lr_side
from .nonblind import ITERATIONS, MAX_TILE_HR_PIXELS, reconstruct
from .plan import RunPlan
from .records import Result, Step
from .texture import select_texture_tiles
from .tiling import run_tile

ESTIMATE_TILES = 2  # textured LR tiles HACBSR estimates the kernel on
ESTIMATE_HR_SIDE = 96  # each tile's HR side (the anchor crops' size)
ESTIMATE_ITERATIONS = 20  # outer iterations per tile (the measurement: 20 are within 0.2 dB)
SOLVE_ITERATIONS = ITERATIONS  # the non-blind solve's L-BFGS iterations (core.nonblind)


def estimate_tile_side(scale: int) -> int:
    """The LR side of each estimate tile: ESTIMATE_HR_SIDE HR px, at least the generator's minimum."""
    return max(min_lr_side(scale), -(-ESTIMATE_HR_SIDE // scale))


def fast_cost(lr_shape: tuple[int, int], plan: RunPlan) -> tuple[float, float | None]:
    """(peak bytes, seconds or None) of the fast path on an LR frame of `lr_shape` (core.cost_model)."""
    s = plan.scale
    tile_px = (estimate_tile_side(s) * s) ** 2
    short = _short_schedule(plan, min(plan.iterations, ESTIMATE_ITERATIONS))
    estimate_s = run_seconds(tile_px, short, plan.device)
    hr_px = int(lr_shape[0]) * int(lr_shape[1]) * s * s
    peak = max(run_peak_bytes(tile_px, plan, plan.device), NONBLIND_BYTES_PER_HR_PX * min(hr_px, MAX_TILE_HR_PIXELS))
    solve_s = nonblind_seconds(hr_px, SOLVE_ITERATIONS, plan.device)
    return peak, None if estimate_s is None else ESTIMATE_TILES * estimate_s + solve_s


def iterate_fast(
    prepared: PreparedImage, plan: RunPlan, should_stop: Callable[[], bool] | None = None
) -> Generator[Step, None, Result]:
    """The fast path's two stages as one generator of Steps (stages "setup"/"warmup"/"iterate" per estimate
    tile, then "reconstruct"), returning a Result whose `consistency_map` is |A x − y| in the data's units.
    """
    stop = should_stop or (lambda: False)
    start = time.perf_counter()
    s, (h, w) = plan.scale, prepared.lr_shape
    fill = prepared.to_output(np.clip(phase_correct_bicubic(prepared.y, s, plan.sampling, channel_axis=0), 0, 1))
    estimate = yield from estimate_kernel(prepared, plan, stop, start, fill)
    kernel, boxes, results, stopped, estimate_plan = estimate
    hr, info = (None, None) if stopped else (yield from _reconstruct(prepared, plan, kernel, stop, start))
    stopped = stopped or (info is not None and info.stopped)
    norm = prepared.normalization
    consistency = None if info is None else info.consistency * (norm.high - norm.low)
    stages = [{"stage": "estimate", "tiles": [list(b) for b in boxes], "iterations": estimate_plan.iterations}]
    if info is not None:
        stages.append(
            {"stage": "reconstruct", "solver": "non-blind L-BFGS (core.nonblind)", "weight": info.weight,
             "iterations_done": info.iterations_done, "noise_sigma": info.noise_sigma}
        )  # fmt: skip
    return Result(
        sr=fill if hr is None else prepared.to_output(hr),
        kernel=kernel,
        plan=plan,
        iterations_done=0 if info is None else info.iterations_done,
        stopped_early=stopped,
        normalization=norm,
        missing_pixels=prepared.missing_pixels,
        channel_axis=prepared.channel_axis,
        lr_consistency=float("nan") if info is None else info.lr_rmse**2,
        **estimate_record(results, start),
        tile_boxes=np.array([[[0, 0, h, w]]]),
        kernel_map=kernel[None, None].copy(),
        tiles_done=sum(not r.stopped_early for r in results),
        reconstruction="fast",
        consistency_map=consistency,
        stages=stages,
    )


def estimate_record(results: list[Result], start: float) -> dict:
    """The Result fields that come from the estimate tiles' runs: device, encoder, losses, steps, timings."""
    first = results[0]
    estimate_s = sum(r.timings.get("total", 0.0) for r in results)
    return {
        "device": first.device,
        "device_name": first.device_name,
        "encoder": first.encoder,
        "encoder_note": first.encoder_note,
        "losses": [loss for r in results for loss in r.losses],
        "inner_steps_done": sum(r.inner_steps_done for r in results),
        "timings": {"estimate": estimate_s, "total": time.perf_counter() - start},
    }


def estimate_kernel(
    prepared: PreparedImage,
    plan: RunPlan,
    stop: Callable[[], bool],
    start: float,
    fill: np.ndarray | None = None,
    tiles: int = ESTIMATE_TILES,
    label: tuple[int, int] | None = None,
) -> Generator[Step, None, tuple]:
    """HACBSR's short schedule on `tiles` textured LR tiles (the centre tile where none passes); returns
    (kernel: their normalised mean, boxes, tile Results, stopped, the short plan). label (first, total)
    numbers the Steps' tiles across several calls (a stack's frames); fill is the first tile's setup picture.
    """
    s, (h, w) = plan.scale, prepared.lr_shape
    side = estimate_tile_side(s)
    chosen = select_texture_tiles(prepared.y, prepared.mask, side, tiles)
    boxes = [(int(y0), int(x0), int(y1), int(x1)) for y0, x0, y1, x1 in chosen] or _centre_tile(prepared, side)
    if not boxes:
        raise ValueError(
            f"no {side}×{side} LR tile of this {h}×{w} image is free of missing pixels, so no kernel can be "
            "estimated for the fast reconstruction; use reconstruction='hacbsr' or a region with data"
        )
    estimate_plan = _short_schedule(plan, min(plan.iterations, ESTIMATE_ITERATIONS))
    first, total = label or (0, len(boxes))
    kernels, results, stopped = [], [], False
    for index, box in enumerate(boxes):
        hr_box = tuple(int(v) * s for v in box)
        result = yield from run_tile(prepared, box, estimate_plan, stop, first + index, total, hr_box, fill, start)
        results.append(result)
        if result.stopped_early:
            stopped = True
            break
        kernels.append(result.kernel)
    kernel = np.mean(kernels or [results[-1].kernel], axis=0).astype(np.float32)
    return kernel / kernel.sum(), boxes, results, stopped, estimate_plan


def _centre_tile(prepared: PreparedImage, side: int) -> list[tuple[int, int, int, int]]:
    """Where no tile passes the texture rules (a small or dark frame): the centre tile, if it has no missing
    pixel (the kernel estimate then reads what the frame has).
    """
    (h, w), side = prepared.lr_shape, min(side, *prepared.lr_shape)
    r, c = (h - side) // 2, (w - side) // 2
    mask = prepared.mask
    if mask is not None and not (mask.reshape(h, w)[r : r + side, c : c + side] > 0).all():
        return []
    return [(r, c, r + side, c + side)]


def _short_schedule(plan: RunPlan, iterations: int) -> RunPlan:
    """`plan` with N = `iterations` and its loss schedule scaled to that N (the same shares of the run)."""
    ratio = iterations / plan.iterations
    return dataclasses.replace(
        plan,
        iterations=iterations,
        ssim_iterations=round(plan.ssim_iterations * ratio),
        share_iterations=round(plan.share_iterations * ratio),
    )


def _reconstruct(prepared, plan, kernel, stop, start):
    """The frame's non-blind solve, streamed as "reconstruct" Steps."""

    def solve(progress):
        return reconstruct(
            prepared.y[: prepared.input_channels],  # (a gray image's network replicas carry nothing new)
            kernel,
            plan.scale,
            sampling=plan.sampling,
            noise_sigma=plan.lr_noise,
            mask=prepared.mask,
            iterations=SOLVE_ITERATIONS,
            should_stop=stop,
            progress=progress,
        )

    hr, info = yield from stream_solve(solve, start)
    yield Step(info.iterations_done, SOLVE_ITERATIONS, "reconstruct", {}, None, time.perf_counter() - start,
               prepared.to_output(hr), kernel)  # fmt: skip
    return hr, info


def stream_solve(solve: Callable, start: float) -> Generator[Step, None, tuple]:
    """Run `solve(progress)` in a thread and yield a "reconstruct" Step per ~2 % of the iterations it reports
    (progress(done, total)); returns what it returns, re-raises what it raises.
    """
    events: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["value"] = solve(lambda done, total: events.put((done, total)))
        except BaseException as exc:  # (re-raised in the generator's thread)
            outcome["error"] = exc
        finally:
            events.put(None)

    thread = threading.Thread(target=work, name="hacbsr-nonblind", daemon=True)
    thread.start()
    last = 0
    while (event := events.get()) is not None:
        done, total = event
        if done - last >= max(1, total // 50) or done == total:  # ~50 progress records per solve
            last = done
            yield Step(done, total, "reconstruct", {}, None, time.perf_counter() - start)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
