"""Where to estimate the kernel of a large frame: LR tiles with texture, spread across the frame.

A blind kernel estimate needs structure the blur has acted on; a flat plain fits any kernel, and a tile over
the limb or the sky is dominated by one edge and by black. `select_texture_tiles` scores candidate tiles
(half-overlapping, on a grid) by the median gradient magnitude over the tile (a broad measure: a single
edge moves it little), drops tiles with any missing pixel or with more than SKY_FRACTION of sky (pixels within
SKY_LEVEL of the frame's floor), and picks the best tile per region of a coarse grid (regions that are plains
are passed over) before the best of the rest, so the picks cover the frame rather than its busiest corner.
"""

from __future__ import annotations

import math

import numpy as np

SKY_LEVEL = 0.05  # of the observed range above its 0.5th percentile: sky, shadow floor
SKY_FRACTION = 0.02  # a tile with more sky than this holds a limb or a terminator
PLAIN_FRACTION = 0.25  # a region whose best tile has under this share of the frame's best texture is a plain


def texture_scores(y: np.ndarray, mask: np.ndarray | None, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate boxes (n, 4: y0, x0, y1, x1) on a tile/2 grid and their scores (NaN = not eligible)."""
    image = np.asarray(y, dtype=np.float64)
    image = image.mean(axis=0) if image.ndim == 3 else image
    h, w = image.shape
    observed = np.isfinite(image)
    if mask is not None:
        observed &= np.asarray(mask).reshape(h, w) > 0
    if tile < 4 or tile > min(h, w):
        raise ValueError(f"tile must be 4..{min(h, w)} LR px (the frame's shorter side), got {tile}")
    values = image[observed]
    if values.size == 0:
        raise ValueError("the frame has no observed pixel")
    floor = np.percentile(values, 0.5)
    sky = observed & (image <= floor + SKY_LEVEL * (values.max() - floor))
    filled = np.where(observed, image, 0.0)
    gy, gx = np.gradient(filled)
    gradient = np.hypot(gy, gx)
    step = max(tile // 2, 1)
    starts = lambda n: np.unique(np.r_[np.arange(0, n - tile + 1, step), n - tile])  # noqa: E731
    boxes, scores = [], []
    for y0 in starts(h):
        for x0 in starts(w):
            box = (slice(y0, y0 + tile), slice(x0, x0 + tile))
            eligible = observed[box].all() and sky[box].mean() <= SKY_FRACTION
            boxes.append((y0, x0, y0 + tile, x0 + tile))
            scores.append(float(np.median(gradient[box])) if eligible else math.nan)
    return np.array(boxes, dtype=np.int64), np.array(scores)


def _overlaps(box: np.ndarray, chosen: list[np.ndarray]) -> bool:
    return any(box[0] < c[2] and c[0] < box[2] and box[1] < c[3] and c[1] < box[3] for c in chosen)


def select_texture_tiles(y: np.ndarray, mask: np.ndarray | None, tile: int, count: int) -> np.ndarray:
    """Up to `count` non-overlapping `tile`² LR boxes (y0, x0, y1, x1), textured ones, spread over the frame.

    y: (h, w) or (C, h, w); mask: 1 = observed (NaN pixels count as missing too). Fewer boxes come back when
    fewer tiles are eligible (no missing pixel, no sky/limb); best first within each pass.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    boxes, scores = texture_scores(y, mask, tile)
    eligible = np.isfinite(scores)
    if not eligible.any():
        return np.zeros((0, 4), np.int64)
    h, w = np.asarray(y).shape[-2:]
    cells = math.ceil(math.sqrt(count))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    region = (centres[:, 0] * cells // h).astype(int) * cells + (centres[:, 1] * cells // w).astype(int)
    textured = PLAIN_FRACTION * float(np.nanmax(scores))
    order = [int(i) for i in np.argsort(-np.where(eligible, scores, -np.inf)) if eligible[i]]
    chosen: list[np.ndarray] = []
    used_regions: set[int] = set()
    for i in order:  # the best tile of each region that has texture
        free = len(chosen) < count and region[i] not in used_regions
        if free and scores[i] >= textured and not _overlaps(boxes[i], chosen):
            chosen.append(boxes[i])
            used_regions.add(int(region[i]))
    for i in order:  # then the best of the rest
        if len(chosen) < count and not _overlaps(boxes[i], chosen):
            chosen.append(boxes[i])
    return np.array(chosen, dtype=np.int64).reshape(-1, 4)
