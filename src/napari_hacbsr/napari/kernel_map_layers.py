"""The kernel map of a tiled run as napari layers (main thread only).

* ``<kernel layer>_map``: every tile's kernel in tile order as a mosaic (each scaled to its peak),
  hidden and placed beside the source like the kernel layer (slot 1, below it);
* ``<kernel layer>_fwhm`` / ``_ellipticity`` / ``_orientation``: one pixel per tile, placed on the
  tile centres over the source (``placement.tile_map_layer_kwargs``), hidden, so a click shows how
  the blur varies across the frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.kernel_map import kernel_mosaic, stat_maps
from .placement import kernel_layer_kwargs, tile_map_layer_kwargs

#: stat map (core.kernel_map.stat_maps key) -> (layer suffix, colormap)
MAP_LAYERS = {
    "fwhm_major_hr_px": ("fwhm", "viridis"),
    "ellipticity": ("ellipticity", "magma"),
    "orientation_deg": ("orientation", "twilight"),
}


def add_kernel_map_layers(
    viewer: Any, source: Any, result: Any, kernel_name: str, origin: tuple[int, int] = (0, 0)
) -> list[Any]:
    """Add the mosaic and the per-tile shape layers of a tiled result; nothing for one tile, nor when
    no tile finished (a run stopped in its first tile has no kernel map: all NaN).
    """
    kernel_map, boxes = result.kernel_map, result.tile_boxes
    if kernel_map is None or boxes is None or kernel_map.shape[0] * kernel_map.shape[1] < 2:
        return []
    if not np.isfinite(kernel_map).any():
        return []
    metadata = {"hacbsr": {"tile_boxes": boxes.tolist(), "origin": list(origin)}}
    mosaic = kernel_mosaic(kernel_map)
    layers = [
        viewer.add_image(
            mosaic,
            name=f"{kernel_name}_map",
            colormap="inferno",
            visible=False,
            metadata=metadata,
            **kernel_layer_kwargs(source, result.config.scale, mosaic.shape, slot=1),
        )
    ]
    geometry = tile_map_layer_kwargs(source, boxes, origin)
    for key, values in stat_maps(kernel_map).items():
        if key not in MAP_LAYERS:
            continue
        suffix, colormap = MAP_LAYERS[key]
        finite = values[np.isfinite(values)]
        limits = [float(finite.min()), float(finite.max()) + 1e-6] if finite.size else [0.0, 1.0]
        layers.append(
            viewer.add_image(
                values,
                name=f"{kernel_name}_{suffix}",
                colormap=colormap,
                contrast_limits=limits,
                opacity=0.6,
                visible=False,
                metadata=metadata,
                **geometry,
            )
        )
    return layers
