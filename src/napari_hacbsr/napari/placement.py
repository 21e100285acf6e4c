"""Where HACBSR outputs sit in napari's world coordinates.

napari maps data to world as ``world = affine(rotate·shear·diag(scale)·data + translate)`` with
pixel *centres* on integer data coordinates. HR pixel ``j`` holds the content of LR data position
``(j - phase)/s`` (``core.sampling``: the phase is a named setting of the run), so overlaying the
SR layer on its source needs

    scale_out     = scale / s                                  (spatial axes)
    translate_out = phys(-phase/s) = translate + rotate·shear·diag(scale)·(-phase/s)

which is ``translate + scale·(s - 1)/(2s)`` for the "stride" convention of an axis-aligned layer
and ``translate - scale·(s - 1)/(2s)`` for "area". Units, axis labels, rotate, shear and the extra
affine are copied. ``tests/napari/test_geometry.py`` degrades a blob with the engine's own
simulator and checks both layers put it at the same world point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.sampling import kernel_size_for, lr_position_of_hr
from .layer_rules import spatial_shape

if TYPE_CHECKING:  # pragma: no cover
    from napari.layers import Image

#: gap between the image and a kernel layer placed beside it, in source (LR) pixels, as a fraction of the width
KERNEL_GAP_FRACTION = 0.03


def _physical(layer: Any):
    """The layer's data → physical transform (scale, translate, rotate, shear; no extra affine)."""
    from napari.utils.transforms import Affine

    return Affine(
        scale=np.asarray(layer.scale, dtype=float),
        translate=np.asarray(layer.translate, dtype=float),
        rotate=np.asarray(layer.rotate, dtype=float),
        shear=np.asarray(layer.shear, dtype=float),
    )


def _copied_frame(layer: Any) -> dict[str, Any]:
    """Rotate/shear/affine/units/axis labels to copy from the source (public attributes only)."""
    out: dict[str, Any] = {
        "rotate": np.array(layer.rotate, dtype=float),
        "shear": np.array(layer.shear, dtype=float),
        "affine": np.array(layer.affine.affine_matrix, dtype=float),
    }
    for attr in ("units", "axis_labels"):  # napari >= 0.6
        value = getattr(layer, attr, None)
        if value is not None:
            out[attr] = tuple(value)
    return out


def _check_2d(layer: Any) -> None:
    if int(layer.ndim) != 2:
        raise ValueError(f"expected a 2-D (grey or RGB) layer, got ndim={layer.ndim}")


def sr_layer_kwargs(
    layer: Image, scale: int, sampling: str = "stride", origin: tuple[int, int] = (0, 0)
) -> dict[str, Any]:
    """Geometry keyword arguments for ``viewer.add_image`` of the ×``scale`` result of ``layer``
    (or of its region whose top-left LR pixel is ``origin`` = (row, column)).
    """
    _check_2d(layer)
    s = int(scale)
    src_scale = np.asarray(layer.scale, dtype=float)
    # LR data position of HR pixel (0, 0)
    shift = np.full(2, float(lr_position_of_hr(0.0, s, sampling))) + np.asarray(origin, dtype=float)
    return {
        "scale": src_scale / s,
        "translate": np.asarray(_physical(layer)(shift), dtype=float),
        **_copied_frame(layer),
    }


def kernel_layer_kwargs(
    layer: Any, scale: int, kernel_shape: tuple[int, int] | None = None, slot: int = 0
) -> dict[str, Any]:
    """Geometry for a kernel layer shown beside (to the right of) ``layer``'s image, in HR pixels.

    Kernel pixels get the SR layer's pixel size (source scale / s), so the kernel can be compared
    with the SR image at true size. Its top-left corner sits a small gap right of the source's
    right edge, top-aligned; ``slot`` 1, 2, ... stacks further kernels below (e.g. the sample's
    ground-truth kernel under the estimated one).
    """
    _check_2d(layer)
    s = int(scale)
    size = kernel_size_for(s)
    k_rows, k_cols = kernel_shape if kernel_shape is not None else (size, size)
    rows, cols = spatial_shape(layer)
    gap = max(1.0, KERNEL_GAP_FRACTION * cols)
    half = 0.5 / s  # half an HR pixel, in LR pixels
    top = -0.5 + half + slot * (k_rows / s + gap)
    left = cols - 0.5 + gap + half
    src_scale = np.asarray(layer.scale, dtype=float)
    return {
        "scale": src_scale / s,
        "translate": np.asarray(_physical(layer)(np.array([top, left])), dtype=float),
        **_copied_frame(layer),
    }


def tile_map_layer_kwargs(layer: Any, tile_boxes: np.ndarray, origin: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """Geometry for a one-pixel-per-tile map over ``layer``: pixel (r, c) on tile (r, c)'s centre.

    Tile centres come from ``core.kernel_map.tile_centres`` (LR data positions, shifted by the
    region's ``origin``); their mean spacing is the map's pixel size in source pixels.
    """
    from ..core.kernel_map import tile_centres

    _check_2d(layer)
    rows, cols = tile_centres(tile_boxes)
    first = np.array([rows[0], cols[0]]) + np.asarray(origin, dtype=float)
    step = np.array(
        [
            (rows[-1] - rows[0]) / (len(rows) - 1) if len(rows) > 1 else tile_boxes[0, 0, 2] - tile_boxes[0, 0, 0],
            (cols[-1] - cols[0]) / (len(cols) - 1) if len(cols) > 1 else tile_boxes[0, 0, 3] - tile_boxes[0, 0, 1],
        ],
        dtype=float,
    )
    return {
        "scale": np.asarray(layer.scale, dtype=float) * step,
        "translate": np.asarray(_physical(layer)(first), dtype=float),
        **_copied_frame(layer),
    }


def region_source_metadata(metadata: Any, origin: tuple[int, int]) -> Any:
    """The source layer's metadata as seen by a run on the region whose pixel (0, 0) is `origin` (row, col).

    A product's georeference (``metadata["mission"]``) is moved to the region's top-left pixel, as
    ``hacbsr run --roi`` does; without it the saved result would sit at the frame's origin.
    """
    from ..mission.georef import crop_georef

    georef = (metadata or {}).get("mission") if isinstance(metadata, dict) else None
    if not isinstance(georef, dict) or tuple(origin) == (0, 0):
        return metadata
    return {**metadata, "mission": crop_georef(georef, row=int(origin[0]), col=int(origin[1]))}
