"""core.texture: where the kernel estimate looks (textured LR tiles, spread, no sky, no missing pixels)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_hacbsr.core.texture import select_texture_tiles


def _frame() -> tuple[np.ndarray, np.ndarray]:
    """96² LR: a flat plain on the left, cratered texture on the right, black sky with a limb at the bottom-right,
    and a block of missing pixels inside the texture."""
    rng = np.random.default_rng(0)
    r, c = np.mgrid[0:96, 0:96]
    frame = np.full((96, 96), 0.5) + 0.002 * rng.standard_normal((96, 96))  # the plain
    texture = 0.5 + 0.15 * np.sin(r / 2.3) * np.cos(c / 1.7) + 0.05 * rng.standard_normal((96, 96))
    frame[:, 48:] = texture[:, 48:]
    frame[(r - 40) ** 2 + (c - 40) ** 2 > 70**2] = 0.0  # sky beyond the limb (bottom-right corner)
    mask = np.ones((96, 96), np.float32)
    mask[8:20, 60:72] = 0
    return frame.astype(np.float32), mask


def test_tiles_are_textured_observed_spread_and_clear_of_the_sky():
    frame, mask = _frame()
    boxes = select_texture_tiles(frame, mask, tile=16, count=4)
    assert len(boxes) == 4
    sky = frame == 0.0
    for y0, x0, y1, x1 in boxes:
        assert x0 >= 48  # never the flat plain
        assert mask[y0:y1, x0:x1].all()  # never a missing pixel
        assert not sky[y0:y1, x0:x1].any()  # never the limb
    for i, a in enumerate(boxes):  # no two overlap
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    assert np.ptp(boxes[:, 0]) >= 32  # spread down the textured strip, not bunched in one place


def test_nan_pixels_count_as_missing_and_channels_are_averaged():
    frame, mask = _frame()
    with_nan = frame.copy()
    with_nan[mask == 0] = np.nan
    a = select_texture_tiles(frame, mask, tile=16, count=3)
    b = select_texture_tiles(np.stack([with_nan] * 3), None, tile=16, count=3)
    np.testing.assert_array_equal(a, b)


def test_a_frame_with_no_eligible_tile_gives_none_and_bad_sizes_get_a_message():
    sky = np.zeros((32, 32), np.float32)
    sky[:, :2] = 1.0  # a sliver of limb; the rest is sky
    assert select_texture_tiles(sky, None, tile=16, count=2).shape == (0, 4)
    with pytest.raises(ValueError, match="tile must be"):
        select_texture_tiles(sky, None, tile=64, count=2)
    with pytest.raises(ValueError, match="count must be"):
        select_texture_tiles(sky, None, tile=16, count=0)
