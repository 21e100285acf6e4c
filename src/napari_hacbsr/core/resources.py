"""Resource estimate before a run: peak memory and time, the memory free, and the tiles that fit.

One run's peak memory and time grow with its HR pixel count (the generator's activations and their
gradients dominate); the coefficients below are measured, never guessed:

    peak  = base + bytes_per_hr_px · (H·W of one tile)  [+ frame buffers of a tiled run]
    time  = tiles · (run_fixed_s + N·P · (step_base_s + step_s_per_hr_px · H·W of one tile))

The frame buffers of a tiled run (cubic fill, weighted sum, weights, the result) are
`FRAME_BYTES_PER_HR_PX` per output channel and HR pixel of the whole frame (core.tiling.Assembly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import HACBSRConfig
from .cost_model import (  # noqa: F401  (CPU_MODEL, GPU_MODEL: re-exported for the calibration scripts)
    CLIP_BYTES,
    CPU_MODEL,
    DEFAULT_BUDGET_FRACTION,
    FRAME_BYTES_PER_HR_PX,
    GPU_MODEL,
    _model,
    run_peak_bytes,
    run_seconds,
)
from .errors import HACBSRError
from .plan import RunPlan, resolve

if TYPE_CHECKING:
    import torch


class InsufficientMemoryError(HACBSRError):
    """Even the smallest tile does not fit in the memory budget: the run is refused before it starts."""


def available_memory(device: Any) -> int | None:
    """Bytes free for a run on `device`: available RAM on CPU, free GPU memory on CUDA, None if unknown."""
    if str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(str(device)))
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        try:
            with open("/proc/meminfo") as fh:
                for line in fh:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


@dataclass
class ResourceEstimate:
    """What a run will need, and whether it fits (`message` says why not and what to do)."""

    shape: tuple[int, int]  # LR (h, w)
    scale: int
    device: str
    peak_bytes: float
    seconds: float | None
    tile: int | None  # LR tile side; None = untiled
    overlap: int
    grid: tuple[int, int]  # tile rows, columns
    available_bytes: int | None
    budget_bytes: float | None
    fits: bool
    message: str = ""
    reconstruction: str = "hacbsr"  # what the run would do: "hacbsr" (the full algorithm) or "fast"

    @property
    def tiles(self) -> int:
        """The number of tiles of the grid."""
        return self.grid[0] * self.grid[1]

    def summary(self) -> str:
        """One line for the widget and the CLI."""
        time_text = "time not calibrated for this device" if self.seconds is None else f"≈{duration_text(self.seconds)}"
        tiles = (
            "1 tile" if self.tile is None else f"{self.tiles} tiles ({self.grid[0]}×{self.grid[1]} of {self.tile} px)"
        )
        if self.reconstruction == "fast":
            tiles = "fast path (kernel from textured tiles, non-blind solve)"
        free = "" if self.available_bytes is None else f"; {self.available_bytes / 1e9:.1f} GB free"
        return f"≈{self.peak_bytes / 1e9:.1f} GB peak, {time_text}, {tiles} on {self.device}{free}"


def duration_text(seconds: float) -> str:
    """A duration in the estimate's words: seconds, minutes or hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _frame_bytes(shape: tuple[int, int], scale: int, channels: int) -> float:
    return FRAME_BYTES_PER_HR_PX * channels * shape[0] * shape[1] * scale * scale


def estimate_resources(
    shape: tuple[int, ...],
    scale: int,
    config: HACBSRConfig | RunPlan | None = None,
    device: str = "auto",
    *,
    tile: int | str | None = "auto",
    overlap: int | None = None,
    budget_bytes: float | None = None,
    channels: int = 1,
) -> ResourceEstimate:
    """Peak memory and time of super-resolving an LR image of `shape` (h, w) by `scale` on `device`.

    tile: "auto" (tiles only when the whole frame does not fit the budget), an LR tile side, or None
    (untiled). budget_bytes: memory the run may use; default DEFAULT_BUDGET_FRACTION of what is free.
    `fits` is False (with a message saying what to do) when even the smallest tile does not fit.
    """
    from .device import resolve_device
    from .tiling import default_overlap, plan_grid

    h, w = int(shape[0]), int(shape[1])
    resolved: str | torch.device
    if isinstance(config, RunPlan):  # (a run's own plan: its device and schedule)
        cfg, resolved = config, config.device
    else:
        base = (config or HACBSRConfig()).replace(scale=scale)
        resolved = resolve_device(device if device != "auto" else base.device)
        cfg = resolve(base, resolved, lr_shape=(h, w))
    available = available_memory(resolved)
    if budget_bytes is None and available is not None:
        budget_bytes = DEFAULT_BUDGET_FRACTION * available
    overlap = default_overlap(scale) if overlap is None else int(overlap)
    if cfg.reconstruction == "fast":
        return _fast_estimate((h, w), cfg, channels, overlap, available, budget_bytes)
    message = ""
    if tile == "auto":
        try:
            tile = plan_tiles((h, w), scale, cfg, budget_bytes, str(resolved), overlap=overlap, channels=channels)
        except InsufficientMemoryError as exc:
            tile, message = _smallest_tile(scale, overlap), str(exc)
    side = None if tile is None or int(tile) >= max(h, w) else int(tile)
    grid = plan_grid((h, w), scale, side or max(h, w), overlap)
    tile_px = (min(h, side or h) * scale) * (min(w, side or w) * scale)
    peak = run_peak_bytes(tile_px, cfg, str(resolved))
    if grid.count > 1:
        peak += _frame_bytes((h, w), scale, channels)
    seconds = run_seconds(tile_px, cfg, str(resolved))
    fits = budget_bytes is None or peak <= budget_bytes
    if not fits and not message:
        message = _refusal(h, w, scale, peak, budget_bytes, "tile=auto" if side is None else f"a tile below {side}")
    return ResourceEstimate(
        (h, w),
        scale,
        str(resolved),
        peak,
        None if seconds is None else seconds * grid.count,
        side,
        overlap,
        grid.shape,
        available,
        budget_bytes,
        fits,
        message,
    )


def _fast_estimate(shape: tuple[int, int], plan, channels, overlap, available, budget) -> ResourceEstimate:
    """The fast path's estimate: its own cost model (core.fast_frame.fast_cost); it tiles itself."""
    from .fast_frame import fast_cost

    peak, seconds = fast_cost(shape, plan)
    peak += _frame_bytes(shape, plan.scale, channels)
    fits = budget is None or peak <= budget
    message = "" if fits else _refusal(*shape, plan.scale, peak, budget, "a smaller region")
    return ResourceEstimate(
        shape, plan.scale, plan.device, peak, seconds, None, overlap, (1, 1), available, budget, fits, message, "fast"
    )


def _smallest_tile(scale: int, overlap: int) -> int:
    from .image import min_lr_side

    return max(min_lr_side(scale), 2 * overlap + 1)


def _refusal(h: int, w: int, scale: int, peak: float, budget: float | None, advice: str) -> str:
    return (
        f"a {h}×{w} image at ×{scale} needs ≈{peak / 1e9:.1f} GB but only ≈{(budget or 0) / 1e9:.1f} GB may be "
        f"used; the run was not started. Use {advice}, a smaller region or scale, close other programs, "
        f"or raise the memory budget"
    )


def plan_tiles(
    shape: tuple[int, ...],
    scale: int,
    config: HACBSRConfig | RunPlan | None,
    budget_bytes: float | None,
    device: str = "cpu",
    *,
    overlap: int | None = None,
    channels: int = 1,
) -> int | None:
    """The LR tile side for this budget: None when the whole frame fits as one run, else the largest
    square tile whose run plus the frame buffers fit. Raises InsufficientMemoryError when none does.
    """
    from .tiling import default_overlap

    h, w = int(shape[0]), int(shape[1])
    cfg = config if isinstance(config, RunPlan) else (config or HACBSRConfig()).replace(scale=scale)
    if budget_bytes is None or run_peak_bytes(h * w * scale * scale, cfg, device) <= budget_bytes:
        return None
    overlap = default_overlap(scale) if overlap is None else int(overlap)
    model = _model(device)
    room = budget_bytes - _frame_bytes((h, w), scale, channels) - run_peak_bytes(0, cfg, device)
    side = math.floor(math.sqrt(max(room, 0.0) / model["bytes_per_hr_px"]) / scale)
    smallest = _smallest_tile(scale, overlap)
    if side < smallest:
        need = run_peak_bytes((smallest * scale) ** 2, cfg, device) + _frame_bytes((h, w), scale, channels)
        raise InsufficientMemoryError(_refusal(h, w, scale, need, budget_bytes, f"tiles of {smallest} px"))
    return min(side, max(h, w))


def plan_run(
    prepared: Any,
    config: RunPlan,
    tile: int | str | None = "auto",
    overlap: int | None = None,
    budget_bytes: float | None = None,
) -> ResourceEstimate:
    """The estimate (and tile size) of a run's plan on its prepared image; InsufficientMemoryError when nothing
    fits.
    """
    estimate = estimate_resources(
        prepared.lr_shape,
        config.scale,
        config,
        config.device,
        tile=tile,
        overlap=overlap,
        budget_bytes=budget_bytes,
        channels=prepared.input_channels,
    )
    if not estimate.fits:
        raise InsufficientMemoryError(estimate.message)
    return estimate
