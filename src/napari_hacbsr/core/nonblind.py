"""Non-blind super-resolution: the HR image that a known kernel maps onto the LR, under a hyper-Laplacian prior.

The fast path of issue 24. Once HACBSR has estimated the kernel (or a kernel map), the frame is reconstructed
by minimising the engine's own MSE-phase objective without the network,

    E(x) = [ Σ_obs (A x − y)² + λ · HL(x) ] / n_LR,

A the engine's forward model (`core.degradation.forward_model`), HL its hyper-Laplacian (`core.losses.
hyper_laplacian`, p = 0.8), by torch's L-BFGS (strong-Wolfe line search) from the phase-correct cubic upsample.
λ follows the LR noise (`weight_for_noise`). Why torch's L-BFGS and not deepinv / pylops:
benchmarks/notebook/2026-12-03-fast-frames.md.

Non-periodic frames: the unknown HR reaches `free_band(K, s)` LR px beyond the frame, and those LR pixels
are left out of the data term, so the forward model's circular wrap only meets unconstrained pixels and the
border band does not ring. Frames larger than `MAX_TILE_HR_PIXELS`, and kernel maps, run as overlapping tiles,
each solved with `CONTEXT_LR` px of real data around it and cross-faded by `core.tiling.Assembly`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from .degradation import forward_model, phase_correct_bicubic
from .losses import hyper_laplacian
from .noise import estimate_noise_sigma
from .tiling import Assembly, TileGrid, plan_grid

EXPONENT = 0.8  # the hyper-Laplacian's p (issue 24's measured solve)
#: λ = max(WEIGHT_FLOOR, WEIGHT_PER_VARIANCE · σ²) / s²: the data term is a sum of squares, so a fixed prior's
#: MAP weight grows as the noise variance; the prior sums over s² HR pixels per LR datum, hence / s²; the floor
#: is the noise-free weight (8-bit rounding, and the texture the estimator reads as noise). Both constants are
#: measured on calibration crops (benchmarks/fast_frames.py calibrate; the notebook entry of 2026-12-03).
WEIGHT_PER_VARIANCE = 12.0
WEIGHT_FLOOR = 4e-5
UNKNOWN_NOISE_SIGMA = 0.01  # an LR too small to estimate: treat as 1 % noise (the engine's noise gate)
ITERATIONS = 100  # 300 are 0.00-0.08 dB worse on all 20 evaluation draws (fast_frames crops_it300.csv)
HISTORY = 10  # L-BFGS memory pairs: 2·HISTORY HR-sized buffers
LINE_SEARCH_EVALS = 20  # per iteration (max_eval counts the start of each step() too, so it is set, not derived)
MAX_TILE_HR_PIXELS = 2048 * 2048  # one solve's HR size: a 2000² HR peaks at 2.6 GB RSS (fast_frames frame)
CONTEXT_LR = 16  # LR px of real data around each tile: the solution there depends on data this far out
TILE_OVERLAP_LR = 8  # cross-fade width between neighbouring tiles


@dataclass
class NonBlindInfo:
    """What a non-blind reconstruction did: its weight, noise, iterations and tiles."""

    weight: float  # λ used
    noise_sigma: float  # the LR noise λ followed ([0, 1] units); NaN where λ was given
    iterations: int  # per tile, as asked
    iterations_done: int  # fewest completed by any tile (0 for tiles that never started)
    stopped: bool
    tiles: int
    tiles_done: int
    consistency: np.ndarray  # (C, h, w) |A x − y| per LR pixel; NaN where y is missing
    wall_s: float

    @property
    def lr_rmse(self) -> float:
        """RMS of A x − y over the observed LR pixels (the discrepancy principle's number: ≈ σ at the right λ)."""
        return float(np.sqrt(np.nanmean(self.consistency.astype(np.float64) ** 2)))


def weight_for_noise(sigma: float, scale: int) -> float:
    """λ for an LR with white noise σ ([0, 1] units) at ×scale: max(WEIGHT_FLOOR, WEIGHT_PER_VARIANCE · σ²) / s²."""
    if not math.isfinite(sigma):
        sigma = UNKNOWN_NOISE_SIGMA
    return max(WEIGHT_FLOOR, WEIGHT_PER_VARIANCE * float(sigma) ** 2) / int(scale) ** 2


def free_band(kernel_size: int, scale: int) -> int:
    """LR px of unconstrained HR beyond a region: the kernel's reach K//2 in LR px, plus one."""
    return math.ceil((kernel_size // 2) / scale) + 1


def solve_region(
    y: np.ndarray,
    observed: np.ndarray,
    kernel: np.ndarray,
    scale: int,
    sampling: str,
    weight: float,
    iterations: int = ITERATIONS,
    should_stop: Callable[[], bool] | None = None,
    on_iteration: Callable[[], None] | None = None,
) -> tuple[np.ndarray, int]:
    """One L-BFGS solve of y (C, h, w) with `observed` (h, w) bool; returns the HR (C, h·s, w·s) and the
    iterations done. The HR is solved `free_band` LR px wider on each side (those LR pixels unobserved).

    Unobserved pixels of y still shape the cubic start (fill them with something plausible): the data leave
    the HR underdetermined, so the start's share in the null space of A stays.
    """
    s = int(scale)
    _, h, w = y.shape
    band = free_band(kernel.shape[-1], s)
    widths = ((0, 0), (band, band), (band, band))
    start = phase_correct_bicubic(np.pad(y, widths, mode="symmetric"), s, sampling, channel_axis=0)
    x = torch.tensor(np.ascontiguousarray(start[None]), dtype=torch.float32, requires_grad=True)
    target = torch.from_numpy(np.pad(np.where(observed, y, 0.0), widths).astype(np.float32))[None]
    obs = torch.from_numpy(np.pad(observed, band).astype(np.float32))[None, None]
    k = torch.as_tensor(kernel, dtype=torch.float32)

    def energy() -> torch.Tensor:
        residual = forward_model(x, k, s) - target
        return (residual * residual * obs).sum() + weight * hyper_laplacian(x, EXPONENT)

    done = minimise(x, energy, iterations, should_stop, on_iteration)
    hr = x.detach()[0, :, band * s : (band + h) * s, band * s : (band + w) * s].numpy()
    return hr, done


def minimise(
    x: torch.Tensor,
    energy: Callable[[], torch.Tensor],
    iterations: int,
    should_stop: Callable[[], bool] | None = None,
    on_iteration: Callable[[], None] | None = None,
) -> int:
    """L-BFGS (strong Wolfe) on the leaf tensor `x` in place, one iteration per step(); returns those done.

    Shared by the single-frame solve and the multi-frame one (`core.stack_solve`).
    """
    # L-BFGS evaluates at the start of every step() the point where the last one ended: a cache of that
    # evaluation lets each iteration be its own step() (Stop and progress per iteration) at no extra cost
    optimizer = torch.optim.LBFGS(
        [x], lr=1.0, max_iter=1, max_eval=1 + LINE_SEARCH_EVALS, history_size=HISTORY,
        line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-12,
    )  # fmt: skip
    cache: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        if cache and torch.equal(cache["x"], x.detach()):
            x.grad = cache["grad"].clone()
            return cache["energy"]
        optimizer.zero_grad()
        value = energy()
        value.backward()
        assert x.grad is not None  # (x requires grad: backward filled it)
        cache.update(x=x.detach().clone(), grad=x.grad.detach().contiguous().clone(), energy=value.detach())
        return value

    done = 0
    while done < iterations and not (should_stop is not None and should_stop()):
        optimizer.step(closure)
        done += 1
        if on_iteration is not None:
            on_iteration()
    return done


def _fill_missing(image: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Missing pixels take their nearest observed pixel's value (the cubic start only: they stay out of the data)."""
    if observed.all():
        return image
    index = ndimage.distance_transform_edt(~observed, return_distances=False, return_indices=True)
    return image[:, index[0], index[1]].astype(np.float32)


def _grid_of_boxes(tile_boxes: np.ndarray, lr_shape: tuple[int, int]) -> TileGrid:
    boxes = np.asarray(tile_boxes, dtype=np.int64)
    rows = tuple((int(a), int(b)) for a, b in boxes[:, 0, [0, 2]])
    cols = tuple((int(a), int(b)) for a, b in boxes[0][:, [1, 3]])
    return TileGrid(lr_shape, rows, cols)


def _extended(grid: TileGrid, band: int) -> TileGrid:
    """`grid` on the frame widened by `band` px a side: spans shift, and the outer ones reach the new edges."""

    def widen(spans: tuple[tuple[int, int], ...], length: int) -> tuple[tuple[int, int], ...]:
        out = [(a + band, b + band) for a, b in spans]
        out[0], out[-1] = (0, out[0][1]), (out[-1][0], length)
        return tuple(out)

    h, w = grid.lr_shape[0] + 2 * band, grid.lr_shape[1] + 2 * band
    return TileGrid((h, w), widen(grid.rows, h), widen(grid.cols, w))


def _tile_kernels(kernel_or_map: np.ndarray, tile_boxes: np.ndarray | None, lr_shape, scale) -> tuple[TileGrid, list]:
    kernels = np.asarray(kernel_or_map, dtype=np.float32)
    if kernels.ndim == 2:
        if tile_boxes is not None:
            raise ValueError("tile_boxes go with a kernel map (n_rows, n_cols, K, K), not with one kernel")
        h, w = lr_shape
        side = max(h, w) if h * w * scale**2 <= MAX_TILE_HR_PIXELS else math.isqrt(MAX_TILE_HR_PIXELS) // scale
        grid = plan_grid(lr_shape, scale, side, TILE_OVERLAP_LR)
        return grid, [kernels] * grid.count
    if kernels.ndim != 4 or tile_boxes is None or np.shape(tile_boxes) != (*kernels.shape[:2], 4):
        raise ValueError(
            "a kernel map must be (n_rows, n_cols, K, K) with tile_boxes (n_rows, n_cols, 4) as a tiled run's "
            f"Result gives them; got kernels {kernels.shape} and tile_boxes "
            f"{() if tile_boxes is None else np.shape(tile_boxes)}"
        )
    finite = np.isfinite(kernels).all(axis=(2, 3))
    if not finite.any():
        raise ValueError("the kernel map has no finished tile (every kernel is NaN)")
    # a tile whose kernel estimate did not finish takes the mean of the finished ones
    mean = kernels[finite].mean(axis=0)
    flat = [k if ok else mean for k, ok in zip(kernels.reshape(-1, *kernels.shape[2:]), finite.ravel(), strict=True)]
    return _grid_of_boxes(tile_boxes, lr_shape), [k / k.sum() for k in flat]


def _check(y: np.ndarray, kernel_shape: tuple[int, ...], scale) -> None:
    if y.ndim != 3 or min(y.shape) < 1:
        raise ValueError(f"the LR image must be (C, h, w) or (h, w), got shape {y.shape}")
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    side = kernel_shape[-2:]
    if len(side) != 2 or side[0] != side[1] or side[0] % 2 == 0:
        raise ValueError(f"kernels must be square with an odd side (the forward model's K), got {kernel_shape}")


def reconstruct(
    y: np.ndarray,
    kernel_or_map: np.ndarray,
    scale: int,
    *,
    sampling: str,
    noise_sigma: float | None = None,
    mask: np.ndarray | None = None,
    tile_boxes: np.ndarray | None = None,
    weight: float | None = None,
    iterations: int = ITERATIONS,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, NonBlindInfo]:
    """Non-blind ×`scale` SR of `y` ((C, h, w) or (h, w) float in [0, 1], as `PreparedImage.y`).

    kernel_or_map: one K×K kernel of the forward model, or a tiled run's `kernel_map` (n_rows, n_cols, K, K)
    with its `tile_boxes`. sampling: the run's convention (the cubic start). noise_sigma: the LR's white noise
    ([0, 1] units), None = `estimate_noise_sigma`; λ = `weight_for_noise(σ, scale)` unless `weight` is given.
    mask ((h, w) or (1, h, w), 1 = observed) and non-finite pixels are left out of the data term.
    should_stop is polled before every iteration; Stop keeps the current iterate (tiles not started keep the
    cubic upsample). progress(done, total) after every iteration, total = iterations × tiles.
    Returns the HR (C, h·s, w·s) float32 clipped to [0, 1] (2-D for a 2-D y) and a `NonBlindInfo`.
    """
    started = time.perf_counter()
    image = np.asarray(y, dtype=np.float32)
    flat = image.ndim == 2
    image = image[None] if flat else image
    _check(image, np.shape(kernel_or_map), scale)
    s = int(scale)
    grid, kernels = _tile_kernels(kernel_or_map, tile_boxes, image.shape[1:], s)
    _, h, w = image.shape
    observed = np.asarray(np.isfinite(image).all(axis=0))
    if mask is not None:
        observed &= np.asarray(mask).reshape(h, w) > 0
    if not observed.any():
        raise ValueError("the LR image has no observed pixel (all masked or non-finite)")
    image = _fill_missing(image, observed)
    if weight is None:
        sigma = estimate_noise_sigma(image, observed) if noise_sigma is None else float(noise_sigma)
        lam = weight_for_noise(sigma, s)
    else:
        sigma, lam = math.nan, float(weight)

    # work on the frame widened by the free band (unobserved): the wrap of the forward model meets only it
    band = free_band(kernels[0].shape[-1], s)
    ext_y = np.pad(image, ((0, 0), (band, band), (band, band)), mode="symmetric")
    ext_obs = np.pad(observed, band)
    ext = _extended(grid, band)
    fill = np.clip(phase_correct_bicubic(ext_y, s, sampling, channel_axis=0), 0.0, 1.0).astype(np.float32)
    assembly = Assembly(fill, 0, ext, s, 0)
    total, count, done_per_tile, stopped = iterations * ext.count, [0], [], False

    def tick() -> None:
        count[0] += 1
        if progress is not None:
            progress(count[0], total)

    for index in range(ext.count):
        if should_stop is not None and should_stop():
            stopped = True
            break
        y0, x0, y1, x1 = ext.lr_box(index)
        ry0, rx0 = max(y0 - CONTEXT_LR, 0), max(x0 - CONTEXT_LR, 0)
        ry1, rx1 = min(y1 + CONTEXT_LR, ext.lr_shape[0]), min(x1 + CONTEXT_LR, ext.lr_shape[1])
        hr, done = solve_region(
            ext_y[:, ry0:ry1, rx0:rx1], ext_obs[ry0:ry1, rx0:rx1], kernels[index], s, sampling, lam,
            iterations, should_stop, tick,
        )  # fmt: skip
        done_per_tile.append(done)
        oy, ox = (y0 - ry0) * s, (x0 - rx0) * s
        assembly.add(index, hr[:, oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s])
        if done < iterations:
            stopped = True
            break

    ext_hr = assembly.picture()
    consistency = _consistency(ext_hr, ext_y, ext_obs, ext, kernels, s, band)
    hr = np.clip(ext_hr[:, band * s : (band + h) * s, band * s : (band + w) * s], 0.0, 1.0)
    info = NonBlindInfo(
        weight=lam,
        noise_sigma=sigma,
        iterations=iterations,
        iterations_done=min(done_per_tile) if len(done_per_tile) == ext.count else 0,
        stopped=stopped,
        tiles=ext.count,
        tiles_done=sum(d == iterations for d in done_per_tile),
        consistency=consistency,
        wall_s=time.perf_counter() - started,
    )
    return (hr[0] if flat else hr), info


def _consistency(ext_hr, ext_y, ext_obs, grid: TileGrid, kernels: list, scale: int, band: int) -> np.ndarray:
    """|A x − y| over the frame (unclipped x with its free band), each LR pixel through its tile's kernel (the
    later tile's where two overlap).
    """
    out = np.full(ext_y.shape, np.nan, np.float32)
    x = torch.from_numpy(np.ascontiguousarray(ext_hr))[None]
    reach = free_band(kernels[0].shape[-1], scale)
    with torch.no_grad():
        for index in range(grid.count):
            y0, x0, y1, x1 = grid.lr_box(index)
            # the tile's LR pixels see HR within `reach` LR px of the box: predict on that window only
            a0, b0 = max(y0 - reach, 0), max(x0 - reach, 0)
            a1, b1 = min(y1 + reach, grid.lr_shape[0]), min(x1 + reach, grid.lr_shape[1])
            window = x[..., a0 * scale : a1 * scale, b0 * scale : b1 * scale]
            pred = forward_model(window, torch.as_tensor(kernels[index]), scale)[0].numpy()
            out[:, y0:y1, x0:x1] = pred[:, y0 - a0 : y1 - a0, x0 - b0 : x1 - b0]
    out = np.abs(out - ext_y)
    out[:, ~ext_obs] = np.nan
    h, w = ext_y.shape[1] - 2 * band, ext_y.shape[2] - 2 * band
    return out[:, band : band + h, band : band + w]
