"""npe2 reader: mission products as Image layers placed by their georeference.

Returns None for files that are not products this plugin reads (other XML, .img files without a
PDS label, ...) so napari offers them to other readers. When the ``[mission]`` extra is missing, a
file that is unmistakably a PDS/ISIS product gets a reader that raises a message naming the extra.

The manifest claims only .lbl/.img/.xml/.cub: napari's own reader owns .tif and .fits, and a second
claim would make napari ask "Choose reader" for every plain TIFF. ``open_product`` adds a GeoTIFF or
FITS (or any product) with its georeference from the console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..mission import missing_libraries, require
from ..mission.products import is_product, read_product

#: formats whose files nobody else opens: worth a message naming the extra when it is missing
_OURS_ONLY = (".lbl", ".cub", ".xml", ".img")


def get_reader(path: str | list[str]):
    """npe2 ``get_reader`` hook: a reader function for ``path``, or None when it is not a product."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    path = str(path)
    if missing_libraries():
        if Path(path).suffix.lower() in _OURS_ONLY and is_product(path):
            return _missing_extra
        return None
    return read_layers if is_product(path) else None


def _missing_extra(path: str | list[str]) -> list:
    require()  # raises MissionDependencyError naming the extra
    return []


def read_layers(path: str | list[str]) -> list[tuple[Any, dict[str, Any], str]]:
    """The product as napari LayerData: one Image layer; a multi-band product one layer per band
    (``channel_axis=0``), an RGB GeoTIFF one RGB layer, a PDS4 Time × Line × Sample array one layer with
    a slider named by the label.
    """
    path = path[0] if isinstance(path, list) else path
    image = read_product(path)  # ProductReadError / MissionDependencyError carry the user's message
    stem = Path(path).stem
    kwargs: dict[str, Any] = {
        "name": stem,
        "scale": image.pixel_size,
        "translate": image.origin,
        "units": image.units,
        "axis_labels": image.axis_labels,
        "metadata": {"mission": image.georef()},
    }
    data = image.data
    if data.ndim == 3 and image.stack_axis == "rgb":
        data = np.moveaxis(data, 0, -1)  # napari's RGB layers are (rows, cols, 3)
        kwargs["rgb"] = True
    elif data.ndim == 3 and image.stack_axis != "band":
        kwargs.update(
            scale=(1.0, *image.pixel_size),
            translate=(0.0, *image.origin),
            units=("pixel", *image.units),
            axis_labels=(image.stack_axis, *image.axis_labels),
        )
    elif data.ndim == 3:
        kwargs["name"] = [f"{stem} {b}" for b in image.bands]
        kwargs["channel_axis"] = 0
    return [(data, kwargs, "image")]


def open_product(viewer: Any, path: str) -> list[Any]:
    """Add the product at ``path`` to ``viewer`` placed by its georeference; returns the new layers.

    For GeoTIFF and FITS, which napari opens with its own reader (pixels only), e.g.
    ``open_product(viewer, "dtm.tif")``. Raises ProductReadError when ``path`` is not a product.
    """
    from ..mission.products import ProductReadError

    if not is_product(path):
        raise ProductReadError(f"{path}: not a product HACBSR reads (a plain TIFF has no CRS or geotransform)")
    [(data, kwargs, _)] = read_layers(path)
    added = viewer.add_image(data, **kwargs)
    return added if isinstance(added, list) else [added]
