"""What a run leaves behind: output names (layers and files share one pattern) and the files themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .core.image import display_range, preview_uint8
from .files import write_json, write_png, write_tiff


def sr_name(stem: str, scale: int) -> str:
    """``<stem>_HACBSR_x<s>``: the SR layer's and the SR file's name."""
    return f"{stem}_HACBSR_x{int(scale)}"


def kernel_name(stem: str) -> str:
    """``<stem>_HACBSR_kernel``: the kernel layer's and the kernel file's name."""
    return f"{stem}_HACBSR_kernel"


def free_output_names(existing: set[str] | list[str], source: str, scale: int) -> tuple[str, str]:
    """(sr_name, kernel_name) for a new run: ``<source>_HACBSR_x<s>`` / ``<source>_HACBSR_kernel``.

    When either name is taken (an earlier run), both get the first free numbered suffix
    ``_2``, ``_3``, ... so earlier results are never overwritten.
    """
    taken = set(existing)
    base_sr, base_k = sr_name(source, scale), kernel_name(source)
    if base_sr not in taken and base_k not in taken:
        return base_sr, base_k
    n = 2
    while f"{base_sr}_{n}" in taken or f"{base_k}_{n}" in taken:
        n += 1
    return f"{base_sr}_{n}", f"{base_k}_{n}"


def output_paths(out_dir: str | Path, stem: str, scale: int) -> dict[str, Path]:
    """Every file `write_result` writes, by role."""
    out_dir = Path(out_dir)
    sr, kernel = sr_name(stem, scale), kernel_name(stem)
    return {
        "sr_tiff": out_dir / f"{sr}.tif",
        "sr_png": out_dir / f"{sr}.png",
        "kernel_tiff": out_dir / f"{kernel}.tif",
        "kernel_png": out_dir / f"{kernel}.png",
        "kernel_map_tiff": out_dir / f"{stem}_HACBSR_kernel_map.tif",
        "kernels_csv": out_dir / f"{stem}_HACBSR_kernels.csv",
        "consistency_tiff": out_dir / f"{stem}_HACBSR_lr_consistency.tif",
        "frame_kernels_tiff": out_dir / f"{stem}_HACBSR_frame_kernels.tif",
        "frames_csv": out_dir / f"{stem}_HACBSR_frames.csv",
        "json": out_dir / f"{stem}_HACBSR.json",
    }


def expected_bytes(lr_shape: tuple[int, ...], channel_axis: int | None, scale: int) -> int:
    """About how many bytes `write_result` writes for an LR image of `lr_shape` (a little more, not less).

    The SR TIFF (up to 8 bytes a sample: float64/int64 outputs) and its PNG, the LR-consistency TIFF,
    and 1 MB for the kernels, the tile table and the JSON.
    """
    samples = int(np.prod(lr_shape))
    return samples * scale * scale * (8 + 1) + samples * 4 + (1 << 20)


def write_tile_table(path: Path, result: Any, origin: tuple[int, int]) -> None:
    """CSV of the tiles: grid position, LR box in the input's pixels, FWHM, ellipticity, orientation."""
    import csv

    from .core.kernel_map import tile_table

    rows = tile_table(result.kernel_map, result.tile_boxes, origin)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_sr_tiff(path: Path, sr: np.ndarray, norm: Any) -> None:
    """The SR as a float32 TIFF, or in the run's wider output dtype when float32 cannot resolve an integer
    input's range (`core.image.output_dtype_for`: float64, or the input's int64/uint64 levels).
    """
    if np.issubdtype(np.dtype(norm.input_dtype), np.integer) and sr.dtype != np.float32:
        import tifffile

        tifffile.imwrite(path, sr)
    else:
        write_tiff(path, sr)


def write_result(
    out_dir: str | Path,
    stem: str,
    result: Any,
    source: dict[str, Any],
    georef: dict[str, Any] | None = None,
    final_dir: str | Path | None = None,
) -> dict[str, Path]:
    """SR (float32 TIFF + 8-bit PNG), kernel (TIFF + PNG) and a provenance JSON; returns the paths.

    ``final_dir``: where the files will live once published (`staging.StagedOutput`), for the JSON's
    "outputs"; default ``out_dir``.

    With the ``georef`` of a mission product (``MissionImage.georef()``) the SR TIFF is a GeoTIFF
    (a FITS with the updated WCS for FITS sources, beside the TIFF) and the JSON carries its CRS
    and geotransform/WCS.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = output_paths(out_dir, stem, result.config.scale)
    norm = result.normalization  # one display mapping for the input and every PNG (core.image)
    georeference = None
    if georef is not None:
        from .mission.writers import write_sr_product

        sr_path, georeference = write_sr_product(paths["sr_tiff"], result, georef)
        if sr_path != paths["sr_tiff"]:
            paths = {"sr_fits": sr_path, **paths}
    if "sr_fits" in paths or georef is None:
        write_sr_tiff(paths["sr_tiff"], result.sr, norm)
    sr_preview = result.sr if result.channel_axis is None else np.moveaxis(result.sr, result.channel_axis, -1)
    write_png(paths["sr_png"], preview_uint8(sr_preview, *display_range(norm)))
    write_tiff(paths["kernel_tiff"], result.kernel)
    write_png(paths["kernel_png"], preview_uint8(result.kernel, 0.0, float(result.kernel.max())))
    if result.kernel_map is not None:  # the per-tile kernels (n_rows, n_cols, K, K) and their shape numbers
        write_tiff(paths["kernel_map_tiff"], result.kernel_map)
        roi = source.get("roi")  # [x, y, w, h] of the region run, in the input's pixels
        write_tile_table(paths["kernels_csv"], result, (roi[1], roi[0]) if roi else (0, 0))
    else:
        del paths["kernel_map_tiff"], paths["kernels_csv"]
    if result.consistency_map is not None:  # |A x − y| per LR pixel, in the data's units (the fast path)
        write_tiff(paths["consistency_tiff"], result.consistency_map[0] if result.consistency_map.shape[0] == 1
                   else result.consistency_map)  # fmt: skip
    else:
        del paths["consistency_tiff"]
    if result.frames:  # a stack: each frame's kernel (T, K, K; NaN for refused frames) and its record
        write_tiff(paths["frame_kernels_tiff"], result.frame_kernels)
        write_frame_table(paths["frames_csv"], result.frames)
    else:
        del paths["frame_kernels_tiff"], paths["frames_csv"]
    final = Path(final_dir) if final_dir is not None else out_dir
    record = {**result.provenance(), "source": source, "outputs": {k: str(final / v.name) for k, v in paths.items()}}
    if georeference is not None:
        record["georeference"] = georeference
    write_json(paths["json"], record)
    return paths


def write_frame_table(path: Path, frames: list[dict[str, Any]]) -> None:
    """One row per frame of a stack: shift (LR px) and its uncertainty, photometry, noise, weight, fit, verdict."""
    import csv

    fields = ["index", "dy", "dx", "uncertainty", "correlation", "gain", "offset", "noise_sigma", "weight",
              "lr_rmse", "accepted", "reason"]  # fmt: skip
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for frame in frames:
            writer.writerow({**frame, "dy": frame["shift"][0], "dx": frame["shift"][1]})
