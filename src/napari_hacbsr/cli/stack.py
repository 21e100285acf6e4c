"""`hacbsr run A B C --stack`: several frames of one site, one HR image on the first frame's grid (core.stack).

The frames are files of one shape (crop them to a common region first: aligning frames of different sizes by
their georeference is not built yet), or one file holding a (frames, rows, cols) stack. The outputs are
`hacbsr run`'s for the first frame (georeferenced like it) plus the per-frame kernels and a frame table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..files import ImageReadError, read_product
from ..outputs import expected_bytes, write_result
from ..staging import OutputError, StagedOutput
from .options import engine_config, fail
from .report import summary


def read_frames(paths: list[str], channel_axis: int | None) -> tuple[np.ndarray, int | None, dict | None]:
    """(frames stacked on axis 0, each frame's channel axis, the first frame's georeference)."""
    frames, georef, axis = [], None, channel_axis
    for index, path in enumerate(paths):
        image, axis, ref = read_product(path, channel_axis)
        georef = ref if index == 0 else georef
        frames.append(image)
    if len(frames) == 1:  # one file holding the stack: its first axis counts the frames
        if frames[0].ndim != 3:
            raise ImageReadError(
                f"{paths[0]}: --stack with one file needs a (frames, rows, cols) image; this one is "
                f"{frames[0].shape}. Give several frame files instead"
            )
        return frames[0], None, georef
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        listing = ", ".join(f"{Path(p).name} {f.shape}" for p, f in zip(paths, frames, strict=True))
        raise ImageReadError(f"the frames of a stack must have one shape; got {listing}. Crop them to one region")
    return np.stack(frames), axis, georef


def cmd_run_stack(args: argparse.Namespace) -> int:
    """Read the frames, run `super_resolve(frames, frame_axis=0)`, write the first frame's outputs."""
    from ..core.api import super_resolve
    from ..core.errors import HACBSRError

    if args.roi is not None:
        return fail("--roi is not taken with --stack yet; crop the frames to one region first")
    try:
        config = engine_config(args)
    except ValueError as exc:
        return fail(str(exc))
    try:
        frames, channel_axis, georef = read_frames(args.image, args.channel_axis)
    except ImageReadError as exc:
        return fail(str(exc))
    first = Path(args.image[0])
    source = {"input": [str(p) for p in args.image], "input_shape": list(frames.shape), "stack": True}
    out_dir = Path(args.output) if args.output else first.parent
    try:
        with StagedOutput(out_dir) as staged:
            staged.check_room(expected_bytes(frames.shape[1:], channel_axis, config.scale))
            try:
                result = super_resolve(
                    frames, config.scale, config=config, channel_axis=channel_axis, frame_axis=0,
                    progress=not args.quiet,
                )  # fmt: skip
            except ValueError as exc:
                return fail(f"{first}: {exc}")
            except HACBSRError as exc:
                return fail(str(exc), 3)
            paths = staged.write(lambda private: write_result(private, first.stem, result, source, georef,
                                                              staged.out_dir))  # fmt: skip
    except OutputError as exc:
        return fail(str(exc), exc.code)
    print(summary(result))
    for record in result.frames:
        verdict = "used" if record["accepted"] else f"left out: {record['reason']}"
        dy, dx = record["shift"]
        print(f"  frame {record['index']}: shift ({dy:+.3f}, {dx:+.3f}) LR px; {verdict}")
    for name, path in paths.items():
        print(f"  {name:12s} {path}")
    return 0
