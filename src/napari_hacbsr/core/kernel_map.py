"""The kernel map of a tiled run as products: per-tile shape numbers, small maps of them, a mosaic.

`Result.kernel_map` is (n_rows, n_cols, K, K) with NaN for tiles that did not finish; `Result.tile_boxes`
the tiles' LR boxes (y0, x0, y1, x1). Tile (r, c) is represented by its LR box's centre (`tile_centres`),
the one geometry the napari layers and the CSV use.
"""

from __future__ import annotations

import numpy as np

from .kernel_stats import kernel_shape

#: the per-tile numbers written to the CSV and shown as layers: (column name, KernelShape attribute)
STAT_FIELDS = (
    ("fwhm_major_hr_px", "fwhm_major"),
    ("fwhm_minor_hr_px", "fwhm_minor"),
    ("ellipticity", "ellipticity"),
    ("orientation_deg", "orientation_deg"),
)


def tile_centres(tile_boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LR data positions of the tile centres: rows (n_rows,) and columns (n_cols,)."""
    boxes = np.asarray(tile_boxes, dtype=float)
    rows = (boxes[:, 0, 0] + boxes[:, 0, 2] - 1.0) / 2.0
    cols = (boxes[0, :, 1] + boxes[0, :, 3] - 1.0) / 2.0
    return rows, cols


def finished(kernel_map: np.ndarray) -> np.ndarray:
    """(n_rows, n_cols) bool: tiles whose kernel exists."""
    return np.isfinite(kernel_map).all(axis=(2, 3))


def stat_maps(kernel_map: np.ndarray) -> dict[str, np.ndarray]:
    """Shape number name -> (n_rows, n_cols) float32 map of that number (NaN for unfinished tiles)."""
    done = finished(kernel_map)
    maps = {name: np.full(done.shape, np.nan, np.float32) for name, _ in STAT_FIELDS}
    for r, c in zip(*np.nonzero(done), strict=True):
        shape = kernel_shape(kernel_map[r, c])
        for name, attr in STAT_FIELDS:
            maps[name][r, c] = getattr(shape, attr)
    return maps


def tile_table(kernel_map: np.ndarray, tile_boxes: np.ndarray, origin: tuple[int, int] = (0, 0)) -> list[dict]:
    """One row per tile (row-major): index, grid position, LR box in the source's pixels (shifted by
    `origin`, the region's top-left corner), whether it finished, and its kernel's shape numbers.
    """
    maps = stat_maps(kernel_map)
    done = finished(kernel_map)
    rows = []
    n_rows, n_cols = done.shape
    for r in range(n_rows):
        for c in range(n_cols):
            y0, x0, y1, x1 = (int(v) for v in tile_boxes[r, c])
            row = {
                "tile": r * n_cols + c + 1,
                "row": r,
                "col": c,
                "y0": y0 + origin[0],
                "x0": x0 + origin[1],
                "y1": y1 + origin[0],
                "x1": x1 + origin[1],
                "finished": bool(done[r, c]),
            }
            row.update({name: float(maps[name][r, c]) for name, _ in STAT_FIELDS})
            rows.append(row)
    return rows


def kernel_mosaic(kernel_map: np.ndarray, gap: int = 1) -> np.ndarray:
    """The kernels side by side in tile order, each scaled to its own peak, `gap` px of NaN between."""
    n_rows, n_cols, k, _ = kernel_map.shape
    out = np.full((n_rows * (k + gap) - gap, n_cols * (k + gap) - gap), np.nan, np.float32)
    for r in range(n_rows):
        for c in range(n_cols):
            kernel = kernel_map[r, c]
            if np.isfinite(kernel).all():
                out[r * (k + gap) : r * (k + gap) + k, c * (k + gap) : c * (k + gap) + k] = kernel / kernel.max()
    return out
