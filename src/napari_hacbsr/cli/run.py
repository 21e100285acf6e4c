"""`hacbsr run IMAGE`: one image or mission product, its outputs beside it (or in -o)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import HACBSRConfig
from ..files import ImageReadError, read_product
from ..outputs import expected_bytes, write_result
from ..staging import OutputError, StagedOutput
from .frames import check_channel_axis, crop_roi, frame_run_options
from .options import engine_config, fail
from .report import summary


def run_engine(image: np.ndarray, config: HACBSRConfig, channel_axis: int | None, quiet: bool, **extra: Any):
    """Run the engine, first saying what will run where (and the encoder in words, once)."""
    import warnings

    from ..core.api import super_resolve
    from ..core.encoder import describe_encoder
    from ..core.errors import EncoderFallbackWarning

    def announce(step) -> None:
        if step.stage == "setup" and step.tile == 1:  # (a tiled run: once, for its first tile)
            lr = "×".join(str(n) for n in image.shape[:2]) if channel_axis in (None, -1) else str(image.shape)
            print(
                f"hacbsr: {lr} px at ×{config.scale} on {step.device_name}: {step.total} outer iterations; "
                f"{describe_encoder(step.encoder, step.encoder_note)}",
                file=sys.stderr,
            )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EncoderFallbackWarning)  # announce() says it, in words
        return super_resolve(
            image,
            config.scale,
            config=config,
            channel_axis=channel_axis,
            progress=not quiet,
            callback=announce,
            **extra,
        )


def cmd_run(args: argparse.Namespace) -> int:
    """`hacbsr run`: super-resolve one image file and write its outputs; returns the exit status."""
    if args.stack:
        from .stack import cmd_run_stack

        return cmd_run_stack(args)
    if len(args.image) > 1:
        return fail(
            f"{len(args.image)} images were given: add --stack to make one HR image of several frames of one "
            "site, or use `hacbsr batch FOLDER` to super-resolve each on its own"
        )
    args.image = args.image[0]
    try:
        config = engine_config(args)
    except ValueError as exc:
        return fail(str(exc))
    try:
        image, channel_axis, georef = read_product(args.image, args.channel_axis)
    except ImageReadError as exc:
        return fail(str(exc))
    try:
        check_channel_axis(image.shape, args.channel_axis)
    except ValueError as exc:
        return fail(f"{args.image}: {exc}")
    source = {"input": str(args.image), "input_shape": list(image.shape)}
    out_dir = Path(args.output) if args.output else Path(args.image).parent
    try:
        with StagedOutput(out_dir) as staged:  # the folder is probed here, before the run
            status = _run_and_write(args, image, channel_axis, georef, config, source, staged)
    except OutputError as exc:
        return fail(str(exc), exc.code)
    return status


def _run_and_write(args, image, channel_axis, georef, config, source, staged: StagedOutput) -> int:
    from ..core.errors import HACBSRError

    try:
        if args.roi is not None:
            image = crop_roi(image, args.roi, channel_axis)
            source["roi"] = list(args.roi)
            if georef is not None:  # the region's own georeference: (x, y) is its top-left pixel
                from ..mission.georef import crop_georef

                georef = crop_georef(georef, row=args.roi[1], col=args.roi[0])
        staged.check_room(expected_bytes(image.shape, channel_axis, config.scale))  # a full disk: before the run
        tiling = frame_run_options(image, args, channel_axis, config)
        result = run_engine(image, config, channel_axis, args.quiet, **tiling)
    except ValueError as exc:
        return fail(f"{args.image}: {exc}")
    except HACBSRError as exc:
        return fail(str(exc), 3)
    stem = Path(args.image).stem
    paths = staged.write(lambda private: write_result(private, stem, result, source, georef, staged.out_dir))
    print(summary(result))
    for name, path in paths.items():
        print(f"  {name:12s} {path}")
    return 0
