"""A batch item writes what `hacbsr run` writes for a georeferenced product: the GeoTIFF's CRS and
geotransform and the JSON's `georeference` (issue 28 item 3: batch wrote a plain TIFF)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_hacbsr.cli import main
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.outputs import output_paths
from tests.mission import builders

from ._data import TINY, TINY_FLAGS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_batch_item_keeps_the_georeference_as_hacbsr_run(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    from napari_hacbsr.batching.item import run_item

    (tmp_path / "in").mkdir()
    path, expected = builders.geotiff(tmp_path / "in")
    outcome = run_item(path.stem, str(path), str(tmp_path / "batch"), HACBSRConfig(scale=2, **TINY).to_dict())
    assert outcome["status"] == "done", outcome
    assert main(["run", str(path), "-o", str(tmp_path / "run"), "--scale", "2", *TINY_FLAGS]) == 0

    ours, theirs = output_paths(tmp_path / "batch", path.stem, 2), output_paths(tmp_path / "run", path.stem, 2)
    with rasterio.open(ours["sr_tiff"]) as a, rasterio.open(theirs["sr_tiff"]) as b:
        assert a.crs is not None and a.crs == b.crs and a.crs.to_epsg() == 32633
        assert a.transform == b.transform
        x0, dx, _, y0, _, dy = expected["transform"]
        assert a.transform.to_gdal() == pytest.approx((x0, dx / 2, 0.0, y0, 0.0, dy / 2))  # ×2: half the pixel
        assert a.shape == (2 * builders.ROWS, 2 * builders.COLS)
        np.testing.assert_allclose(a.read(1), b.read(1), rtol=1e-5, equal_nan=True)
    sidecar = json.loads(ours["json"].read_text())
    assert sidecar["georeference"] == json.loads(theirs["json"].read_text())["georeference"]
    assert sidecar["outputs"]["sr_tiff"] == str(ours["sr_tiff"])
