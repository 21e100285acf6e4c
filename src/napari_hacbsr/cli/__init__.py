"""Command line: `hacbsr run`, `hacbsr batch`, `hacbsr degrade`, `hacbsr demo` (one module per command).

Exit codes: 0 success, 2 bad input (unreadable file, invalid option, config file or image; an output
folder that cannot take files: a file, read-only, not creatable), 3 run-time failure (e.g. out of memory;
the disk full or a file-size limit while writing), 130 interrupted. No failure leaves a partial file set.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..core.config import PROTOCOLS
from .batch import add_batch_parser
from .degrade import cmd_degrade
from .demo import cmd_demo
from .frames import add_frame_options, join_negative_roi
from .options import add_engine_options
from .run import cmd_run


def build_parser() -> argparse.ArgumentParser:
    """The `hacbsr` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="hacbsr", description="HACBSR blind super-resolution for planetary images")
    parser.add_argument("--version", action="version", version=f"napari-hacbsr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="super-resolve an image file")
    run.add_argument(
        "image",
        nargs="+",
        help="input image (PNG, TIFF, ...) or mission product (.LBL, .xml, .cub, .fits, GeoTIFF); several with --stack",
    )
    run.add_argument(
        "--stack",
        action="store_true",
        help="the images are frames of one site (or one file holds a frames × rows × cols stack): one HR image on "
        "the first frame's grid, with a shift, gain and kernel per frame",
    )
    run.add_argument("-o", "--output", help="output folder (default: beside the input)")
    run.add_argument(
        "--channel-axis",
        type=int,
        default=None,
        help="channel axis of a 3-D image (colour images are detected automatically)",
    )
    add_engine_options(run)
    add_frame_options(run)
    run.set_defaults(func=cmd_run)

    add_batch_parser(sub)

    degrade = sub.add_parser("degrade", help="make a synthetic LR image with a known kernel")
    degrade.add_argument("hr", help="HR image (8/16-bit PNG/TIFF, or float TIFF in [0, 1])")
    degrade.add_argument("--scale", "-s", type=int, default=2)
    degrade.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="stride",
        help="stride: MLMC/FKP test data (spec §1.1); bicubic: Ceres-50 reconstruction (§1.3)",
    )
    degrade.add_argument("--noise", type=float, default=0.0, help="max additive noise σ (drawn U(0, max)), [0,1] units")
    degrade.add_argument("--kernel-noise", type=float, default=0.0, help="multiplicative kernel noise level")
    degrade.add_argument("--seed", type=int, default=0)
    degrade.add_argument("--quantize", action="store_true", help="floor the LR to 8 bits as the reference code")
    degrade.add_argument("-o", "--output", help="output folder (default: beside the input)")
    degrade.set_defaults(func=cmd_degrade)

    demo = sub.add_parser("demo", help="super-resolve the bundled sample (degraded Moon) and write a comparison")
    demo.add_argument("-o", "--output", default="out/demo", help="output folder (default out/demo)")
    demo.add_argument("--crop", type=int, default=None, help="HR crop side (default: the whole 512² frame)")
    add_engine_options(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `hacbsr` command: parse `argv` and run the subcommand; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(join_negative_roi(sys.argv[1:] if argv is None else list(argv)))
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("hacbsr: interrupted", file=sys.stderr)
        return 130
