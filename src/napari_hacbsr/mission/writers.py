"""Write images with their georeference: GeoTIFF (rasterio) and FITS with a WCS (astropy).

Float data are written as float32 with NaN as nodata. ``write_sr_product`` writes a run's ×s result
with the georeference ``georef.sr_georef`` derives from the source product's.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import FITS_SUFFIXES, require
from .georef import sr_georef


def bands_first(data: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """(rows, cols) or (bands, rows, cols) from an array with an optional channel axis."""
    data = np.asarray(data)
    return data if channel_axis is None else np.moveaxis(data, channel_axis, 0)


def write_geotiff(
    path: str | Path,
    data: np.ndarray,
    crs: str | None,
    transform: tuple[float, ...] | list[float] | None,
    band_names: list[str] | None = None,
) -> Path:
    """(rows, cols) or (bands, rows, cols) as a float32 GeoTIFF with CRS, geotransform and NaN nodata."""
    require("rasterio")
    import rasterio
    from affine import Affine

    path = Path(path)
    stack = np.asarray(data, dtype=np.float32)
    stack = stack[None] if stack.ndim == 2 else stack
    profile = {
        "driver": "GTiff",
        "height": stack.shape[1],
        "width": stack.shape[2],
        "count": stack.shape[0],
        "dtype": "float32",
        "nodata": float("nan"),
        "crs": rasterio.crs.CRS.from_wkt(crs) if crs else None,
        "transform": Affine.from_gdal(*transform) if transform is not None else None,
    }
    with warnings.catch_warnings():  # no georeference is a valid result (plain layers): no NotGeoreferencedWarning
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        dst = rasterio.open(path, "w", **{k: v for k, v in profile.items() if v is not None})
    with dst:
        dst.write(stack)
        for i, name in enumerate(band_names or []):
            if i < stack.shape[0]:
                dst.set_band_description(i + 1, str(name))
    return path


def write_fits(path: str | Path, data: np.ndarray, wcs: dict[str, Any] | None) -> Path:
    """A float32 FITS primary HDU carrying the WCS keywords ``wcs``."""
    require("astropy")
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.asarray(data, dtype=np.float32))
    for key, value in (wcs or {}).items():
        hdu.header[key] = value
    path = Path(path)
    hdu.writeto(path, overwrite=True)
    return path


def write_georeferenced(path: str | Path, data: np.ndarray, georef: dict[str, Any]) -> Path:
    """FITS (by suffix) or GeoTIFF with the georeference dict ``georef`` (crs, transform, wcs, bands)."""
    if Path(path).suffix.lower() in FITS_SUFFIXES:
        return write_fits(path, data, georef.get("wcs"))
    return write_geotiff(path, data, georef.get("crs"), georef.get("transform"), georef.get("bands"))


def sr_product_path(sr_tiff: Path, georef: dict[str, Any]) -> Path:
    """FITS products get a FITS result beside the TIFF name; everything else a GeoTIFF."""
    return sr_tiff.with_suffix(".fits") if georef.get("wcs") and not georef.get("transform") else sr_tiff


def write_sr_product(sr_tiff: Path, result: Any, georef: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The ×s result of ``result`` written with the georeference derived from ``georef``.

    Returns the path and the result's georeference (for the provenance JSON).
    """
    config = result.config
    out = sr_georef(georef, config.scale, config.sampling)
    path = sr_product_path(Path(sr_tiff), georef)
    write_georeferenced(path, bands_first(result.sr, result.channel_axis), out)
    return path, out
