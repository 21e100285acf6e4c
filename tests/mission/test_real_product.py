"""A real mission product from a package registry: the MAVEN IUVS L1a product that pds4-tools 1.4 ships.

Fetched by `bash scripts/fetch_real_products.sh` (pip download of the pds4-tools sdist); skipped when absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from napari_hacbsr.napari.reader import get_reader

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = Path(os.environ.get("HACBSR_REAL_PRODUCTS", ROOT / ".cache" / "real-products"))
LABEL = PRODUCTS / "äf.xml"


@pytest.mark.skipif(not LABEL.is_file(), reason="run `bash scripts/fetch_real_products.sh` to fetch the product")
def test_maven_iuvs_pds4_product_opens_as_one_layer_with_a_time_slider():
    from astropy.io import fits

    [(data, kwargs, kind)] = get_reader(str(LABEL))(str(LABEL))
    assert kind == "image" and "channel_axis" not in kwargs  # Time × Line × Sample: one layer, a slider
    assert kwargs["axis_labels"] == ("Time", "row", "column")
    assert data.shape == (21, 10, 36)  # 21 integrations of a 10 x 36 (spatial x spectral) detector image
    meta = kwargs["metadata"]["mission"]
    assert meta["format"] == "PDS4" and "maven.iuvs" in str(meta["label"])
    # the same numbers astropy reads from the FITS file the label points at (independent reader)
    np.testing.assert_array_equal(data, fits.getdata(PRODUCTS / "äf.fits", 0))
    assert kwargs["scale"] == (1.0, 1.0, 1.0)  # an unprojected product: placed in pixels
