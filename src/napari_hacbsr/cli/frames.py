"""Whole frames from the command line: region of interest, tiling options and the estimate printed first.

Kept out of the commands so they only wire these in: `add_frame_options`, `crop_roi`, `frame_run_options`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..core.config import HACBSRConfig


def parse_roi(text: str) -> tuple[int, int, int, int]:
    """Parse "x,y,w,h" (pixels of the input; x = column, y = row of the top-left corner) into ints."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--roi must be four integers x,y,w,h (top-left column, row, width, height), got {text!r}"
        ) from None
    if x < 0 or y < 0:
        raise argparse.ArgumentTypeError(
            f"--roi {text!r}: x and y (the top-left column and row) must be >= 0: the region starts inside the "
            f"image, at pixel 0,0 or after"
        )
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"--roi {text!r}: the width and height must be > 0")
    return x, y, w, h


def join_negative_roi(argv: list[str]) -> list[str]:
    """``--roi -1,0,10,10`` as ``--roi=-1,0,10,10``: argparse would take the value for an option and say only
    "expected one argument"; joined, `parse_roi` says what is wrong with it.
    """
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--roi" and arg.startswith("-") and arg[1:2].isdigit():
            out[-1] = f"--roi={arg}"
        else:
            out.append(arg)
    return out


def parse_memory_limit(text: str) -> float:
    """Parse --memory-limit: a finite number of GB > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"--memory-limit must be a number of GB > 0 (e.g. 8 or 0.5), got {text!r}; leave it out for 60% of "
            f"the free memory"
        )
    return value


def check_channel_axis(shape: tuple[int, ...], channel_axis: int | None) -> None:
    """ValueError when --channel-axis does not fit an image of `shape` (before any axis arithmetic)."""
    if channel_axis is None:
        return
    if len(shape) == 2:
        raise ValueError(
            f"--channel-axis {channel_axis} was given but the image is 2-D {shape} (one band); leave --channel-axis out"
        )
    if not -len(shape) <= channel_axis < len(shape):
        raise ValueError(
            f"--channel-axis {channel_axis} is out of range for a {len(shape)}-D image {shape}; "
            f"use 0..{len(shape) - 1} (or -1 for the last axis)"
        )


def spatial_axes(ndim: int, channel_axis: int | None) -> tuple[int, int]:
    """The (row, column) axes of an `ndim`-D image whose channel is on `channel_axis`."""
    axes = [a for a in range(ndim) if channel_axis is None or a != channel_axis % ndim]
    if len(axes) < 2 or ndim < 2:
        raise ValueError(f"channel axis {channel_axis} leaves fewer than two spatial axes in a {ndim}-D image")
    return axes[0], axes[1]


def crop_roi(image: np.ndarray, roi: tuple[int, int, int, int], channel_axis: int | None) -> np.ndarray:
    """The region of `image` (a view); ValueError when it leaves the image."""
    x, y, w, h = roi
    ay, ax = spatial_axes(image.ndim, channel_axis)
    rows, cols = image.shape[ay], image.shape[ax]
    if y + h > rows or x + w > cols:
        raise ValueError(
            f"--roi {x},{y},{w},{h} leaves the {rows}×{cols} image (rows × columns); choose a region inside it"
        )
    index: list[Any] = [slice(None)] * image.ndim
    index[ay], index[ax] = slice(y, y + h), slice(x, x + w)
    return image[tuple(index)]


def parse_tile(text: str) -> int | str | None:
    """Parse --tile: "auto", "none" (None) or an LR tile side."""
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--tile must be auto, none or an integer, got {text!r}") from None


def add_frame_options(p: argparse.ArgumentParser) -> None:
    """Add --roi, --tile, --tile-overlap and --memory-limit to `p`."""
    p.add_argument("--roi", type=parse_roi, default=None, help="run on a region x,y,w,h of the input (pixels)")
    p.add_argument(
        "--tile",
        type=parse_tile,
        default="auto",
        help="auto (tiles only when the frame does not fit the memory budget), none, or an LR tile side",
    )
    p.add_argument("--tile-overlap", type=int, default=None, help="LR pixels shared by neighbouring tiles")
    p.add_argument(
        "--memory-limit", type=parse_memory_limit, default=None, help="GB the run may use (default: 60%% of free)"
    )


def frame_run_options(
    image: np.ndarray, args: argparse.Namespace, channel_axis: int | None, config: HACBSRConfig
) -> dict[str, Any]:
    """Print the estimate for this image and return super_resolve's tiling keywords.

    Raises InsufficientMemoryError (the run is refused) when even the smallest tile does not fit.
    """
    from ..core.resources import InsufficientMemoryError, estimate_resources

    ay, ax = spatial_axes(image.ndim, channel_axis)
    channels = 1 if channel_axis is None else image.shape[channel_axis]
    budget = None if args.memory_limit is None else args.memory_limit * 1e9
    estimate = estimate_resources(
        (image.shape[ay], image.shape[ax]),
        config.scale,
        config,
        config.device,
        tile=args.tile,
        overlap=args.tile_overlap,
        budget_bytes=budget,
        channels=channels,
    )
    print(f"hacbsr: estimate: {estimate.summary()}", file=sys.stderr)
    if not estimate.fits:
        raise InsufficientMemoryError(estimate.message)
    return {"tile": estimate.tile, "tile_overlap": estimate.overlap}
