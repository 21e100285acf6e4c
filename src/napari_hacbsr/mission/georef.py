"""Georeference maths: product → napari layer geometry, and source → ×s result. numpy only.

Geotransforms are GDAL's six numbers ``(x0, a, b, y0, d, e)``: pixel *corner* (col, row) maps to
``X = x0 + a·col + b·row``, ``Y = y0 + d·col + e·row``. napari puts pixel *centres* on integer data
coordinates and draws its first world axis downwards, so an axis-aligned product becomes a layer with

    scale     = (|e|, |a|)
    translate = (sign(e)·(y0 + e/2), sign(a)·(x0 + a/2))    world = (sign(e)·Y, sign(a)·X)

i.e. for the usual north-up map (e < 0) napari's vertical world axis is −northing (labelled "-y"),
which draws north up. A FITS WCS becomes a layer in intermediate world coordinates: reference
pixel CRPIX at world 0, pixel size |CD| (or |CDELT|) per axis.

The ×s result's georeference follows the engine's sampling geometry (``core.sampling``, the same
phase ``napari.placement.sr_layer_kwargs`` uses): HR pixel j holds LR data position
``lr_position_of_hr(j)``, so in pixel-corner terms ``col_LR = col_HR/s + c`` with
``c = lr_position_of_hr(-0.5) + 0.5``. For "stride" sampling c = (s - 1)/s: HR pixel 0's centre
sits δ/s = (s - 1)/(2s) LR pixels after LR pixel 0's centre (exactly ``sr_layer_kwargs``' shift).
The FITS WCS gets ``CD/s`` (or ``CDELT/s``) and ``CRPIX' = hr_position_of_lr(CRPIX - 1) + 1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.sampling import hr_position_of_lr, lr_position_of_hr

PIXEL_GEOMETRY = {
    "scale": (1.0, 1.0),
    "translate": (0.0, 0.0),
    "units": ("pixel", "pixel"),
    "axis_labels": ("row", "column"),
}
_UNIT_NAMES = {"metre": "m", "meter": "m", "m": "m", "kilometre": "km", "km": "km", "deg": "degree", "degree": "degree"}


# ---------------------------------------------------------------------------- product → napari
def layer_geometry(
    transform: tuple[float, ...] | None, wcs: dict[str, Any] | None, crs: str | None = None
) -> dict[str, Any]:
    """The napari ``scale``, ``translate``, ``units`` and ``axis_labels`` of a product's (rows, cols) plane."""
    if transform is not None:
        x0, a, b, y0, d, e = (float(v) for v in transform)
        if b != 0.0 or d != 0.0:
            return dict(PIXEL_GEOMETRY)  # rotated grid: shown in pixels, georeference kept in metadata
        unit, names = _crs_axes(crs)
        return {
            "scale": (abs(e), abs(a)),
            "translate": (np.sign(e) * (y0 + e / 2), np.sign(a) * (x0 + a / 2)),
            "units": (unit, unit),
            "axis_labels": (("-" if e < 0 else "") + names[0], ("-" if a < 0 else "") + names[1]),
        }
    if wcs is not None:
        cd = _wcs_matrix(wcs)
        if cd[0, 1] != 0.0 or cd[1, 0] != 0.0:
            return dict(PIXEL_GEOMETRY)
        scale = (abs(cd[1, 1]), abs(cd[0, 0]))
        crpix = (float(wcs.get("CRPIX2", 0.0)), float(wcs.get("CRPIX1", 0.0)))
        units = tuple(_UNIT_NAMES.get(str(wcs.get(f"CUNIT{n}", "")).strip(), "pixel") for n in (2, 1))
        labels = tuple(str(wcs.get(f"CTYPE{n}", "")).split("-")[0] or f"axis {n}" for n in (2, 1))
        return {
            "scale": scale,
            "translate": (-(crpix[0] - 1) * scale[0], -(crpix[1] - 1) * scale[1]),
            "units": units,
            "axis_labels": labels,
        }
    return dict(PIXEL_GEOMETRY)


def transform_from_layer(scale: Any, translate: Any, signs: tuple[float, float] = (1.0, 1.0)) -> tuple[float, ...]:
    """GDAL geotransform of an axis-aligned layer (inverse of ``layer_geometry``; ``signs`` = sign(e), sign(a))."""
    (sy, sx), (ty, tx) = np.asarray(scale, float)[-2:], np.asarray(translate, float)[-2:]
    e, a = signs[0] * sy, signs[1] * sx
    return (signs[1] * tx - a / 2, a, 0.0, signs[0] * ty - e / 2, 0.0, e)


def transform_signs(transform: tuple[float, ...]) -> tuple[float, float]:
    """(sign(e), sign(a)): how ``layer_geometry`` oriented napari's world axes for this transform."""
    return (float(np.sign(transform[5]) or 1.0), float(np.sign(transform[1]) or 1.0))


def _crs_axes(crs: str | None) -> tuple[str, tuple[str, str]]:
    if crs is None:
        return "pixel", ("y", "x")
    text = crs.upper()
    if text.startswith(("GEOGCS", "GEOGCRS")):
        return "degree", ("latitude", "longitude")
    unit = text.rsplit("UNIT[", 1)[-1].split(",")[0].strip('" ').lower() if "UNIT[" in text else ""
    return _UNIT_NAMES.get(unit, "m" if "METRE" in text or "METER" in text else "pixel"), ("y", "x")


def _wcs_matrix(wcs: dict[str, Any]) -> np.ndarray:
    """The WCS linear pixel → intermediate-world matrix (CD, or PC·CDELT) as [[1_1, 1_2], [2_1, 2_2]]."""
    if any(f"CD{i}_{j}" in wcs for i in (1, 2) for j in (1, 2)):
        return np.array([[float(wcs.get(f"CD{i}_{j}", 0.0)) for j in (1, 2)] for i in (1, 2)])
    pc = np.array([[float(wcs.get(f"PC{i}_{j}", 1.0 if i == j else 0.0)) for j in (1, 2)] for i in (1, 2)])
    return pc * np.array([[float(wcs.get("CDELT1", 1.0))], [float(wcs.get("CDELT2", 1.0))]])


# ---------------------------------------------------------------------------- source → ×s result
def corner_offset(scale: int, convention: str = "stride") -> float:
    """LR pixel-corner coordinate of HR corner 0: ``lr_position_of_hr(-0.5) + 0.5`` (core.sampling)."""
    return float(lr_position_of_hr(-0.5, scale, convention)) + 0.5


def sr_transform(transform: tuple[float, ...], scale: int, convention: str = "stride") -> tuple[float, ...]:
    """The ×``scale`` result's geotransform: pixel size / s, origin moved by the sampling phase."""
    x0, a, b, y0, d, e = (float(v) for v in transform)
    s, c = int(scale), corner_offset(scale, convention)
    return (x0 + (a + b) * c, a / s, b / s, y0 + (d + e) * c, d / s, e / s)


def sr_wcs(wcs: dict[str, Any], scale: int, convention: str = "stride") -> dict[str, Any]:
    """The ×``scale`` result's FITS WCS: CD (or CDELT) / s, CRPIX from the sampling geometry."""
    s = int(scale)
    out = dict(wcs)
    for n in (1, 2):
        out[f"CRPIX{n}"] = float(hr_position_of_lr(float(wcs.get(f"CRPIX{n}", 0.0)) - 1.0, s, convention)) + 1.0
    cd_keys = [f"CD{i}_{j}" for i in (1, 2) for j in (1, 2) if f"CD{i}_{j}" in wcs]
    for key in cd_keys or [k for k in ("CDELT1", "CDELT2") if k in wcs]:
        out[key] = float(wcs[key]) / s
    return out


def sr_georef(georef: dict[str, Any], scale: int, convention: str = "stride") -> dict[str, Any]:
    """``metadata["mission"]`` for the ×``scale`` result of a product with georeference ``georef``."""
    transform, wcs = georef.get("transform"), georef.get("wcs")
    return {
        "format": georef.get("format"),
        "source_path": georef.get("path"),
        "crs": georef.get("crs"),
        "transform": list(sr_transform(transform, scale, convention)) if transform else None,
        "wcs": sr_wcs(wcs, scale, convention) if wcs else None,
        "bands": list(georef.get("bands", [])),
        "scale": int(scale),
        "sampling": convention,
        "source_transform": transform,
        "source_wcs": wcs,
    }


def sr_layer_metadata(source_metadata: Any, scale: int, convention: str = "stride") -> dict[str, Any]:
    """``{"mission": …}`` for an SR layer whose source layer came from a product; {} otherwise."""
    georef = (source_metadata or {}).get("mission")
    if not isinstance(georef, dict) or not (georef.get("transform") or georef.get("wcs")):
        return {}
    return {"mission": sr_georef(georef, scale, convention)}


def crop_georef(georef: dict[str, Any], row: int, col: int) -> dict[str, Any]:
    """The georeference of a crop whose pixel (0, 0) is the source's (row, col)."""
    out = dict(georef)
    if georef.get("transform") is not None:
        x0, a, b, y0, d, e = georef["transform"]
        out["transform"] = [x0 + a * col + b * row, a, b, y0 + d * col + e * row, d, e]
    if georef.get("wcs"):
        wcs = dict(georef["wcs"])
        for key, shift in (("CRPIX1", col), ("CRPIX2", row)):
            if key in wcs:
                wcs[key] = float(wcs[key]) - shift
        out["wcs"] = wcs
    return out
