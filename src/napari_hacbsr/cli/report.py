"""The one line `hacbsr run`, `--stack` and `demo` print about a finished run."""

from __future__ import annotations


def summary(result) -> str:
    """One line about a finished run: device, iterations, time, tiles, LR consistency, loss schedule."""
    t = result.timings
    stopped = " (stopped early)" if result.stopped_early else ""
    if result.reconstruction == "fast":  # two stages: the kernel estimate on tiles, then the non-blind solve
        estimate = result.stages[0]
        work = (
            f"kernel from {result.tiles_done} of {len(estimate['tiles'])} tile(s) × {estimate['iterations']} "
            f"iterations, then {result.iterations_done} non-blind iterations{stopped} in {t['total']:.1f} s; "
        )
    elif result.reconstruction == "stack":  # a kernel per frame, then one solve over every frame used
        used = sum(f["accepted"] for f in result.frames)
        work = (
            f"{used} of {len(result.frames)} frames used, a kernel from each ({result.stages[1]['iterations']} "
            f"iterations), then {result.iterations_done} multi-frame iterations{stopped} in {t['total']:.1f} s; "
        )
    else:
        tiles = 1 if result.tile_boxes is None else result.tile_boxes[..., 0].size
        work = (
            f"{result.iterations_done} iterations{stopped} in {t['total']:.1f} s; "
            f"{result.tiles_done} of {tiles} tile(s); "
        )
    return (
        f"device {result.device_name}; {work}"
        f"LR-consistency MSE {result.lr_consistency:.3e}; {result.plan.describe_loss_schedule()}"
    )
