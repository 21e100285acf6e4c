"""Check that a product's files hold what its label describes, before any pixel is read.

GDAL zero-fills a truncated ISIS3 cube and pdr reads a 7- or 24-bit PDS3 label as int8 bytes, so
both would hand the engine data that is not the product's. Each ``check_*`` compares the bytes the
label's image needs (start byte + lines × samples × bands × sample size) with the file's length and
refuses sample types the readers would misread; a ``ProductReadError`` names what is missing and
what to do. The sizes come from the label alone, so a label claiming 200000² pixels is refused in
microseconds without allocating anything.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any


class ProductReadError(ValueError):
    """The file is not a product this package can read; the message says why."""


_REDOWNLOAD = "download or copy it again (HACBSR does not read partial products: the missing pixels would be zeros)"

#: PDS3 SAMPLE_TYPEs whose values pdr decodes, with the SAMPLE_BITS each allows
_PDS3_REAL = {"IEEE_REAL", "PC_REAL", "FLOAT", "REAL", "MAC_REAL", "SUN_REAL", "IBM_REAL"}
_PDS3_INTEGER_BITS = (8, 16, 32, 64)

#: data files pdr decompresses (their length says nothing about the image's size)
_PACKED = (".gz", ".bz2", ".zip", ".jp2", ".z")

#: PDS4 array data_type -> bytes per element
_PDS4_BYTES = {
    "SignedByte": 1,
    "UnsignedByte": 1,
    **{f"{s}{o}{n}": n for s in ("Signed", "Unsigned") for o in ("MSB", "LSB") for n in (2, 4, 8)},
    "IEEE754MSBSingle": 4,
    "IEEE754LSBSingle": 4,
    "IEEE754MSBDouble": 8,
    "IEEE754LSBDouble": 8,
}

#: ISIS3 Core Pixels Type -> bytes per pixel
_ISIS_BYTES = {"UnsignedByte": 1, "SignedWord": 2, "UnsignedWord": 2, "SignedInteger": 4, "Real": 4, "Double": 8}


def size_words(n: float) -> str:
    """A byte count in words: '960 bytes', '74.5 GiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def require_bytes(data_file: Path, start: int, needed: int, what: str, label: Path, source: str = "label") -> None:
    """Refuse when ``data_file`` is missing or shorter than ``start + needed`` bytes (``source``: label/header)."""
    if not data_file.is_file():
        raise ProductReadError(
            f"{label}: the data file {data_file.name} that the label points at is not in {data_file.parent}. "
            "Put it beside the label (with the name the label gives) and open the label again."
        )
    size = data_file.stat().st_size
    if start >= size and needed > 0:
        raise ProductReadError(
            f"{label}: the {source} places {what} at byte {start}, past the end of {data_file.name} "
            f"({size_words(size)}). The {source}'s pointer, offset or sizes are wrong, or {data_file.name} is "
            f"truncated: {_REDOWNLOAD}."
        )
    if start + needed > size:
        raise ProductReadError(
            f"{label}: {data_file.name} holds {size_words(size)}, but {what} needs {size_words(start + needed)} "
            f"(from byte {start}). Either the file is truncated (an interrupted download or copy) or the {source}'s "
            f"dimensions are wrong: {_REDOWNLOAD}."
        )


def find_beside(label: Path, name: str) -> Path:
    """``name`` in the label's folder, matched case-insensitively as PDS archives need (missing: as named)."""
    candidate = label.parent / name
    if candidate.is_file():
        return candidate
    lower = name.lower()
    for entry in label.parent.iterdir():
        if entry.name.lower() == lower and entry.is_file():
            return entry
    return candidate


# ---------------------------------------------------------------------------- PDS3
def pds3_sample_problem(sample_type: Any, bits: Any) -> str | None:
    """Why pdr would misread ``SAMPLE_TYPE``/``SAMPLE_BITS`` (None when it decodes them)."""
    kind = str(sample_type).strip().upper().replace(" ", "_")
    try:
        bits = int(bits)
    except (TypeError, ValueError):
        return f"SAMPLE_BITS = {bits} is not a number of bits"
    if "INTEGER" in kind and "ASCII" not in kind:
        if bits not in _PDS3_INTEGER_BITS:
            return (
                f"SAMPLE_BITS = {bits} with SAMPLE_TYPE = {kind}: only 8-, 16-, 32- and 64-bit integer samples are "
                "read (packed bit depths would be read as the wrong bytes)"
            )
        return None
    if kind in _PDS3_REAL or kind == "VAX_REAL":
        if bits not in ((32,) if kind == "VAX_REAL" else (32, 64)):
            return f"SAMPLE_BITS = {bits} with SAMPLE_TYPE = {kind}: only 32- and 64-bit real samples are read"
        return None
    return f"SAMPLE_TYPE = {kind} is not a numeric sample type HACBSR reads (integer or real)"


def check_pds3_image(label: Path, metadata: Any, name: str) -> None:
    """Refuse a PDS3 image object whose sample type is unreadable or whose data file is short or missing."""
    block = metadata.metablock_(name) if hasattr(metadata, "metablock_") else None
    if block is None or "LINES" not in block or "LINE_SAMPLES" not in block:
        return  # not an IMAGE-like object: pdr's own loading decides
    problem = pds3_sample_problem(block.get("SAMPLE_TYPE", "?"), block.get("SAMPLE_BITS", "?"))
    if problem:
        raise ProductReadError(
            f"{label}: the label's {name} has {problem}. Convert the product first (e.g. with GDAL or ISIS) "
            "to 8/16/32-bit integers or 32/64-bit floats."
        )
    pointer = metadata.metaget_(f"^{name}")
    data_file, start = _pds3_target(label, pointer, metadata.metaget_("RECORD_BYTES"))
    if data_file is None:
        return  # a pointer form we do not model: pdr decides
    if str(block.get("ENCODING_TYPE", "N/A")).upper() not in ("N/A", "NONE") or data_file.suffix.lower() in _PACKED:
        if not data_file.is_file():
            require_bytes(data_file, 0, 0, name, label)  # missing: say so
        return  # compressed: fewer bytes than lines × samples by design
    lines, samples, bands = (int(block.get(k, 1)) for k in ("LINES", "LINE_SAMPLES", "BANDS"))
    fix = int(block.get("LINE_PREFIX_BYTES", 0)) + int(block.get("LINE_SUFFIX_BYTES", 0))
    per_band = "BAND_SEQUENTIAL" in str(block.get("BAND_STORAGE_TYPE", "BAND_SEQUENTIAL")).upper()
    needed = lines * samples * bands * int(block["SAMPLE_BITS"]) // 8 + lines * fix * (bands if per_band else 1)
    what = f"its {name} ({lines} lines × {samples} samples × {_bands(bands)} × {block['SAMPLE_BITS']} bits)"
    require_bytes(data_file, start, needed, what, label)


def pds3_data_start(label: Path, metadata: Any, name: str) -> tuple[Path, int] | None:
    """(data file, start byte) of the PDS3 object ``name``; None when its pointer is not unambiguous."""
    data_file, start = _pds3_target(label, metadata.metaget_(f"^{name}"), metadata.metaget_("RECORD_BYTES"))
    return None if data_file is None else (data_file, start)


def _bands(n: int) -> str:
    return f"{n} band" if n == 1 else f"{n} bands"


def _pds3_target(label: Path, pointer: Any, record_bytes: Any) -> tuple[Path | None, int]:
    """(data file, start byte) of a PDS3 pointer: ``n``, ``n <BYTES>``, ``"F"``, ``("F", n)``, ``("F", n <BYTES>)``."""
    file_name, where = None, pointer
    if isinstance(pointer, list | tuple) and len(pointer) == 2 and isinstance(pointer[0], str):
        file_name, where = pointer
    elif isinstance(pointer, list | tuple) and len(pointer) == 1 and isinstance(pointer[0], str):
        file_name, where = pointer[0], 1
    elif isinstance(pointer, str):
        file_name, where = pointer, 1
    data_file = find_beside(label, file_name) if file_name else label
    if isinstance(where, dict) and str(where.get("units", "")).upper() == "BYTES":
        return data_file, max(int(where["value"]) - 1, 0)
    if isinstance(where, int) and not isinstance(where, bool):
        if where <= 1:
            return data_file, 0
        if isinstance(record_bytes, int) and record_bytes > 0:
            return data_file, (where - 1) * record_bytes
    return None, 0


# ---------------------------------------------------------------------------- PDS4
def check_pds4(label: Path) -> None:
    """Refuse a PDS4 product whose arrays lie past the end of their data files (or whose files are missing)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(label).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ProductReadError(f"{label}: the PDS4 label is not readable XML ({exc}); fetch the label again.") from None
    for area in _children(root, "File_Area_Observational", deep=True):
        name = next((_text(f, "file_name") for f in _children(area, "File")), None)
        if not name:
            continue
        data_file = find_beside(label, name)
        for array in (c for c in area if _local(c.tag).startswith("Array")):
            _check_pds4_array(label, data_file, array)


def pds4_axis_names(label: Path, ident: str) -> list[str]:
    """The label's axis names (in sequence order) of the array ``ident`` (pdr's object name); [] if unknown."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(label).getroot()
    except (ET.ParseError, OSError):
        return []
    for array in (c for c in root.iter() if _local(c.tag).startswith("Array")):
        if (_text(array, "local_identifier") or "").lower() == str(ident).lower():
            axes = _children(array, "Axis_Array")
            axes.sort(key=lambda a: int(_text(a, "sequence_number") or 0))
            return [_text(a, "axis_name") or "" for a in axes]
    return []


def _check_pds4_array(label: Path, data_file: Path, array: Any) -> None:
    ident = _text(array, "local_identifier") or _local(array.tag)
    elements = [_text(axis, "elements") for axis in _children(array, "Axis_Array")]
    data_type = next((_text(e, "data_type") for e in _children(array, "Element_Array")), None)
    offset = _text(array, "offset")
    if data_type not in _PDS4_BYTES:
        if data_type and data_type.startswith("Complex"):
            return  # complex arrays are not images; the reader skips them
        raise ProductReadError(f"{label}: the array '{ident}' has data_type {data_type}, which HACBSR does not read.")
    try:
        count = 1
        for n in elements:
            count *= int(n)
        start = int(offset)
    except (TypeError, ValueError):
        return  # malformed numbers: pdr's own parse reports them
    what = f"its array '{ident}' ({' × '.join(elements)} × {data_type})"
    require_bytes(data_file, start, count * _PDS4_BYTES[data_type], what, label)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: Any, name: str, deep: bool = False) -> list[Any]:
    nodes = node.iter() if deep else list(node)
    return [c for c in nodes if _local(c.tag) == name]


def _text(node: Any, name: str) -> str | None:
    found = _children(node, name)
    return found[0].text.strip() if found and found[0].text else None


# ---------------------------------------------------------------------------- FITS
def check_fits(path: Path) -> None:
    """Refuse a FITS file whose headers describe more data than the file holds."""
    from astropy.io import fits

    size = path.stat().st_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's own "may have been truncated" warning: we say it better
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            for index, hdu in enumerate(hdul):
                if isinstance(hdu, fits.CompImageHDU):
                    continue  # its header describes the decompressed image; astropy checks the tiles itself
                header = hdu.header
                naxis = int(header.get("NAXIS", 0))
                if naxis == 0:
                    continue
                count = 1
                for i in range(1, naxis + 1):
                    count *= int(header.get(f"NAXIS{i}", 0))
                needed = abs(int(header.get("BITPIX", 8))) // 8 * int(header.get("GCOUNT", 1))
                needed *= int(header.get("PCOUNT", 0)) + count
                start = int(hdul.fileinfo(index)["datLoc"])
                shape = " × ".join(str(header.get(f"NAXIS{i}")) for i in range(naxis, 0, -1))
                what = f"HDU {index} ({shape} × {abs(int(header.get('BITPIX', 8)))} bits)"
                if start + needed > size:
                    require_bytes(path, start, needed, what, path, source="header")


# ---------------------------------------------------------------------------- ISIS3
def check_isis3(path: Path) -> None:
    """Refuse an ISIS3 cube shorter than its Core (GDAL would zero-fill the missing pixels)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 20).decode("latin-1")
    match = re.search(r"Object\s*=\s*Core\b(.*?)End_Object", head, re.S | re.I)
    if match is None:
        raise ProductReadError(f"{path}: no 'Object = Core' in the cube's label: this is not a readable ISIS3 cube.")
    core = match.group(1)

    def value(key: str, default: str | None = None) -> str | None:
        found = re.search(rf"^\s*{key}\s*=\s*(\S+)", core, re.M | re.I)
        return found.group(1).strip('"') if found else default

    pixel_type = value("Type", "?")
    if pixel_type not in _ISIS_BYTES:
        raise ProductReadError(
            f"{path}: ISIS3 pixel type {pixel_type} is not one HACBSR reads ({', '.join(_ISIS_BYTES)})."
        )
    try:
        samples, lines, bands = (int(value(k, "0") or 0) for k in ("Samples", "Lines", "Bands"))
        start = int(value("StartByte", "1") or 1) - 1
        tile_s, tile_l = int(value("TileSamples", "0") or 0), int(value("TileLines", "0") or 0)
    except ValueError:
        return  # malformed numbers: GDAL's own parse reports them
    if (value("Format", "") or "").lower() == "tile" and tile_s > 0 and tile_l > 0:
        samples, lines = -(-samples // tile_s) * tile_s, -(-lines // tile_l) * tile_l  # whole tiles are stored
    pointer = re.search(r'^\s*\^Core\s*=\s*"?([^"\s]+)', head, re.M | re.I)
    data_file = find_beside(path, pointer.group(1)) if pointer else path
    what = f"its Core ({lines} lines × {samples} samples × {_bands(bands)} of {pixel_type})"
    require_bytes(data_file, start, samples * lines * bands * _ISIS_BYTES[pixel_type], what, path)


# ---------------------------------------------------------------------------- GeoTIFF
def check_tiff(path: Path) -> None:
    """Refuse a TIFF whose strips, tiles or tags end past the end of the file.

    GDAL skips a tag it cannot read (its scale/offset metadata, say) and reads on; tifffile logs each
    one it drops, so a logged problem is a damaged file.
    """
    import tifffile

    size = path.stat().st_size
    problems: list[logging.LogRecord] = []
    log = logging.getLogger("tifffile")
    handler = _Collect(problems)
    propagate, log.propagate = log.propagate, False  # collected here, reported below in words
    log.addHandler(handler)
    try:
        with tifffile.TiffFile(path) as tif:
            ends = [o + n for page in tif.pages for o, n in zip(page.dataoffsets, page.databytecounts, strict=False)]
            if len(tif.pages) == 0:
                raise ValueError("no image directory")
    except Exception:  # noqa: BLE001 - tifffile fails in many ways on a damaged file
        problems.append(logging.makeLogRecord({"msg": "unreadable directory"}))
        ends = []
    finally:
        log.removeHandler(handler)
        log.propagate = propagate
    if problems:
        raise ProductReadError(
            f"{path}: the TIFF's directory or tags cannot be read ({problems[0].getMessage()}): the file is damaged "
            f"or truncated; {_REDOWNLOAD}."
        )
    if ends and max(ends) > size:
        raise ProductReadError(
            f"{path}: the file holds {size_words(size)}, but its TIFF tags place pixel data up to byte {max(ends)}: "
            f"the file is truncated (an interrupted download or copy); {_REDOWNLOAD}."
        )


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)
