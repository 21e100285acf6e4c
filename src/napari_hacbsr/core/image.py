"""The input contract and every value-range rule, in one place.

* `prepare_image`: what the engine accepts (layout, dtype, size, NaN = missing) and how an image is
  mapped to the [0, 1] range the networks work in (min–max of the finite pixels), undone by
  `PreparedImage.to_output`;
* `unit_range_by_dtype`: the simulator's reading of an HR file (integer full scale, floats in [0, 1]);
* `quantize_8bit` / `preview_uint8`: the two 8-bit mappings (a reference PNG writer's levels, and a
  display preview of a given value range) — one display mapping serves input and output alike;
* `LUMA_BT601`: the luma weights used for gray output of a 3-channel run and for the Y metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .choices import check_scale

#: BT.601 luma weights (MATLAB rgb2ycbcr), in 0..255 output units per unit input
LUMA_BT601 = np.array([65.481, 128.553, 24.966])


@dataclass
class Normalization:
    """How the input was mapped to [0, 1]: x01 = (x - low) / (high - low), from finite pixels."""

    low: float
    high: float
    input_dtype: str
    output_dtype: str

    def to_dict(self) -> dict[str, Any]:
        """The normalisation as a JSON-ready dict."""
        return {"low": self.low, "high": self.high, "input_dtype": self.input_dtype, "output_dtype": self.output_dtype}


@dataclass
class PreparedImage:
    """The LR image as the engine sees it: (C, h, w) float32 in [0, 1], plus how to undo that."""

    y: np.ndarray  # (C_net, h, w), missing pixels set to 0
    mask: np.ndarray | None  # (1, h, w) float32, 1 = observed; None when nothing is missing
    normalization: Normalization
    channel_axis: int | None  # normalised (non-negative) axis of the input, or None
    input_channels: int
    missing_pixels: int

    @property
    def net_channels(self) -> int:
        """Channels the networks see (3 for a gray image run as RGB)."""
        return self.y.shape[0]

    @property
    def lr_shape(self) -> tuple[int, int]:
        """(h, w) of the LR image."""
        return int(self.y.shape[1]), int(self.y.shape[2])

    def to_output(self, x01: np.ndarray) -> np.ndarray:
        """Network output (C_net, H, W) in [0, 1] -> the input's layout and value range."""
        x = x01.astype(np.float64)
        if self.input_channels == 1 and x.shape[0] == 3:  # gray run as replicated RGB (paper)
            x = np.tensordot(LUMA_BT601 / LUMA_BT601.sum(), x, axes=1)[None]
        norm = self.normalization
        x = x * (norm.high - norm.low) + norm.low
        x = x.astype(norm.output_dtype)
        if self.channel_axis is None:
            return x[0]
        return np.moveaxis(x, 0, self.channel_axis)


def min_lr_side(scale: int) -> int:
    """Smallest LR side the generator accepts: its HR side must reach 33 px (5 stride-2 levels)."""
    from .networks import MIN_HR_SIDE  # (imports torch; only needed once an image is checked)

    return math.ceil(MIN_HR_SIDE / scale)


def _as_chw(arr: np.ndarray, channel_axis: int | None) -> tuple[np.ndarray, int | None]:
    if arr.ndim == 2:
        if channel_axis is not None:
            raise ValueError("channel_axis was given but the image is 2-D; leave channel_axis=None for grayscale")
        return arr[None], None
    if arr.ndim == 3:
        if channel_axis is None:
            raise ValueError(
                f"image has 3 dimensions {arr.shape} but no channel axis was declared; pass channel_axis "
                f"(e.g. channel_axis=-1 for RGB/multi-band), or take one 2-D plane (e.g. image[0]) if this "
                f"is a stack or volume"
            )
        if not -3 <= channel_axis <= 2:
            raise ValueError(f"channel_axis {channel_axis} is out of range for a 3-D image")
        axis = channel_axis % 3
        return np.moveaxis(arr, axis, 0), axis
    raise ValueError(
        f"image must be 2-D (H, W), or 3-D with a declared channel axis; got {arr.ndim}-D shape {arr.shape}. "
        f"Select one 2-D plane (e.g. image[0]) or one time point first"
    )


def inspect_image(image: Any, scale: int, channel_axis: int | None = None) -> tuple[float, float]:
    """Raise the ValueError that a run would raise for this input, without copying it.

    Checks scale, dtype, layout, size, and that some finite pixels differ; cheap enough to run
    when a layer is selected (min/max of the data, no float copy). Returns that finite [min, max].
    """
    scale = check_scale(scale)
    arr = np.asarray(image)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(
            f"image must hold real numbers (any integer or float dtype), got dtype {arr.dtype}; "
            f"a mask or label image has no detail to super-resolve"
        )
    if arr.size == 0:
        raise ValueError(f"image is empty (shape {arr.shape}); load an image with pixels")
    chw, _ = _as_chw(arr, channel_axis)
    _, h, w = chw.shape
    need = min_lr_side(scale)
    if min(h, w) < need:
        raise ValueError(
            f"image is {h}×{w} pixels; at ×{scale} HACBSR needs at least {need}×{need} (the generator works on "
            f"the {scale * need}-px high-res grid and the blur kernel must fit). Use a larger crop or a "
            f"smaller scale"
        )
    low, high = _finite_range(arr)
    if low is None or high is None:  # (both or neither)
        raise ValueError("image has no finite pixels (all NaN/inf); nothing to super-resolve")
    if not high > low:
        raise ValueError(f"image is constant (every finite pixel is {low}); there is no detail to super-resolve")
    return low, high


def _finite_range(arr: np.ndarray) -> tuple[float | None, float | None]:
    if np.issubdtype(arr.dtype, np.integer):
        return float(arr.min()), float(arr.max())
    with np.errstate(invalid="ignore"):
        finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return None, None
    return float(finite.min()), float(finite.max())


def prepare_image(
    image: np.ndarray, scale: int, channel_axis: int | None = None, gray_channels: int = 3
) -> PreparedImage:
    """Check (`inspect_image`) and normalise an input image. Raises ValueError that says what to do."""
    low, high = inspect_image(image, scale, channel_axis)
    arr = np.asarray(image)
    chw, axis = _as_chw(arr, channel_axis)
    channels = chw.shape[0]
    values = chw.astype(np.float64)
    finite = np.isfinite(values)
    pixel_ok = np.asarray(finite.all(axis=0))
    missing = int((~pixel_ok).sum())
    y = np.where(finite, (values - low) / (high - low), 0.0)
    if missing:
        y = np.where(pixel_ok[None], y, 0.0)  # a pixel with any missing band is missing
    if channels == 1 and gray_channels == 3:
        y = np.repeat(y, 3, axis=0)
    out_dtype = "float64" if arr.dtype == np.float64 else "float32"
    mask = pixel_ok[None].astype(np.float32) if missing else None
    return PreparedImage(
        y.astype(np.float32), mask, Normalization(low, high, str(arr.dtype), out_dtype), axis, channels, missing
    )


def validate_image(image: Any, scale: int, channel_axis: int | None = None) -> None:
    """The public check (napari_hacbsr.validate_image): raise what a run would raise for this input."""
    inspect_image(image, scale, channel_axis)


def unit_range_by_dtype(image: np.ndarray) -> np.ndarray:
    """An HR image for the simulator in [0, 1]: integers by their full scale, floats must already be."""
    arr = np.asarray(image)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float64) / float(np.iinfo(arr.dtype).max)
    values = arr.astype(np.float64)
    if np.nanmax(values) > 1.0 or np.nanmin(values) < 0.0:
        raise ValueError("float HR images must be in [0, 1] (integer images are scaled by their full range)")
    return values


def quantize_8bit(x01: np.ndarray, rounding: str = "round") -> np.ndarray:
    """[0, 1] -> 0..255 levels as float64: "round" (how PNGs are scored) or "floor" (a truncating writer)."""
    scaled = np.clip(np.asarray(x01, dtype=np.float64), 0.0, 1.0) * 255.0
    if rounding == "round":
        return np.round(scaled)
    if rounding == "floor":
        return np.floor(scaled)
    raise ValueError(f"rounding must be 'round' or 'floor', got {rounding!r}")


def preview_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """8-bit display preview of an image in the value range [low, high] (clipped)."""
    scaled = (np.asarray(image, np.float64) - low) / (high - low if high > low else 1.0)
    return quantize_8bit(scaled).astype(np.uint8)


def display_range(normalization: Normalization) -> tuple[float, float]:
    """The one 8-bit display mapping of a run's input and its outputs (so PNGs can be blinked).

    Integer inputs keep their full dtype range (an 8-bit PNG maps 0..255 to itself); float inputs
    have no natural range, so their finite [min, max] is used, and the same for the input preview.
    """
    dtype = np.dtype(normalization.input_dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(max(info.min, 0)), float(info.max)
    return normalization.low, normalization.high
