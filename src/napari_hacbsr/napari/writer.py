"""npe2 writer: an Image layer as a GeoTIFF or FITS that keeps its georeference.

The georeference is the layer's ``metadata["mission"]`` (set by the reader for products, and by the
run controller for HACBSR results via ``georef.sr_layer_metadata``). A layer without one is written
with a geotransform from its scale/translate and no CRS. A provenance JSON (``metadata["hacbsr"]``
plus the georeference) is written beside the image as ``<image name>.json`` (``x.tif.json``), so a
``.tif`` and a ``.fits`` of one stem keep one sidecar each. A name without a known extension gets ``.tif``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_json
from ..mission.georef import transform_from_layer
from ..mission.writers import bands_first, write_georeferenced

#: what the manifest's writer declares, plus FITS's short forms (napari passes the name the user typed)
WRITER_SUFFIXES = (".tif", ".tiff", ".fits", ".fit", ".fts")


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer for ``image`` layers (.tif, .tiff, .fits)."""
    metadata = dict(meta.get("metadata") or {})
    georef = metadata.get("mission")
    if not isinstance(georef, dict):
        scale, translate = meta.get("scale", (1.0, 1.0)), meta.get("translate", (0.0, 0.0))
        georef = {"crs": None, "transform": list(transform_from_layer(scale, translate)), "wcs": None}
    array = bands_first(np.asarray(data), -1 if meta.get("rgb") else None)
    image_path = write_georeferenced(with_image_suffix(path), array, georef)
    sidecar = image_path.with_name(image_path.name + ".json")
    write_json(sidecar, {"hacbsr": metadata.get("hacbsr"), "georeference": _without_label(georef)})
    return [str(image_path), str(sidecar)]


def with_image_suffix(path: str | Path) -> Path:
    """``path`` with ``.tif`` added unless it already ends in a suffix this writer writes."""
    path = Path(path)
    return path if path.suffix.lower() in WRITER_SUFFIXES else path.with_name(path.name + ".tif")


def _without_label(georef: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in georef.items() if k != "label"}
