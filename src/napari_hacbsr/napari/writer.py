"""npe2 writer: an Image layer as a GeoTIFF or FITS that keeps its georeference.

The georeference is the layer's ``metadata["mission"]`` (set by the reader for products, and by the
run controller for HACBSR results via ``georef.sr_layer_metadata``). A layer without one is written
with a geotransform from its scale/translate and no CRS. A provenance JSON (``metadata["hacbsr"]``
plus the georeference) is written beside the image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..files import write_json
from ..mission.georef import transform_from_layer
from ..mission.writers import bands_first, write_georeferenced


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer for ``image`` layers (.tif, .tiff, .fits)."""
    metadata = dict(meta.get("metadata") or {})
    georef = metadata.get("mission")
    if not isinstance(georef, dict):
        scale, translate = meta.get("scale", (1.0, 1.0)), meta.get("translate", (0.0, 0.0))
        georef = {"crs": None, "transform": list(transform_from_layer(scale, translate)), "wcs": None}
    array = bands_first(np.asarray(data), -1 if meta.get("rgb") else None)
    image_path = write_georeferenced(path, array, georef)
    sidecar = image_path.with_suffix(".json")
    write_json(sidecar, {"hacbsr": metadata.get("hacbsr"), "georeference": _without_label(georef)})
    return [str(image_path), str(sidecar)]


def _without_label(georef: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in georef.items() if k != "label"}
