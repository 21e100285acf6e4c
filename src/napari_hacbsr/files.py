"""Reading and writing images for the command line and batch runs (PNG, TIFF and what imageio reads)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

TIFF_SUFFIXES = {".tif", ".tiff"}
#: plain image files (no georeference), read with tifffile / imageio
PLAIN_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", *TIFF_SUFFIXES}
ACCEPTED = (
    "PNG, TIFF, JPEG, BMP, GIF or WebP images, and (with napari-hacbsr[mission]) PDS3 .LBL/.IMG, "
    "PDS4 .xml, ISIS3 .cub, FITS and GeoTIFF products"
)
# What a folder or glob of a batch run picks up: plain images and mission products by their label or
# single file (detached PDS3 .IMG data files are reached through their .LBL). A file named explicitly is
# always tried, whatever its suffix.
READABLE_SUFFIXES = frozenset(PLAIN_SUFFIXES | {".lbl", ".xml", ".cub", ".fits", ".fit", ".fts"})


class ImageReadError(ValueError):
    """The file cannot be read as an image; the message says why and what to do."""


def read_image(path: str | Path, channel_axis: int | None = None) -> tuple[np.ndarray, int | None]:
    """Read an image and infer its channel axis.

    (H, W, 3|4) colour images keep their colour axis (alpha is dropped); colour images whose
    channels are all equal are read as grayscale. Other 3-D data need `channel_axis`. Mission
    products (PDS3/PDS4/ISIS3/FITS/GeoTIFF) go through `napari_hacbsr.mission`, see `read_product`.
    """
    image, channel_axis, _ = read_product(path, channel_axis)
    return image, channel_axis


def read_product(path: str | Path, channel_axis: int | None = None) -> tuple[np.ndarray, int | None, dict | None]:
    """`read_image` plus the georeference of a mission product (None for plain images).

    A multi-band product comes back as (bands, rows, cols) with channel axis 0.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    from .mission import MISSION_SUFFIXES, MissionDependencyError
    from .mission.products import ProductReadError, is_product

    # products by suffix and first bytes; plain (non-georeferenced) TIFFs keep the tifffile path
    if is_product(path):
        from .mission.products import read_product as read_mission

        try:
            product = read_mission(path)
        except (ProductReadError, MissionDependencyError) as exc:
            raise ImageReadError(str(exc)) from None
        return product.data, (0 if product.data.ndim == 3 else None), product.georef()
    suffix = path.suffix.lower()
    if suffix == ".img":
        raise ImageReadError(_no_pds_label(path))
    if suffix not in PLAIN_SUFFIXES:
        kind = f"'{suffix}' files are" if suffix else "files without an extension are"
        hint = " (this one does not look like a product)" if suffix in MISSION_SUFFIXES else ""
        raise ImageReadError(f"{path}: {kind} not images HACBSR reads{hint}. Accepted: {ACCEPTED}")
    return (*_read_plain(path, channel_axis), None)


def _no_pds_label(path: Path) -> str:
    """Why an .IMG that is not a product was refused: it has neither an attached nor a detached label."""
    return (
        f"{path}: this .IMG has no PDS label: it does not start with one (PDS_VERSION_ID) and there is no "
        f"{path.stem}.LBL beside it. A PDS3 .IMG with a detached label is read through that label: put "
        f"{path.stem}.LBL (from the same archive volume) beside the .IMG, then open the .LBL or the .IMG again."
    )


def _read_plain(path: Path, channel_axis: int | None) -> tuple[np.ndarray, int | None]:
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            image = tifffile.imread(path)
        else:
            import imageio.v3 as iio

            image = iio.imread(path)
    except Exception:  # noqa: BLE001 - any decoder failure is the same message to the user
        raise ImageReadError(
            f"{path}: the file's contents are not a readable {path.suffix.lstrip('.').upper()} image (it may be "
            f"damaged, or another kind of file with this name). Accepted: {ACCEPTED}"
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


def write_png(path: str | Path, image_uint8: np.ndarray) -> None:
    """Write an 8-bit image as PNG."""
    import imageio.v3 as iio

    iio.imwrite(Path(path), image_uint8)


def write_tiff(path: str | Path, image: np.ndarray) -> None:
    """Write an image as float32 TIFF."""
    import tifffile

    tifffile.imwrite(Path(path), np.asarray(image, dtype=np.float32))


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (a temporary file renamed over the target): readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
