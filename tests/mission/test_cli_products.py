"""`hacbsr run product -o out/` keeps the georeference in the SR product and the provenance JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from napari_hacbsr.cli import main
from napari_hacbsr.core.config import HACBSRConfig  # noqa: E402
from napari_hacbsr.core.sampling import hr_position_of_lr  # noqa: E402
from napari_hacbsr.files import read_image, read_product
from napari_hacbsr.mission.georef import sr_transform

from . import builders

DEFAULT_SAMPLING = HACBSRConfig().sampling  # what `hacbsr run` uses for a product
TINY_ARGS = ["--iters", "2", "--kernel-warmup", "3", "--encoder", "fallback", "--device", "cpu", "--quiet"]


def test_run_on_a_pds3_label_writes_a_georeferenced_geotiff(tmp_path, capsys):
    path, expected = builders.pds3(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(path), "--scale", "2", "-o", str(out), *TINY_ARGS]) == 0
    with rasterio.open(out / "SCENE_HACBSR_x2.tif") as sr, rasterio.open(path) as source:
        assert sr.shape == (2 * builders.ROWS, 2 * builders.COLS) and sr.crs == source.crs
        assert sr.transform.to_gdal() == pytest.approx(sr_transform(expected["transform"], 2, DEFAULT_SAMPLING))
        assert np.isfinite(sr.read(1)).all()  # NULL pixels were missing data, not values
    record = json.loads((out / "SCENE_HACBSR.json").read_text())
    georef = record["georeference"]
    assert georef["crs"] and georef["sampling"] == DEFAULT_SAMPLING and georef["scale"] == 2
    assert georef["transform"] == pytest.approx(sr_transform(expected["transform"], 2, DEFAULT_SAMPLING))
    assert georef["source_transform"] == pytest.approx(expected["transform"])
    assert "sr_tiff" in capsys.readouterr().out


def test_run_on_fits_writes_fits_with_the_updated_wcs(tmp_path):
    from astropy.io import fits

    path, _ = builders.fits(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(path), "--scale", "2", "-o", str(out), *TINY_ARGS]) == 0
    header = fits.getheader(out / "scene_HACBSR_x2.fits")
    assert header["CRPIX1"] == pytest.approx(hr_position_of_lr(10.5 - 1, 2, DEFAULT_SAMPLING) + 1)
    assert header["CDELT1"] == pytest.approx(-1e-4)
    assert (out / "scene_HACBSR_x2.tif").is_file()  # the plain float TIFF is still written
    record = json.loads((out / "scene_HACBSR.json").read_text())
    assert record["georeference"]["wcs"]["CRPIX2"] == pytest.approx(
        hr_position_of_lr(12.5 - 1, 2, DEFAULT_SAMPLING) + 1
    )


def test_read_image_dispatches_products_and_keeps_plain_tiffs(tmp_path):
    import tifffile

    path, expected = builders.pds3(tmp_path, bands=2)
    image, channel_axis, georef = read_product(path)
    assert image.shape == (2, builders.ROWS, builders.COLS) and channel_axis == 0
    assert georef["transform"] == pytest.approx(expected["transform"])
    assert read_image(path)[1] == 0
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.arange(64, dtype=np.uint16).reshape(8, 8))
    image, channel_axis, georef = read_product(plain)
    assert georef is None and image.dtype == np.uint16 and channel_axis is None


def test_missing_extra_is_a_clear_cli_error(tmp_path, monkeypatch, capsys):
    path, _ = builders.pds3(tmp_path)
    monkeypatch.setattr("napari_hacbsr.mission.missing_libraries", lambda *a: ["pdr"])
    assert main(["run", str(path), "-o", str(tmp_path / "out"), *TINY_ARGS]) == 2
    assert "napari-hacbsr[mission]" in capsys.readouterr().err
