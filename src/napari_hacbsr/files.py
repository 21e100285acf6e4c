"""Reading and writing images for the command line and batch runs (PNG, TIFF and what imageio reads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

TIFF_SUFFIXES = {".tif", ".tiff"}
# What a folder or glob of a batch run picks up: the suffixes `read_image` opens (mission products join
# here when their reader lands). A file named explicitly is always tried, whatever its suffix.
READABLE_SUFFIXES = TIFF_SUFFIXES | {".png", ".jpg", ".jpeg", ".bmp"}


class ImageReadError(ValueError):
    """The file cannot be read as an image; the message says why and what to do."""


def read_image(path: str | Path, channel_axis: int | None = None) -> tuple[np.ndarray, int | None]:
    """Read an image and infer its channel axis.

    (H, W, 3|4) colour images keep their colour axis (alpha is dropped); colour images whose
    channels are all equal are read as grayscale. Other 3-D data need `channel_axis`.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            image = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            image = iio.imread(path)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the same message to the user
        raise ImageReadError(
            f"{path}: cannot be read as an image ({type(exc).__name__}: {exc}). "
            f"Supported: PNG, TIFF, and other formats imageio reads"
        ) from None
    image = np.asarray(image)
    if image.ndim == 3 and channel_axis is None and image.shape[-1] in (3, 4):
        image = image[..., :3]
        if np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]):
            return image[..., 0], None
        return image, -1
    if image.ndim == 3 and image.shape[0] == 1 and channel_axis is None:
        return image[0], None
    return image, channel_axis


def to_preview_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """8-bit preview of an image in the value range [low, high] (clipped)."""
    scaled = (np.asarray(image, np.float64) - low) / (high - low if high > low else 1.0)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_png(path: str | Path, image_uint8: np.ndarray) -> None:
    import imageio.v3 as iio

    iio.imwrite(Path(path), image_uint8)


def write_tiff(path: str | Path, image: np.ndarray) -> None:
    import tifffile

    tifffile.imwrite(Path(path), np.asarray(image, dtype=np.float32))


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")
