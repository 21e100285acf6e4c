"""Tile grids and blending, tested with known per-tile pictures (no network runs)."""

import numpy as np
import pytest

from napari_hacbsr.core.tiling import Assembly, TileGrid, edge_margin_hr, plan_grid

S = 2


def truth(shape):
    """A smooth HR image whose value is known everywhere."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return 0.5 + 0.3 * np.sin(xx / 17.0) * np.cos(yy / 23.0)


def assemble(grid: TileGrid, tile_picture, fill=None):
    hr = (grid.lr_shape[0] * S, grid.lr_shape[1] * S)
    assembly = Assembly(np.zeros(hr) if fill is None else fill, None, grid, S, edge_margin_hr(S))
    for i in range(grid.count):
        y0, x0, y1, x1 = assembly.hr_box(i)
        assembly.add(i, tile_picture(i, (y0, x0, y1, x1)))
    return assembly


@pytest.mark.parametrize(("lr_shape", "tile", "overlap"), [((48, 60), 32, 14), ((100, 70), 40, 10), ((33, 90), 33, 16)])
def test_grid_covers_the_image_with_at_least_the_overlap(lr_shape, tile, overlap):
    grid = plan_grid(lr_shape, S, tile, overlap)
    for spans, length in ((grid.rows, lr_shape[0]), (grid.cols, lr_shape[1])):
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert all(b - a == min(tile, length) for a, b in spans)
        assert all(spans[i][1] - spans[i + 1][0] >= overlap for i in range(len(spans) - 1))


def test_weights_are_a_partition_of_unity_even_where_three_tiles_meet():
    grid = plan_grid((48, 60), S, 32, 14)  # columns 0-32, 14-46, 28-60: three tiles share columns 28-32
    assert len(grid.cols) == 3 and grid.cols[0][1] > grid.cols[2][0]
    hr = truth((96, 120))
    out = assemble(grid, lambda i, b: hr[b[0] : b[2], b[1] : b[3]]).picture()
    np.testing.assert_allclose(out, hr, atol=1e-12)


def test_seams_overlap_error_not_worse_than_tile_interiors():
    """Each tile = truth + its own offset (a different kernel/solution per tile) + garbage in the
    margin of its inner edges (the network's border). Tolerance: in every overlap pixel the error is at most the
    largest interior error of the tiles covering it (+1e-12): convex blending, garbage never used."""
    grid = plan_grid((70, 90), S, 36, 14)
    hr = truth((140, 180))
    rng = np.random.default_rng(0)
    offsets = rng.uniform(-0.02, 0.02, grid.count)
    m = edge_margin_hr(S)

    def picture(i, b):
        tile = hr[b[0] : b[2], b[1] : b[3]] + offsets[i]
        r, c = divmod(i, grid.shape[1])
        if r > 0:  # garbage only at edges inside the frame (at the frame's border nothing can replace it)
            tile[:m] += 0.5
        if r < grid.shape[0] - 1:
            tile[-m:] += 0.5
        if c > 0:
            tile[:, :m] -= 0.5
        if c < grid.shape[1] - 1:
            tile[:, -m:] -= 0.5
        return tile

    assembly = assemble(grid, picture)
    err = np.abs(assembly.picture() - hr)
    cover = np.zeros(hr.shape, int)
    bound = np.zeros(hr.shape)
    for i in range(grid.count):
        y0, x0, y1, x1 = assembly.hr_box(i)
        cover[y0:y1, x0:x1] += 1
        bound[y0:y1, x0:x1] = np.maximum(bound[y0:y1, x0:x1], abs(offsets[i]))
    overlap = cover > 1
    assert overlap.sum() > 0.1 * overlap.size
    assert np.all(err[overlap] <= bound[overlap] + 1e-12)
    # no seam: neighbouring pixels of the error differ by no more than the offsets' spread per ramp pixel
    ramp = 14 * S - 2 * m
    assert np.abs(np.diff(err, axis=1)).max() <= np.ptp(offsets) * np.pi / 2 / ramp * 1.01 + 1e-12


def test_unfinished_tiles_keep_the_fill():
    grid = plan_grid((48, 48), S, 30, 10)
    fill = np.full((96, 96), 7.0)
    hr_box = None
    assembly = Assembly(fill, None, grid, S, edge_margin_hr(S))
    hr_box = assembly.hr_box(0)
    assembly.add(0, np.ones((hr_box[2] - hr_box[0], hr_box[3] - hr_box[1])))
    out = assembly.picture()
    assert out[0, 0] == 1.0 and out[-1, -1] == 7.0  # finished corner vs untouched corner
    assert out.min() >= 1.0 and out.max() <= 7.0


def test_tiles_smaller_than_twice_the_overlap_are_refused():
    with pytest.raises(ValueError, match="tile size 20 LR px is too small"):
        plan_grid((100, 100), S, 20, 14)
