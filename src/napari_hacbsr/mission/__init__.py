"""Mission products in and out: PDS3, PDS4, ISIS3, FITS and GeoTIFF (the ``[mission]`` extra).

``products.read_product`` opens a product as a ``MissionImage`` (pdr for PDS3/PDS4/FITS, rasterio
for GeoTIFF/ISIS3, astropy for the FITS WCS) after ``integrity`` has checked that the files hold
what the label describes; ``georef`` maps its georeference to napari layer
geometry and to the ×s result (through ``core.sampling`` only); ``writers`` write GeoTIFF and FITS.
"""

from __future__ import annotations

import importlib.util

EXTRA_HINT = "pip install 'napari-hacbsr[mission]'"

#: suffixes (lower case) of the formats this package reads, by reader library
PDR_SUFFIXES = (".lbl", ".img", ".xml", ".fits", ".fit", ".fts")
RASTERIO_SUFFIXES = (".cub", ".tif", ".tiff")
FITS_SUFFIXES = (".fits", ".fit", ".fts")
MISSION_SUFFIXES = PDR_SUFFIXES + RASTERIO_SUFFIXES


class MissionDependencyError(ImportError):
    """A library of the ``[mission]`` extra is missing; the message names the extra."""


def missing_libraries(names: tuple[str, ...] = ("pdr", "rasterio", "astropy")) -> list[str]:
    """The libraries of `names` that are not installed."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def require(*names: str) -> None:
    """Raise MissionDependencyError naming the extra when any of ``names`` is not installed."""
    missing = missing_libraries(names or ("pdr", "rasterio", "astropy"))
    if missing:
        raise MissionDependencyError(f"reading and writing mission products needs {', '.join(missing)}: {EXTRA_HINT}")
