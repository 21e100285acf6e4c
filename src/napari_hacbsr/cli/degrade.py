"""`hacbsr degrade HR`: a synthetic LR image with a known kernel (the engine's simulator)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.image import preview_uint8
from ..files import ImageReadError, read_image, write_json, write_png, write_tiff
from .options import fail


def cmd_degrade(args: argparse.Namespace) -> int:
    """`hacbsr degrade`: simulate an LR image from an HR one; returns the exit status."""
    from ..core.degradation import simulate
    from ..core.image import unit_range_by_dtype

    try:
        image, channel_axis = read_image(args.hr)
    except ImageReadError as exc:
        return fail(str(exc))
    if channel_axis is not None and channel_axis != -1:
        return fail("degrade expects a (H, W) or (H, W, C) image")
    try:
        arr = unit_range_by_dtype(image)
    except ValueError as exc:
        return fail(f"{args.hr}: {exc}")
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
    out_dir = Path(args.output) if args.output else Path(args.hr).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(args.hr).stem}_LR_x{args.scale}"
    write_png(out_dir / f"{stem}.png", preview_uint8(degraded.lr, 0.0, 1.0))
    write_tiff(out_dir / f"{stem}.tif", degraded.lr)
    write_tiff(out_dir / f"{stem}_kernel.tif", degraded.kernel)
    write_png(out_dir / f"{stem}_kernel.png", preview_uint8(degraded.kernel, 0.0, float(degraded.kernel.max())))
    write_json(out_dir / f"{stem}.json", {"source": str(args.hr), **degraded.params})
    print(f"wrote {out_dir / (stem + '.png')} (+ .tif, _kernel.tif/.png, .json); LR {degraded.lr.shape}")
    return 0
