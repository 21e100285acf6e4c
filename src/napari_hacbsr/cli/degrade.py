"""`hacbsr degrade HR`: a synthetic LR image with a known kernel (the engine's simulator)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.image import preview_uint8
from ..files import ImageReadError, read_image, write_json, write_png, write_tiff
from ..staging import OutputError, StagedOutput
from .options import fail


def write_degraded(folder: Path, stem: str, degraded, source: str) -> dict[str, Path]:
    """The LR (PNG + float TIFF), the kernel (TIFF + PNG) and the parameters JSON in `folder`, by role."""
    paths = {
        "lr_png": folder / f"{stem}.png",
        "lr_tiff": folder / f"{stem}.tif",
        "kernel_tiff": folder / f"{stem}_kernel.tif",
        "kernel_png": folder / f"{stem}_kernel.png",
        "json": folder / f"{stem}.json",
    }
    write_png(paths["lr_png"], preview_uint8(degraded.lr, 0.0, 1.0))
    write_tiff(paths["lr_tiff"], degraded.lr)
    write_tiff(paths["kernel_tiff"], degraded.kernel)
    write_png(paths["kernel_png"], preview_uint8(degraded.kernel, 0.0, float(degraded.kernel.max())))
    write_json(paths["json"], {"source": source, **degraded.params})
    return paths


def cmd_degrade(args: argparse.Namespace) -> int:
    """`hacbsr degrade`: simulate an LR image from an HR one; returns the exit status."""
    from ..core.degradation import simulate
    from ..core.image import check_simulation_input, unit_range_by_dtype

    try:
        image, channel_axis = read_image(args.hr)
    except ImageReadError as exc:
        return fail(str(exc))
    if channel_axis is not None and channel_axis != -1:
        return fail("degrade expects a (H, W) or (H, W, C) image")
    try:  # what `run` would refuse of the LR this makes is refused here, before anything is written
        check_simulation_input(image, args.scale, channel_axis, args.noise, args.kernel_noise)
        arr = unit_range_by_dtype(image)
    except ValueError as exc:
        return fail(f"{args.hr}: {exc}")
    out_dir = Path(args.output) if args.output else Path(args.hr).parent
    stem = f"{Path(args.hr).stem}_LR_x{args.scale}"
    try:
        with StagedOutput(out_dir) as staged:  # the folder is probed before the simulation
            staged.check_room(arr.size // args.scale**2 * 5 + (1 << 20))  # the LR TIFF + PNG, kernel and JSON
            try:
                degraded = simulate(
                    arr,
                    args.scale,
                    protocol=args.protocol,
                    noise_max=args.noise,
                    kernel_noise=args.kernel_noise,
                    seed=args.seed,
                    quantize=args.quantize,
                )
            except ValueError as exc:
                return fail(str(exc))
            paths = staged.write(lambda private: write_degraded(private, stem, degraded, str(args.hr)))
    except OutputError as exc:
        return fail(str(exc), exc.code)
    print(f"wrote {paths['lr_png']} (+ .tif, _kernel.tif/.png, .json); LR {degraded.lr.shape}")
    return 0
