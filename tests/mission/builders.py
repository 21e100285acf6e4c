"""Mission products made by independent writers (hand-written PDS3 labels, GDAL, astropy) for the tests.

Every builder returns (path, expected) where ``expected`` holds the values the reader must produce:
``values`` (float64, NaN at special constants), and the georeference written into the label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A Moon equirectangular projection in metres (what LROC/Kaguya map products use).
MOON_WKT = (
    'PROJCS["Moon_Equirectangular",GEOGCS["Moon",DATUM["D_Moon",SPHEROID["Moon",1737400,0]],'
    'PRIMEM["Reference_Meridian",0],UNIT["degree",0.0174532925199433]],PROJECTION["Equirectangular"],'
    'PARAMETER["standard_parallel_1",0],PARAMETER["central_meridian",0],PARAMETER["false_easting",0],'
    'PARAMETER["false_northing",0],UNIT["metre",1]]'
)
ROWS, COLS = 24, 20


def _raw(rows: int = ROWS, cols: int = COLS, bands: int = 1) -> np.ndarray:
    """A smooth int16 scene, different per band."""
    b, y, x = np.mgrid[0:bands, 0:rows, 0:cols]
    return (1000 + 40 * np.sin(x / 3.0) * np.cos(y / 4.0) + 7 * y + 3 * x + 500 * b).astype(np.int16)


def pds3(folder: Path, bands: int = 1, projected: bool = True) -> tuple[Path, dict]:
    """PDS3 detached label + big-endian int16 raw image with NULL and saturation constants.

    ``projected=False`` leaves out IMAGE_MAP_PROJECTION, as in an EDR (raw camera frame).
    """
    raw = _raw(bands=bands)
    raw[0, 3, 4] = -32768  # NULL = MISSING_CONSTANT
    raw[0, 5, 6] = -32767  # LOW_REPR_SATURATION
    (folder / "SCENE.IMG").write_bytes(raw.astype(">i2").tobytes())
    map_scale_km, lpo, spo = 0.05, 120.5, -300.5
    label = f"""PDS_VERSION_ID = PDS3
RECORD_TYPE = FIXED_LENGTH
RECORD_BYTES = {COLS * 2}
FILE_RECORDS = {ROWS * bands}
^IMAGE = ("SCENE.IMG", 1)
OBJECT = IMAGE
  LINES = {ROWS}
  LINE_SAMPLES = {COLS}
  BANDS = {bands}
  BAND_STORAGE_TYPE = BAND_SEQUENTIAL
  SAMPLE_TYPE = MSB_INTEGER
  SAMPLE_BITS = 16
  SCALING_FACTOR = 0.25
  OFFSET = -10.0
  MISSING_CONSTANT = -32768
  NULL = -32768
  LOW_REPR_SATURATION = -32767
END_OBJECT = IMAGE
OBJECT = IMAGE_MAP_PROJECTION
  MAP_PROJECTION_TYPE = "EQUIRECTANGULAR"
  A_AXIS_RADIUS = 1737.4 <KM>
  B_AXIS_RADIUS = 1737.4 <KM>
  C_AXIS_RADIUS = 1737.4 <KM>
  CENTER_LATITUDE = 0.0 <DEG>
  CENTER_LONGITUDE = 0.0 <DEG>
  MAP_SCALE = {map_scale_km} <KM/PIXEL>
  LINE_PROJECTION_OFFSET = {lpo} <PIXEL>
  SAMPLE_PROJECTION_OFFSET = {spo} <PIXEL>
  COORDINATE_SYSTEM_NAME = PLANETOCENTRIC
  POSITIVE_LONGITUDE_DIRECTION = EAST
END_OBJECT = IMAGE_MAP_PROJECTION
END
"""
    if not projected:
        label = label[: label.index("OBJECT = IMAGE_MAP_PROJECTION")] + "END\n"
    path = folder / "SCENE.LBL"
    path.write_text(label)
    values = raw.astype(np.float64) * 0.25 - 10.0
    values[0, 3, 4] = values[0, 5, 6] = np.nan
    m = map_scale_km * 1000.0
    # GDAL's reading of the offsets (0-based sample of the projection origin): corner x0 = -(SPO + 0.5)·scale
    transform = (-(spo + 0.5) * m, m, 0.0, (lpo + 0.5) * m, 0.0, -m)
    return path, {"values": values[0] if bands == 1 else values, "transform": transform, "nan": [(3, 4), (5, 6)]}


def _gdal_product(path: Path, driver: str, raw: np.ndarray, nodata: float | None, transform: tuple) -> None:
    import rasterio
    from affine import Affine

    profile = {
        "driver": driver,
        "height": raw.shape[-2],
        "width": raw.shape[-1],
        "count": raw.shape[0],
        "dtype": raw.dtype.name,
        "crs": rasterio.crs.CRS.from_wkt(MOON_WKT),
        "transform": Affine.from_gdal(*transform),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(raw)


def pds4(folder: Path) -> tuple[Path, dict]:
    """PDS4 XML label + raw image written by GDAL's PDS4 driver (Cartography, Special_Constants)."""
    raw = _raw()
    raw[0, 2, 2] = -999
    transform = (15000.0, 25.0, 0.0, -4000.0, 0.0, -25.0)
    path = folder / "scene.xml"
    _gdal_product(path, "PDS4", raw, -999, transform)
    values = raw[0].astype(np.float64)
    values[2, 2] = np.nan
    return path, {"values": values, "transform": transform, "nan": [(2, 2)]}


def isis3(folder: Path) -> tuple[Path, dict]:
    """ISIS3 cube written by GDAL's ISIS3 driver, with ISIS special pixels (NULL, LIS, HRS)."""
    raw = _raw()
    raw[0, 1, 1], raw[0, 2, 3], raw[0, 4, 5] = -32768, -32766, -32764
    transform = (-2000.0, 10.0, 0.0, 3000.0, 0.0, -10.0)
    path = folder / "scene.cub"
    _gdal_product(path, "ISIS3", raw, None, transform)
    values = raw[0].astype(np.float64)
    for r, c in [(1, 1), (2, 3), (4, 5)]:
        values[r, c] = np.nan
    return path, {"values": values, "transform": transform, "nan": [(1, 1), (2, 3), (4, 5)]}


def geotiff(folder: Path, name: str = "scene.tif") -> tuple[Path, dict]:
    """GeoTIFF in UTM zone 33N (EPSG:32633) with a nodata value and a band scale/offset."""
    import rasterio
    from affine import Affine

    raw = _raw()
    raw[0, 7, 8] = -9999
    transform = (500000.0, 2.0, 0.0, 4100000.0, 0.0, -2.0)
    path = folder / name
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=ROWS,
        width=COLS,
        count=1,
        dtype="int16",
        crs="EPSG:32633",
        transform=Affine.from_gdal(*transform),
        nodata=-9999,
    ) as dst:
        dst.write(raw)
        dst.scales, dst.offsets = (0.5,), (100.0,)
    values = raw[0].astype(np.float64) * 0.5 + 100.0
    values[7, 8] = np.nan
    return path, {"values": values, "transform": transform, "nan": [(7, 8)]}


def fits(folder: Path) -> tuple[Path, dict]:
    """FITS int16 image with BLANK, BSCALE/BZERO and a celestial TAN WCS (astropy)."""
    from astropy.io import fits as afits
    from astropy.wcs import WCS

    raw = _raw()[0]
    raw[6, 7] = -1
    hdu = afits.PrimaryHDU(raw)
    hdu.header["BLANK"] = -1
    hdu.header["BSCALE"] = 2.0
    hdu.header["BZERO"] = 5.0
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crpix = [10.5, 12.5]
    wcs.wcs.cdelt = [-2e-4, 2e-4]
    wcs.wcs.crval = [150.0, 2.0]
    hdu.header.update(wcs.to_header())
    path = folder / "scene.fits"
    hdu.writeto(path)
    values = raw.astype(np.float64) * 2.0 + 5.0
    values[6, 7] = np.nan
    return path, {"values": values, "wcs": wcs, "nan": [(6, 7)]}


def rgb_geotiff(folder: Path) -> tuple[Path, dict]:
    """A uint8 RGB GeoTIFF (PHOTOMETRIC=RGB, as a colour map mosaic is shipped)."""
    import rasterio
    from affine import Affine

    rgb = np.stack([_raw()[0] % 256, (_raw()[0] * 3) % 256, (_raw()[0] * 7) % 256]).astype(np.uint8)
    transform = (500000.0, 2.0, 0.0, 4100000.0, 0.0, -2.0)
    path = folder / "colour.tif"
    profile = {"driver": "GTiff", "height": ROWS, "width": COLS, "count": 3, "dtype": "uint8", "photometric": "RGB"}
    with rasterio.open(path, "w", crs="EPSG:32633", transform=Affine.from_gdal(*transform), **profile) as dst:
        dst.write(rgb)
    return path, {"values": rgb, "transform": transform}


def pds4_time_series(folder: Path, frames: int = 3) -> tuple[Path, dict]:
    """A PDS4 Time × Line × Sample array (GDAL's 3-band product with its first axis renamed)."""
    raw = _raw(bands=frames)
    path = folder / "series.xml"
    _gdal_product(path, "PDS4", raw, None, (15000.0, 25.0, 0.0, -4000.0, 0.0, -25.0))
    text = path.read_text()
    assert "<axis_name>Band</axis_name>" in text
    path.write_text(text.replace("<axis_name>Band</axis_name>", "<axis_name>Time</axis_name>"))
    return path, {"values": raw.astype(np.float64)}
