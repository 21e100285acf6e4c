"""Multi-frame stacks: one HR image from several frames of one site, a kernel and a shift per frame (issue 29).

Three stages, one generator: register every frame to the reference (`core.registration`: sub-pixel shift,
gain/offset, refusal of frames of another site or illumination); estimate each accepted frame's kernel with
HACBSR's short schedule on its most textured tile (`fast_frame.estimate_kernel`); solve one HR image against
all of them (`core.stack_solve`). The result lies on the reference frame's grid, in its units.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from .degradation import phase_correct_bicubic
from .fast_frame import estimate_kernel, estimate_record, stream_solve
from .image import PreparedImage, prepare_image
from .nonblind import ITERATIONS
from .plan import RunPlan
from .records import Result, Step
from .registration import gray, register_frames
from .stack_solve import solve_stack

FRAME_ESTIMATE_TILES = 1  # textured tiles per frame for its kernel (a frame's cost grows with this)


def prepare_stack(
    image: Any, scale: int, frame_axis: int, channel_axis: int | None = None, gray_channels: int = 3
) -> list[PreparedImage]:
    """Each frame of `image` along `frame_axis` checked and prepared on its own (`core.image.prepare_image`)."""
    arr = np.asarray(image)
    if isinstance(frame_axis, bool) or not isinstance(frame_axis, int | np.integer):
        raise ValueError(f"frame_axis must be an axis number, got {frame_axis!r}")
    if not -arr.ndim <= frame_axis < arr.ndim or arr.ndim < 3:
        raise ValueError(
            f"frame_axis {frame_axis} is not an axis of this {arr.ndim}-D array {arr.shape}; a stack is "
            "(frames, H, W) or (frames, H, W, channels) with channel_axis"
        )
    frames = np.moveaxis(arr, frame_axis, 0)
    prepared = []
    for index, frame in enumerate(frames):
        try:
            prepared.append(prepare_image(frame, scale, channel_axis, gray_channels))
        except ValueError as exc:
            raise ValueError(f"frame {index} of the stack: {exc}") from None
    return prepared  # (iterate_stack checks the stack as a whole)


def check_frames(prepared: list[PreparedImage]) -> None:
    """Refuse a stack HACBSR cannot align: fewer than two frames, or frames of different shapes/channels."""
    if len(prepared) < 2:
        raise ValueError(f"a stack needs at least two frames, got {len(prepared)}; for one frame leave frame_axis=None")
    shapes = {(p.input_channels, *p.lr_shape) for p in prepared}
    if len(shapes) > 1:
        raise ValueError(
            f"the frames of a stack must have one shape; got {sorted(shapes)} (channels, h, w). Crop them to "
            "the same region first"
        )


def iterate_stack(
    prepared: list[PreparedImage], plan: RunPlan, should_stop: Callable[[], bool] | None = None
) -> Generator[Step, None, Result]:
    """Register, estimate a kernel per frame, solve; Steps from every stage (a frame's estimate is its "tile"),
    and a Result with `frames` (one record per frame) and `frame_kernels` (T, K, K; NaN for refused frames).
    """
    stop = should_stop or (lambda: False)
    check_frames(prepared)
    if plan.config.reconstruction == "hacbsr":
        raise ValueError(
            "a stack is reconstructed by the multi-frame non-blind solve; full HACBSR over several frames is "
            "not built yet: leave reconstruction at 'auto' (or 'fast')"
        )
    start = time.perf_counter()
    ref = prepared[0]
    s = plan.scale
    alignments = register_frames([gray(p.y[: p.input_channels], p.mask) for p in prepared])
    refused = [a for a in alignments if not a.accepted]
    used = [a for a in alignments if a.accepted]
    if len(used) < 2:
        raise ValueError(
            "no frame of the stack registers with the reference frame (frame 0): "
            + "; ".join(f"frame {a.index} {a.reason}" for a in refused)
        )
    fill = ref.to_output(np.clip(phase_correct_bicubic(ref.y, s, plan.sampling, channel_axis=0), 0, 1))
    kernels, results, stopped = {}, [], False
    for order, a in enumerate(used):
        kernel, _, tile_results, stopped, estimate_plan = yield from estimate_kernel(
            prepared[a.index], plan, stop, start, fill if order == 0 else None, FRAME_ESTIMATE_TILES,
            label=(order, len(used)),
        )  # fmt: skip
        results.extend(tile_results)
        if stopped:
            break
        kernels[a.index] = kernel

    info = None
    if not stopped:

        def solve(progress):
            return solve_stack(
                [prepared[a.index].y[: ref.input_channels] for a in used],
                [_observed(prepared[a.index]) for a in used],
                [kernels[a.index] for a in used],
                used,
                s,
                sampling=plan.sampling,
                iterations=ITERATIONS,
                should_stop=stop,
                progress=progress,
            )

        hr, info = yield from stream_solve(solve, start)
    sr = fill if info is None else ref.to_output(hr)
    if info is not None:
        yield Step(info.iterations_done, ITERATIONS, "reconstruct", {}, None, time.perf_counter() - start, sr,
                   kernels[0])  # fmt: skip
    size = results[0].kernel.shape[-1]
    frame_kernels = np.stack([kernels.get(a.index, np.full((size, size), np.nan, np.float32)) for a in alignments])
    rmse = {} if info is None else dict(zip([a.index for a in used], info.lr_rmse, strict=True))
    weight = {} if info is None else dict(zip([a.index for a in used], info.frame_weights, strict=True))
    span = ref.normalization.high - ref.normalization.low
    frames = [
        {**a.to_dict(), "weight": weight.get(a.index), "lr_rmse": None if a.index not in rmse else rmse[a.index] * span}
        for a in alignments
    ]
    stages = [
        {"stage": "register", "frames": len(alignments), "refused": [a.index for a in refused]},
        {"stage": "estimate", "tiles_per_frame": FRAME_ESTIMATE_TILES, "iterations": estimate_plan.iterations},
    ]
    if info is not None:
        stages.append({"stage": "reconstruct", "solver": "multi-frame L-BFGS (core.stack_solve)",
                       "weight": info.weight, "iterations_done": info.iterations_done})  # fmt: skip
    return Result(
        sr=sr,
        kernel=frame_kernels[0],
        plan=plan,
        iterations_done=0 if info is None else info.iterations_done,
        stopped_early=stopped or (info is not None and info.stopped),
        normalization=ref.normalization,
        missing_pixels=ref.missing_pixels,
        channel_axis=ref.channel_axis,
        lr_consistency=float("nan") if info is None else info.lr_rmse[0] ** 2,
        **estimate_record(results, start),
        tiles_done=len(kernels),
        reconstruction="stack",
        stages=stages,
        frames=frames,
        frame_kernels=frame_kernels,
    )


def _observed(prepared: PreparedImage) -> np.ndarray:
    h, w = prepared.lr_shape
    return np.ones((h, w), bool) if prepared.mask is None else prepared.mask.reshape(h, w) > 0
