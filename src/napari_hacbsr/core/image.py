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
        if np.issubdtype(np.dtype(norm.output_dtype), np.integer):
            x = _restore_integers(x, norm)
        else:
            x = (x * float(norm.high - norm.low) + float(norm.low)).astype(norm.output_dtype)
        if self.channel_axis is None:
            return x[0]
        return np.moveaxis(x, 0, self.channel_axis)


def min_lr_side(scale: int) -> int:
    """Smallest LR side the generator accepts: its HR side must reach 33 px (5 stride-2 levels)."""
    from .networks import MIN_HR_SIDE  # (imports torch; only needed once an image is checked)

    return math.ceil(MIN_HR_SIDE / scale)


def _restore_integers(x01: np.ndarray, norm: Normalization) -> np.ndarray:
    """[0, 1] -> the input's 64-bit integer levels, exactly: low + round(x01 · span) in modular uint64."""
    dtype = np.dtype(norm.output_dtype)
    span = int(norm.high) - int(norm.low)
    delta = np.clip(np.rint(np.clip(x01, 0.0, 1.0) * float(span)), 0.0, np.nextafter(2.0**64, 0.0))
    levels = np.minimum(delta.astype(np.uint64), np.uint64(span))
    base = np.array(int(norm.low), dtype=dtype).view(np.uint64)
    return (levels + base).view(dtype)  # (wraps mod 2**64 back into the input's range)


def offset_from(values: np.ndarray, low: float) -> np.ndarray:
    """``values - low`` in float64, exact for integer data of any magnitude (2**62 + k keeps its k).

    A cast to float64 first would round 64-bit integers to 11 bits less than they hold; the difference
    is taken in integers (modular uint64 for 64-bit types, exact as it lies in [0, 2**64)) and cast after.
    """
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float64) - float(low)
    if arr.dtype.itemsize < 8:
        return (arr.astype(np.int64) - int(low)).astype(np.float64)
    base = np.array(int(low), dtype=arr.dtype).view(np.uint64)
    above = (arr.view(np.uint64) - base).astype(np.float64)
    below = arr < int(low)  # (only a display range can start above the data)
    if not below.any():
        return above
    return np.where(below, -(base - arr.view(np.uint64)).astype(np.float64), above)


def output_dtype_for(dtype: np.dtype, low: float, high: float) -> str:
    """The dtype a run returns for input of `dtype` with finite range [low, high].

    float64 input stays float64, other inputs come back float32 unless float32 cannot resolve their
    range to 1/65536 of it (integers far from zero, e.g. 2**40 + 0..745): then float64, or the input's
    own 64-bit integer dtype when even float64 cannot (2**62 + 0..745), rounded to whole levels.
    """
    if dtype == np.float64:
        return "float64"
    if not np.issubdtype(dtype, np.integer):
        return "float32"
    span, top = int(high) - int(low), max(abs(int(low)), abs(int(high)))
    for candidate in (np.float32, np.float64):
        if float(np.spacing(candidate(top))) * 65536 <= span:
            return np.dtype(candidate).name
    return np.dtype(dtype).name


def _unmasked(image: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The data of `image` and, for a numpy MaskedArray with masked elements, where they are (True)."""
    if isinstance(image, np.ma.MaskedArray):
        masked = np.ma.getmaskarray(image)
        return np.asarray(image.data), (masked if masked.any() else None)
    if type(image).__module__.startswith("napari.layers") and hasattr(image, "data"):
        # a napari layer (by its module: core does not import napari) would become a 0-d object array
        raise ValueError(
            f"got the napari {type(image).__name__} layer {getattr(image, 'name', '')!r}, not an array: pass its "
            f"pixels, super_resolve(layer.data, ...), or use run_in_viewer(viewer, layer, ...) to keep its placement"
        )
    return np.asarray(image), None


def _check_kind(arr: np.ndarray) -> None:
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(
            f"image must hold real numbers (any integer or float dtype), got dtype {arr.dtype}; "
            f"a mask or label image has no detail to super-resolve"
        )
    if arr.size == 0:
        raise ValueError(f"image is empty (shape {arr.shape}); load an image with pixels")


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
    arr, masked = _unmasked(image)
    _check_kind(arr)
    chw, _ = _as_chw(arr, channel_axis)
    _, h, w = chw.shape
    need = min_lr_side(scale)
    if min(h, w) < need:
        raise ValueError(
            f"image is {h}×{w} pixels; at ×{scale} HACBSR needs at least {need}×{need} (the generator works on "
            f"the {scale * need}-px high-res grid and the blur kernel must fit). Use a larger crop or a "
            f"smaller scale"
        )
    low, high = _finite_range(arr, masked)
    if low is None or high is None:  # (both or neither)
        raise ValueError("image has no finite pixels (all NaN/inf or masked); nothing to super-resolve")
    if not high > low:
        raise ValueError(f"image is constant (every finite pixel is {low}); there is no detail to super-resolve")
    return low, high


def _finite_range(arr: np.ndarray, masked: np.ndarray | None = None) -> tuple[float | None, float | None]:
    """[min, max] of the finite, unmasked values: exact Python ints for integer data, else floats."""
    if np.issubdtype(arr.dtype, np.integer):
        kept = arr if masked is None else arr[~masked]
        return (None, None) if kept.size == 0 else (int(kept.min()), int(kept.max()))
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr) if masked is None else np.isfinite(arr) & ~masked
    finite = arr[ok]
    if finite.size == 0:
        return None, None
    return float(finite.min()), float(finite.max())


def prepare_image(
    image: np.ndarray, scale: int, channel_axis: int | None = None, gray_channels: int = 3
) -> PreparedImage:
    """Check (`inspect_image`) and normalise an input image. Raises ValueError that says what to do.

    Missing pixels: NaN/inf, and the masked elements of a numpy MaskedArray (a pixel with any missing
    band is missing). Integers are offset by their minimum before any float cast (`offset_from`).
    """
    low, high = inspect_image(image, scale, channel_axis)
    arr, masked = _unmasked(image)
    chw, axis = _as_chw(arr, channel_axis)
    channels = chw.shape[0]
    values = offset_from(chw, low)
    finite = np.isfinite(values)
    if masked is not None:
        finite &= ~_as_chw(masked, channel_axis)[0]
    pixel_ok = np.asarray(finite.all(axis=0))
    missing = int((~pixel_ok).sum())
    y = np.where(finite, values / float(high - low), 0.0)
    if missing:
        y = np.where(pixel_ok[None], y, 0.0)  # a pixel with any missing band is missing
    if channels == 1 and gray_channels == 3:
        y = np.repeat(y, 3, axis=0)
    out_dtype = output_dtype_for(arr.dtype, low, high)
    mask = pixel_ok[None].astype(np.float32) if missing else None
    return PreparedImage(
        y.astype(np.float32), mask, Normalization(low, high, str(arr.dtype), out_dtype), axis, channels, missing
    )


def validate_image(image: Any, scale: int, channel_axis: int | None = None) -> None:
    """The public check (napari_hacbsr.validate_image): raise what a run would raise for this input."""
    inspect_image(image, scale, channel_axis)


def check_simulation_input(
    image: Any, scale: int, channel_axis: int | None = None, noise_max: float = 0.0, kernel_noise: float = 0.0
) -> None:
    """Raise the ValueError for an HR image the simulator (`hacbsr degrade`) should not degrade.

    The same rules as a run (`inspect_image`: scale, real dtype, layout, finite pixels, not constant),
    applied to the LR image it would make (its sides are the HR's // scale), plus: every HR pixel must be
    present (the blur spreads a NaN), and the noise levels must be finite and >= 0.
    """
    for name, value in (("noise", noise_max), ("kernel noise", kernel_noise)):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and value >= 0):
            raise ValueError(f"the {name} level must be a finite number >= 0 (0 for none), got {value!r}")
    scale = check_scale(scale)
    arr, masked = _unmasked(image)
    _check_kind(arr)
    chw, _ = _as_chw(arr, channel_axis)
    _, hr_h, hr_w = chw.shape
    h, w, need = hr_h // scale, hr_w // scale, min_lr_side(scale)
    if min(h, w) < need:
        raise ValueError(
            f"at ×{scale} this {hr_h}×{hr_w} HR image gives a {h}×{w} LR image, which a run refuses: it needs "
            f"at least {need}×{need} LR pixels at ×{scale}, so an HR image of at least {need * scale}×"
            f"{need * scale}. Use a larger image or a smaller scale"
        )
    inspect_image(image, scale, channel_axis)
    with np.errstate(invalid="ignore"):
        absent = int((~np.isfinite(arr)).sum()) + (0 if masked is None else int(masked.sum()))
    if absent:
        raise ValueError(
            f"the HR image has {absent} missing values (NaN/inf or masked); the simulator blurs every pixel, "
            f"so a missing one would spread. Crop to a region without them or fill them first"
        )


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
    scaled = offset_from(image, low) / float(high - low if high > low else 1.0)
    return quantize_8bit(scaled).astype(np.uint8)


def display_range(normalization: Normalization) -> tuple[float, float]:
    """The one 8-bit display mapping of a run's input and its outputs (so PNGs can be blinked).

    8- and 16-bit integer inputs keep their full dtype range (an 8-bit PNG maps 0..255 to itself); float
    and wider integer inputs have no natural display range (int64 data in 0..2**63 would be one gray), so
    their finite [min, max] is used, and the same for the input preview.
    """
    dtype = np.dtype(normalization.input_dtype)
    if np.issubdtype(dtype, np.integer) and dtype.itemsize <= 2:
        info = np.iinfo(dtype)
        return float(max(info.min, 0)), float(info.max)
    return normalization.low, normalization.high
