"""Tiled runs: a frame too large for memory as overlapping LR tiles, each an independent HACBSR run.

Each tile reuses `core.engine.iterate` on a slice of the one prepared image (one normalisation for
the whole frame, so tiles agree in value range) and gets its own kernel: the kernels form a map of
the blur across the frame. Finished tiles are blended into the HR image with raised-cosine windows
that skip `edge_margin_hr` pixels at each inner tile edge (where the forward model's circular padding
and the generator's border see a cut), normalised by their sum over the grid: a partition of unity.
A frame that fits in one tile is handed to `iterate` unchanged: exactly the untiled result.

Stop is polled between tiles and inside every tile's run; regions of tiles that did not finish keep
the cubic upsample (`core.degradation.phase_correct_bicubic`), so nothing after Stop runs the network again.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from . import engine  # (engine.iterate looked up at call time: one place to replace it, e.g. in tests)
from .config import HACBSRConfig
from .degradation import phase_correct_bicubic
from .image import PreparedImage, min_lr_side
from .plan import RunPlan, prepare_run
from .records import Result, Step

#: LR pixels of overlap beyond the kernel's reach: the generator's reflection-padded 3×3 convolutions
#: see a tile edge some pixels in; 8 LR px (16 HR at ×2) keeps those pixels out of the blend
NETWORK_EDGE_MARGIN_LR = 8


def default_overlap(scale: int) -> int:
    """LR overlap between neighbouring tiles: the kernel's LR support (K/s, both sides of a pixel's
    footprint) plus the network edge margin; e.g. 14 LR px at ×2 (K = 11), 14 at ×4 (K = 19).
    """
    from .sampling import kernel_size_for

    return math.ceil(kernel_size_for(scale) / scale) + NETWORK_EDGE_MARGIN_LR


def edge_margin_hr(scale: int) -> int:
    """HR pixels at an inner tile edge that get no blending weight: half the kernel's support."""
    from .sampling import kernel_size_for

    return kernel_size_for(scale) // 2


@dataclass(frozen=True)
class TileGrid:
    """Tile starts along rows and columns of an LR image; every tile is `tile` px (or the image) wide."""

    lr_shape: tuple[int, int]
    rows: tuple[tuple[int, int], ...]  # (start, stop) in LR pixels
    cols: tuple[tuple[int, int], ...]

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of tiles."""
        return len(self.rows), len(self.cols)

    @property
    def count(self) -> int:
        """The number of tiles."""
        return len(self.rows) * len(self.cols)

    def lr_box(self, index: int) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1) of tile `index` (row-major, 0-based)."""
        r, c = divmod(index, len(self.cols))
        return self.rows[r][0], self.cols[c][0], self.rows[r][1], self.cols[c][1]

    def boxes(self) -> np.ndarray:
        """Every tile's (y0, x0, y1, x1) LR box, as an (n_rows, n_cols, 4) array."""
        return np.array([self.lr_box(i) for i in range(self.count)], dtype=np.int64).reshape(*self.shape, 4)


def _spans(length: int, tile: int, overlap: int) -> tuple[tuple[int, int], ...]:
    if length <= tile:
        return ((0, length),)
    n = math.ceil((length - overlap) / (tile - overlap))
    starts = np.round(np.linspace(0, length - tile, n)).astype(int)
    return tuple((int(a), int(a) + tile) for a in starts)


def plan_grid(lr_shape: tuple[int, int], scale: int, tile: int, overlap: int) -> TileGrid:
    """The grid of `tile`-px LR tiles overlapping by at least `overlap` px (ValueError if impossible)."""
    h, w = lr_shape
    need = min_lr_side(scale)
    if tile < max(h, w) and tile < max(need, 2 * overlap + 1):
        raise ValueError(
            f"tile size {tile} LR px is too small: at ×{scale} a tile needs at least "
            f"{max(need, 2 * overlap + 1)} px (the generator's minimum {need} px, and more than twice the "
            f"overlap {overlap} px); use a larger tile or a smaller overlap"
        )
    if overlap < 0:
        raise ValueError(f"tile overlap must be >= 0, got {overlap}")
    return TileGrid((h, w), _spans(h, tile, overlap), _spans(w, tile, overlap))


def _ramp(n: int, margin: int) -> np.ndarray:
    """Rising weights over an overlap of n HR px: 0 for `margin` px, raised cosine, 1 for `margin` px."""
    if n - 2 * margin < 1:
        margin = 0
    inner = n - 2 * margin
    rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(inner) + 0.5) / inner)
    return np.concatenate([np.zeros(margin), rise, np.ones(margin)])


def axis_window(spans: tuple[tuple[int, int], ...], index: int, scale: int, margin: int) -> np.ndarray:
    """HR window along one axis of tile `index`: rises over its overlap with the previous tile, falls
    over its overlap with the next (the smaller where the two meet), 1 elsewhere.
    """
    start, stop = spans[index]
    w = np.ones((stop - start) * scale)
    if index > 0:
        n = (spans[index - 1][1] - start) * scale
        w[:n] = _ramp(n, margin)
    if index + 1 < len(spans):
        n = (stop - spans[index + 1][0]) * scale
        w[len(w) - n :] = np.minimum(w[len(w) - n :], _ramp(n, margin)[::-1])
    return w


def tile_window(grid: TileGrid, index: int, scale: int, margin: int) -> np.ndarray:
    """Tile `index`'s HR blending window: the outer product of its row and column windows."""
    r, c = divmod(index, len(grid.cols))
    return np.outer(axis_window(grid.rows, r, scale, margin), axis_window(grid.cols, c, scale, margin))


def slice_prepared(prepared: PreparedImage, box: tuple[int, int, int, int]) -> PreparedImage:
    """The tile's PreparedImage: a copy of its pixels, with the frame's normalisation."""
    y0, x0, y1, x1 = box
    mask = None if prepared.mask is None else prepared.mask[:, y0:y1, x0:x1].copy()
    if mask is not None and mask.min() == 1.0:
        mask = None
    return dataclasses.replace(prepared, y=prepared.y[:, y0:y1, x0:x1].copy(), mask=mask)


def _as_chw(x: np.ndarray, channel_axis: int | None) -> np.ndarray:
    return x[None] if channel_axis is None else np.moveaxis(x, channel_axis, 0)


def _from_chw(x: np.ndarray, channel_axis: int | None) -> np.ndarray:
    return x[0] if channel_axis is None else np.moveaxis(x, 0, channel_axis)


def cubic_fill(prepared: PreparedImage, scale: int, sampling: str) -> np.ndarray:
    """The cubic upsample in the output's layout and value range (one plane for a replicated gray run)."""
    y = prepared.y[:1] if prepared.input_channels == 1 else prepared.y
    return prepared.to_output(np.clip(phase_correct_bicubic(y, scale, sampling, channel_axis=0), 0.0, 1.0))


class Assembly:
    """Weighted sum of finished tiles over the cubic fill: out = Σ wᵢ·srᵢ + (1 − Σ wᵢ)·cubic.

    wᵢ is tile i's window divided by the sum of all tiles' windows, so the weights of the whole grid
    are a partition of unity however many tiles meet at a pixel.
    """

    def __init__(self, fill: np.ndarray, channel_axis: int | None, grid: TileGrid, scale: int, margin: int):
        self.fill = _as_chw(fill, channel_axis)
        self.channel_axis, self.grid, self.scale, self.margin = channel_axis, grid, scale, margin
        self.acc = np.zeros(self.fill.shape, np.float64)
        self.weight: np.ndarray = np.zeros(self.fill.shape[1:], np.float64)
        self.total = np.zeros(self.fill.shape[1:], np.float64)
        for index in range(grid.count):
            y0, x0, y1, x1 = self.hr_box(index)
            self.total[y0:y1, x0:x1] += tile_window(grid, index, scale, margin)

    def hr_box(self, index: int) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1) of tile `index` on the HR grid."""
        return tuple(int(v) * self.scale for v in self.grid.lr_box(index))  # type: ignore[return-value]

    def add(self, index: int, sr: np.ndarray) -> None:
        """Blend a finished tile's SR image into the picture with its weights."""
        y0, x0, y1, x1 = self.hr_box(index)
        window = tile_window(self.grid, index, self.scale, self.margin)
        total = self.total[y0:y1, x0:x1]
        w = np.divide(window, total, out=np.zeros_like(window), where=total > 0)
        self.acc[:, y0:y1, x0:x1] += w * _as_chw(sr, self.channel_axis)
        self.weight[y0:y1, x0:x1] += w

    def picture(self, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The assembled picture (or its `box` on the HR grid): finished tiles over the cubic fill."""
        y0, x0, y1, x1 = box if box is not None else (0, 0, *self.weight.shape)
        rest = np.clip(1.0 - self.weight[y0:y1, x0:x1], 0.0, 1.0)
        out = self.acc[:, y0:y1, x0:x1] + rest * self.fill[:, y0:y1, x0:x1]
        return _from_chw(out.astype(self.fill.dtype), self.channel_axis)


def run_tile(
    prepared: PreparedImage,
    lr_box: tuple[int, int, int, int],
    plan: RunPlan,
    stop: Callable[[], bool],
    index: int,
    tiles: int,
    hr_box: tuple[int, int, int, int],
    fill: np.ndarray | None,
    start: float,
) -> Generator[Step, None, Result]:
    """`engine.iterate` on one LR box of a frame, its Steps relabelled as tile `index` of `tiles` (HR box
    `hr_box`); the first tile's setup Step carries the frame's cubic `fill`, later ones progress only.
    """
    run = engine.iterate(slice_prepared(prepared, lr_box), plan, stop)
    while True:
        try:
            step = next(run)
        except StopIteration as done:
            return done.value
        setup = step.stage == "setup"
        yield dataclasses.replace(
            step,
            sr=(fill if index == 0 else None) if setup else step.sr,
            elapsed=time.perf_counter() - start,
            tile=index + 1,
            tiles=tiles,
            tile_box=None if setup else hr_box,
        )


def iterate_tiled(
    image: np.ndarray | PreparedImage,
    config: HACBSRConfig | RunPlan | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    channel_axis: int | None = None,
    tile: int | None = None,
    overlap: int | None = None,
) -> Generator[Step, None, Result]:
    """`core.engine.iterate` over a grid of `tile`-px LR tiles (None: one tile, the untiled run).

    Yields every tile's Steps with `tile`/`tiles`/`tile_box` set, a "tile" Step with the blended
    picture of each finished tile's box, and returns one Result with `kernel_map` and `tile_boxes`.
    """
    prepared, cfg = prepare_run(image, config, channel_axis)  # one plan (the frame's noise) for every tile
    s, (h, w) = cfg.scale, prepared.lr_shape
    overlap = default_overlap(s) if overlap is None else int(overlap)
    grid = plan_grid((h, w), s, max(h, w) if tile is None else int(tile), overlap)
    if grid.count == 1:
        result = yield from engine.iterate(prepared, cfg, should_stop)
        result.tile_boxes, result.kernel_map = grid.boxes(), result.kernel[None, None].copy()
        return result
    stop = should_stop or (lambda: False)
    start = time.perf_counter()
    fill = cubic_fill(prepared, s, cfg.sampling)
    assembly = Assembly(fill, prepared.channel_axis, grid, s, edge_margin_hr(s))
    kernel_map = np.full((*grid.shape, cfg.kernel_size, cfg.kernel_size), np.nan, np.float32)
    results: list[Result] = []
    stopped = False
    for index in range(grid.count):
        if index > 0 and stop():  # (the first tile's own run polls from its first step)
            stopped = True
            break
        box = assembly.hr_box(index)
        result = yield from run_tile(prepared, grid.lr_box(index), cfg, stop, index, grid.count, box, fill, start)
        results.append(result)
        if result.stopped_early:  # an unfinished tile keeps the cubic fill
            stopped = True
            break
        assembly.add(index, result.sr)
        kernel_map[divmod(index, len(grid.cols))] = result.kernel
        yield Step(
            result.iterations_done,
            cfg.outer_iterations,
            "tile",
            result.final_losses,
            None,
            time.perf_counter() - start,
            assembly.picture(box),
            result.kernel,
            tile=index + 1,
            tiles=grid.count,
            tile_box=box,
        )
    done = [r for r in results if not r.stopped_early]
    # the frame's one kernel: the mean of the finished tiles' (else the stopped tile's estimate)
    kernel = np.mean([r.kernel for r in done or results[-1:]], axis=0).astype(np.float32)
    kernel /= kernel.sum()
    timings: dict[str, float] = {}
    for r in results:
        for key, value in r.timings.items():
            timings[key] = timings.get(key, 0.0) + value
    timings["total"] = time.perf_counter() - start
    first = results[0]
    return Result(
        sr=assembly.picture(),
        kernel=kernel,
        plan=cfg,
        device=first.device,
        device_name=first.device_name,
        encoder=first.encoder,
        encoder_note=first.encoder_note,
        iterations_done=min((r.iterations_done for r in done), default=0),
        stopped_early=stopped,
        timings=timings,
        normalization=prepared.normalization,
        missing_pixels=prepared.missing_pixels,
        channel_axis=prepared.channel_axis,
        losses=[loss for r in results for loss in r.losses],
        lr_consistency=float(np.mean([r.lr_consistency for r in done])) if done else float("nan"),
        inner_steps_done=sum(r.inner_steps_done for r in results),
        tile_boxes=grid.boxes(),
        kernel_map=kernel_map,
        tiles_done=len(done),
    )
