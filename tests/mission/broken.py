"""Broken mission products for the refusal tests: truncated data, impossible labels, missing files.

Each builder takes a folder and returns the path a user would open. The products start from the
valid ones of ``builders`` and are damaged the way downloads and hand edits damage them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import builders


def truncate(path: Path, keep: int) -> Path:
    """Cut ``path`` to its first ``keep`` bytes (an interrupted download or copy)."""
    data = path.read_bytes()
    assert keep < len(data), f"{path.name} has only {len(data)} bytes"
    path.write_bytes(data[:keep])
    return path


def edit_label(path: Path, old: str, new: str) -> Path:
    """Replace one line of a text label (a hand edit)."""
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    return path


def isis3_truncated(folder: Path) -> Path:
    """A GDAL-written ISIS3 cube cut in the middle of its pixel data."""
    path, _ = builders.isis3(folder)
    size = path.stat().st_size
    return truncate(path, size - builders.ROWS * builders.COLS)  # half of the int16 pixels are gone


def pds3_half_data(folder: Path) -> Path:
    """A PDS3 label whose detached .IMG holds half the bytes the label describes."""
    path, _ = builders.pds3(folder)
    truncate(folder / "SCENE.IMG", builders.ROWS * builders.COLS)
    return path


def pds3_pointer_past_eof(folder: Path) -> Path:
    """``^IMAGE`` points at record 100 of a 24-record data file."""
    path, _ = builders.pds3(folder)
    return edit_label(path, '^IMAGE = ("SCENE.IMG", 1)', '^IMAGE = ("SCENE.IMG", 100)')


def pds3_data_missing(folder: Path) -> Path:
    """A PDS3 label whose data file is not beside it."""
    path, _ = builders.pds3(folder)
    (folder / "SCENE.IMG").unlink()
    return path


def pds3_bomb(folder: Path) -> Path:
    """A label claiming 200000 × 200000 samples over the 960-byte data file."""
    path, _ = builders.pds3(folder)
    edit_label(path, f"LINES = {builders.ROWS}\n", "LINES = 200000\n")
    return edit_label(path, f"LINE_SAMPLES = {builders.COLS}\n", "LINE_SAMPLES = 200000\n")


def pds3_sample(folder: Path, bits: int = 16, sample_type: str = "MSB_INTEGER") -> Path:
    """A PDS3 label with another SAMPLE_BITS / SAMPLE_TYPE (data sized so that only the type is wrong)."""
    path, _ = builders.pds3(folder)
    edit_label(path, "SAMPLE_BITS = 16", f"SAMPLE_BITS = {bits}")
    edit_label(path, "SAMPLE_TYPE = MSB_INTEGER", f"SAMPLE_TYPE = {sample_type}")
    needed = builders.ROWS * builders.COLS * max(bits, 8) // 8 + 8
    data = (folder / "SCENE.IMG").read_bytes()
    (folder / "SCENE.IMG").write_bytes((data * 4)[:needed])  # enough bytes: the type alone is the fault
    return path


def pds3_attached_truncated(folder: Path) -> Path:
    """A PDS3 .IMG with an attached label, cut in the middle of its image."""
    record = 2 * builders.COLS
    raw = np.arange(builders.ROWS * builders.COLS, dtype=">i2").tobytes()
    head = (
        f"PDS_VERSION_ID = PDS3\r\nRECORD_TYPE = FIXED_LENGTH\r\nRECORD_BYTES = {record}\r\n"
        f"FILE_RECORDS = {builders.ROWS + 10}\r\nLABEL_RECORDS = 10\r\n^IMAGE = 11\r\nOBJECT = IMAGE\r\n"
        f"  LINES = {builders.ROWS}\r\n  LINE_SAMPLES = {builders.COLS}\r\n  SAMPLE_TYPE = MSB_INTEGER\r\n"
        "  SAMPLE_BITS = 16\r\nEND_OBJECT = IMAGE\r\nEND\r\n"
    ).encode()
    assert len(head) <= 10 * record
    path = folder / "ATTACHED.IMG"
    path.write_bytes(head.ljust(10 * record) + raw[: len(raw) // 2])
    return path


def pds4_truncated(folder: Path) -> Path:
    """A GDAL-written PDS4 product whose data file lost its second half."""
    path, _ = builders.pds4(folder)
    data = _pds4_data_file(folder)
    truncate(data, data.stat().st_size // 2)
    return path


def pds4_offset_out_of_range(folder: Path) -> Path:
    """A PDS4 label whose array offset lies past the end of its data file."""
    path, _ = builders.pds4(folder)
    text = path.read_text()
    start = text.index("<offset", text.index("<Array_2D_Image") if "<Array_2D_Image" in text else 0)
    end = text.index("</offset>", start)
    path.write_text(text[:start] + '<offset unit="byte">999999' + text[end:])
    return path


def pds4_data_missing(folder: Path) -> Path:
    """A PDS4 label without its data file."""
    path, _ = builders.pds4(folder)
    _pds4_data_file(folder).unlink()
    return path


def _pds4_data_file(folder: Path) -> Path:
    [data] = [p for p in folder.iterdir() if p.suffix.lower() != ".xml"]
    return data


def fits_truncated(folder: Path) -> Path:
    """A FITS image cut in the middle of its data unit."""
    path, _ = builders.fits(folder)
    return truncate(path, 2880 + builders.ROWS * builders.COLS)  # header + half of the int16 pixels


def fits_bomb(folder: Path) -> Path:
    """A FITS header claiming 200000 × 200000 int16 pixels, with no data unit at all."""
    header = [
        "SIMPLE  =                    T",
        "BITPIX  =                   16",
        "NAXIS   =                    2",
        "NAXIS1  =               200000",
        "NAXIS2  =               200000",
        "END",
    ]
    path = folder / "bomb.fits"
    path.write_bytes("".join(card.ljust(80) for card in header).ljust(2880).encode())
    return path


def geotiff_truncated(folder: Path) -> Path:
    """A cloud-optimised GeoTIFF (tags first) cut inside its pixel data: its tags stay readable."""
    import rasterio.shutil
    import tifffile

    source, _ = builders.geotiff(folder, name="source.tif")
    path = folder / "scene.tif"
    rasterio.shutil.copy(source, path, driver="COG")
    source.unlink()
    with tifffile.TiffFile(path) as tif:
        start = min(tif.pages[0].dataoffsets)
    return truncate(path, start + 10)


def geotiff_directory_cut(folder: Path) -> Path:
    """A GDAL GeoTIFF (tags after the pixels) cut before its tags."""
    path, _ = builders.geotiff(folder)
    return truncate(path, path.stat().st_size - 100)
