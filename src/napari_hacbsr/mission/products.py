"""Read a mission product (PDS3, PDS4, ISIS3, FITS, GeoTIFF) into a ``MissionImage``.

Pixel values: pdr (PDS3, PDS4, FITS through astropy) or rasterio/GDAL (GeoTIFF, ISIS3 cubes, which
pdr does not read). Label scaling/offset is applied; special constants (PDS NULL/MISSING/saturation,
ISIS special pixels, FITS BLANK, GeoTIFF nodata) become NaN, which the engine treats as missing.
Data without constants or scaling keep their native dtype.

Georeference: GDAL (through rasterio) for PDS3, PDS4, ISIS3 and GeoTIFF, so map projections follow
GDAL's reading of ``IMAGE_MAP_PROJECTION`` / ``Cartography`` / ``Mapping`` labels; the FITS WCS
through astropy. ``georef.layer_geometry`` turns either into napari scale/translate.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import FITS_SUFFIXES, MISSION_SUFFIXES, require
from .georef import layer_geometry
from .integrity import (
    ProductReadError,
    check_fits,
    check_isis3,
    check_pds3_image,
    check_pds4,
    check_tiff,
    pds3_data_start,
    pds4_axis_names,
)

#: ISIS3 special pixels lie outside these valid ranges (ISIS SpecialPixel.h: NULL, LRS, LIS, HIS, HRS)
ISIS_VALID_RANGE = {
    "uint8": (1, 254),
    "int16": (-32752, 32767),
    "uint16": (3, 65522),
    "float32": (-3.4028226550889045e38, np.finfo(np.float32).max),
}


@dataclass
class MissionImage:
    """One product's image and everything needed to place it and write its SR back."""

    data: np.ndarray  # (rows, cols) or (bands, rows, cols)
    format: str  # "PDS3", "PDS4", "ISIS3", "FITS", "GeoTIFF"
    path: str
    crs: str | None = None  # WKT
    transform: tuple[float, ...] | None = None  # GDAL order: x0, dx, rx, y0, ry, dy (pixel corners)
    wcs: dict[str, Any] | None = None  # FITS WCS keywords
    label: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable
    bands: list[str] = field(default_factory=list)
    pixel_size: tuple[float, float] = (1.0, 1.0)  # napari scale (rows, cols)
    origin: tuple[float, float] = (0.0, 0.0)  # napari translate: world position of pixel (0, 0)'s centre
    units: tuple[str, str] = ("pixel", "pixel")
    axis_labels: tuple[str, str] = ("row", "column")
    #: what a 3-D product's first axis is: "band" (one layer per band), "rgb" (colour bands: one RGB
    #: layer) or the label's axis name (e.g. PDS4 "Time": one layer with a slider)
    stack_axis: str = "band"

    def georef(self) -> dict[str, Any]:
        """The layer metadata entry (``metadata["mission"]``) the writers read back."""
        return {
            "format": self.format,
            "path": self.path,
            "crs": self.crs,
            "transform": list(self.transform) if self.transform is not None else None,
            "wcs": self.wcs,
            "bands": list(self.bands),
            "label": self.label,
        }


# ---------------------------------------------------------------------------- public
def is_product(path: str | Path) -> bool:
    """Cheap check (suffix + first bytes) that ``path`` is a product this package reads."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MISSION_SUFFIXES or not path.is_file():
        return False
    with path.open("rb") as fh:
        head = fh.read(4096)
    if suffix in (".lbl", ".img"):
        return b"PDS_VERSION_ID" in head or (suffix == ".img" and _detached_label(path) is not None)
    if suffix == ".xml":
        return b"pds.nasa.gov/pds4" in head
    if suffix == ".cub":
        return b"IsisCube" in head
    if suffix in FITS_SUFFIXES:
        return head.startswith(b"SIMPLE  =")
    return _is_geotiff(path)  # .tif/.tiff: only georeferenced ones; plain TIFFs stay with other readers


def read_product(path: str | Path) -> MissionImage:
    """Read ``path`` as a ``MissionImage``; ProductReadError/MissionDependencyError say what to do."""
    path = Path(path)
    if not path.is_file():
        raise ProductReadError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".cub", ".tif", ".tiff"):
        require("rasterio")
        check_isis3(path) if suffix == ".cub" else check_tiff(path)  # GDAL would zero-fill what is missing
        image = _read_rasterio(path, "ISIS3" if suffix == ".cub" else "GeoTIFF")
    else:
        require("pdr", "rasterio", "astropy")
        if suffix == ".xml":
            check_pds4(path)
        elif suffix in FITS_SUFFIXES:
            check_fits(path)
        image = _read_pdr(path)
    geometry = layer_geometry(image.transform, image.wcs, image.crs)
    image.pixel_size = tuple(float(v) for v in geometry["scale"])
    image.origin = tuple(float(v) for v in geometry["translate"])
    image.units, image.axis_labels = geometry["units"], geometry["axis_labels"]
    return image


# ---------------------------------------------------------------------------- pdr: PDS3, PDS4, FITS
def _read_pdr(path: Path) -> MissionImage:
    import pdr

    try:
        product = pdr.read(str(path))
        name, raw = _first_image(product)
        scaled = product.get_scaled(name)
    except _NoImageLoaded as exc:
        if str(product.standard) != "PDS3":
            raise
        return _pds3_through_gdal(path, product, exc)
    except ProductReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pdr raises many types for malformed products
        raise ProductReadError(f"{path}: pdr cannot read this product ({type(exc).__name__}: {exc})") from None
    if str(product.standard) == "PDS4":  # pdr applies PDS4 Special_Constants only when it also scales
        flagged = np.isin(np.asarray(raw), _pds4_constants(product.metadata, np.asarray(raw).dtype))
        scaled = np.ma.masked_array(np.ma.getdata(scaled), np.ma.getmaskarray(scaled) | flagged)
    data = _nan_filled(scaled, np.asarray(raw).dtype)
    data = data[0] if data.ndim == 3 and data.shape[0] == 1 else data
    standard = str(product.standard)
    label = _jsonable(product.metadata)
    wcs = crs = transform = None
    if standard == "FITS":
        wcs = _fits_wcs(path, name)
    else:
        crs, transform = _gdal_georef(_detached_label(path) or path if path.suffix.lower() == ".img" else path)
    bands = [f"band {i + 1}" for i in range(data.shape[0])] if data.ndim == 3 else [name]
    axes = pds4_axis_names(path, name) if standard == "PDS4" and data.ndim == 3 else []
    stack = axes[0] if len(axes) == 3 and axes[0].lower() not in ("band", "bands") else "band"
    return MissionImage(data, standard, str(path), crs, transform, wcs, label, bands, stack_axis=stack)


def _first_image(product: Any) -> tuple[str, np.ndarray]:
    """The first 2-D or 3-D numeric array object of a pdr product.

    pdr only warns when an object cannot be loaded; those warnings are the reason given when no image
    object loads.
    """
    label = Path(getattr(product, "labelname", None) or product.filename)
    reasons: list[str] = []
    for name in product.keys():  # noqa: SIM118  (a pdr product, not a dict: keys() are its object names)
        if name.upper() == "LABEL" or name.upper().endswith("HEADER"):
            continue
        if str(product.standard) == "PDS3":
            check_pds3_image(label, product, name)  # before pdr reads bytes it would misread
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                obj = product[name]
            except Exception as exc:  # noqa: BLE001 - an unreadable side object (table, header) is skipped
                obj = None
                reasons.append(f"{name}: {type(exc).__name__}: {exc}")
        reasons += [f"{name}: {w.message}" for w in caught if issubclass(w.category, UserWarning)]
        if isinstance(obj, np.ndarray) and obj.ndim in (2, 3) and np.issubdtype(obj.dtype, np.number):
            return name, obj
    why = f"pdr says: {'; '.join(dict.fromkeys(reasons))}. " if reasons else ""
    raise _NoImageLoaded(
        f"{product.filename}: no 2-D image could be loaded from this product (objects: {list(product.keys())}). "
        f"{why}Check that the data files the label names are complete and beside it, or open the product with "
        "its archive's tools to see what it holds."
    )


class _NoImageLoaded(ProductReadError):
    """pdr loaded no image object (its label and data passed the integrity checks)."""


#: PDS3 image keywords whose values are special constants (missing data)
_PDS3_CONSTANT_KEYS = (
    "NULL",
    "MISSING_CONSTANT",
    "INVALID_CONSTANT",
    "LOW_REPR_SATURATION",
    "LOW_INSTR_SATURATION",
    "HIGH_REPR_SATURATION",
    "HIGH_INSTR_SATURATION",
)


def _pds3_through_gdal(path: Path, product: Any, why: ProductReadError) -> MissionImage:
    """GDAL's PDS driver reads some PDS3 images pdr does not (multi-band attached labels); the label's
    special constants still become NaN. When GDAL cannot either, or the label's pointer is ambiguous
    (GDAL then guesses a start byte and reads shifted pixels), pdr's reason stands.
    """
    source = (_detached_label(path) or path) if path.suffix.lower() == ".img" else path
    label = Path(getattr(product, "labelname", None) or product.filename)
    constants: list[float] = []
    for name in product.keys():  # noqa: SIM118
        block = product.metablock_(name)
        if block is not None and "LINES" in block:
            if pds3_data_start(label, product, name) is None:
                raise why

            for key in _PDS3_CONSTANT_KEYS:
                try:
                    constants.append(float(block[key]))
                except (KeyError, TypeError, ValueError):
                    continue
            break
    try:
        image = _read_rasterio(source, "PDS3", constants)
    except ProductReadError:
        raise why from None
    image.path, image.label = str(path), _jsonable(product.metadata)
    return image


def _pds4_constants(label: Any, dtype: np.dtype) -> list[float]:
    """Every value in the label's ``Special_Constants`` blocks (raw stored values), in ``dtype``'s terms."""
    found: list[float] = []

    def walk(node: Any, inside: bool) -> None:
        if hasattr(node, "items"):
            for key, value in node.items():
                walk(value, inside or str(key).endswith("Special_Constants"))
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value, inside)
        elif inside:
            try:
                found.append(float(node))
            except (TypeError, ValueError):
                if isinstance(node, str) and node.lower().startswith("0x") and np.dtype(dtype).kind in "iu":
                    found.append(float(int(node, 16)))

    walk(label, False)
    return found


def _fits_wcs(path: Path, hdu_name: str) -> dict[str, Any] | None:
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path) as hdul:
        header = hdul[hdu_name if hdu_name in hdul else 0].header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's FITSFixedWarning on harmless keyword fixes
        wcs = WCS(header, naxis=2)
    if not wcs.has_celestial and all(t == "" for t in wcs.wcs.ctype):
        return None
    return {k: _jsonable(v) for k, v in wcs.to_header().items()}


def _detached_label(path: Path) -> Path | None:
    for suffix in (".lbl", ".LBL"):
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------- rasterio: GeoTIFF, ISIS3
def _read_rasterio(path: Path, fmt: str, constants: list[float] | None = None) -> MissionImage:
    """GeoTIFF/ISIS3 (and PDS3 that pdr cannot load) through GDAL; raw values in ``constants`` become NaN."""
    import rasterio

    try:
        with _quiet_georef(), rasterio.open(path) as src:
            raw = src.read(masked=True)
            scales, offsets = np.asarray(src.scales, float), np.asarray(src.offsets, float)
            crs = src.crs.to_wkt() if src.crs is not None else None
            transform = tuple(src.transform.to_gdal()) if not src.transform.is_identity else None
            bands = [d or f"band {i + 1}" for i, d in enumerate(src.descriptions)]
            label = {"driver": src.driver, "tags": src.tags(), "nodata": src.nodata}
            colours = tuple(c.name for c in src.colorinterp)
    except Exception as exc:  # noqa: BLE001
        raise ProductReadError(f"{path}: GDAL cannot read this file ({type(exc).__name__}: {exc})") from None
    mask = np.ma.getmaskarray(raw)
    if fmt == "ISIS3" and raw.dtype.name in ISIS_VALID_RANGE:
        low, high = ISIS_VALID_RANGE[raw.dtype.name]
        mask = mask | (raw.data < low) | (raw.data > high)
    if constants:
        mask = mask | np.isin(raw.data, np.asarray(constants, dtype=raw.dtype))
    values = np.ma.masked_array(raw.data, mask)
    if np.any(scales != 1.0) or np.any(offsets != 0.0):
        values = values.astype(_float_for(raw.dtype)) * scales[:, None, None] + offsets[:, None, None]
    data = _nan_filled(values, raw.dtype)
    data = data[0] if data.shape[0] == 1 else data
    rgb = data.ndim == 3 and colours[:3] == ("red", "green", "blue") and data.shape[0] in (3, 4)
    if rgb:
        data = data[:3]  # alpha is dropped, as for plain colour images
    image = MissionImage(data, fmt, str(path), crs, transform, None, _jsonable(label), bands[: len(data)])
    image.stack_axis = "rgb" if rgb else "band"
    return image


@contextmanager
def _quiet_georef(everything: bool = False) -> Iterator[None]:
    """No NotGeoreferencedWarning for plain TIFFs and unprojected products (set before rasterio.open runs).

    ``everything``: also GDAL's other warnings, for probes whose failure only means "not ours".
    """
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Warning if everything else NotGeoreferencedWarning)
        yield


def _is_geotiff(path: Path) -> bool:
    try:
        import rasterio
    except ImportError:
        return False
    try:
        with _quiet_georef(everything=True), rasterio.open(path) as src:
            return src.crs is not None or not src.transform.is_identity
    except Exception:  # noqa: BLE001 - unreadable: not ours
        return False


def _gdal_georef(path: Path) -> tuple[str | None, tuple[float, ...] | None]:
    """CRS (WKT) and geotransform GDAL reads from a PDS3/PDS4 label; (None, None) when none."""
    try:
        import rasterio

        with _quiet_georef(everything=True), rasterio.open(path) as src:
            crs = src.crs.to_wkt() if src.crs is not None else None
            transform = None if src.transform.is_identity else tuple(src.transform.to_gdal())
            return crs, transform
    except Exception:  # noqa: BLE001 - a product without a map projection (or one GDAL skips)
        return None, None


# ---------------------------------------------------------------------------- values
def _float_for(dtype: np.dtype) -> np.dtype:
    """float32 for <= 16-bit integers and float32 data; float64 otherwise (no precision lost)."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.itemsize <= 2 or dtype == np.float32 else np.dtype(np.float64)


def _nan_filled(values: Any, native: np.dtype) -> np.ndarray:
    """Masked/scaled values as an array: NaN at masked pixels; native dtype when nothing changed."""
    mask = np.ma.getmaskarray(values)
    data = np.ma.getdata(values)
    if not mask.any() and data.dtype == native:
        return np.array(data)
    out = np.array(data, dtype=_float_for(native))
    out[mask] = np.nan
    return out


def _jsonable(obj: Any) -> Any:
    """A JSON-serialisable copy of a label (pdr Metadata/MultiDict, pvl, numpy scalars, bytes)."""
    if hasattr(obj, "items"):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            key = str(key)
            out[key if key not in out else f"{key}_{len(out)}"] = _jsonable(value)
        return out
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bool | int | float | str) or obj is None:
        return obj
    return str(obj)
