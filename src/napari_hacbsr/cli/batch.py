"""`hacbsr batch INPUT... -o OUT`: the `hacbsr run` options per item, plus where the work runs."""

from __future__ import annotations

import argparse
import sys

from ..batching.report import EXIT_INTERRUPTED
from .options import add_engine_options, engine_config, fail


def add_batch_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `batch` sub-command on the `hacbsr` parser's sub-parsers."""
    p = subparsers.add_parser(
        "batch",
        help="super-resolve many images (files, folders, globs) on a local or remote Dask cluster",
        description=(
            "Exit codes: 0 all items done or skipped; 1 some failed or were stopped, or the scheduler was lost; "
            "2 refused before any work (bad arguments, scheduler unreachable or not one, OUT unusable or held "
            "by another batch, damaged manifest); 130 interrupted."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or globs ('*.png')")
    p.add_argument("-o", "--output", required=True, help="output folder (outputs as `hacbsr run`, plus the manifest)")
    p.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address, e.g. tcp://host:8786 (default: $DASK_SCHEDULER_ADDRESS, else a local cluster)",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="local cluster size (default: one per GPU, else one per CPU core)"
    )
    p.add_argument("--channel-axis", type=int, default=None, help="channel axis of 3-D images (colour is automatic)")
    add_engine_options(p)
    p.set_defaults(func=cmd_batch)
    return p


def cmd_batch(args: argparse.Namespace) -> int:
    """`hacbsr batch`: super-resolve many files with Dask distributed; returns the exit status."""
    from ..batching.runner import BatchRun

    if args.workers is not None and args.workers < 1:
        return fail(f"--workers must be >= 1, got {args.workers}")
    try:
        config = engine_config(args)
        run = BatchRun(
            args.inputs,
            args.output,
            config,
            scheduler=args.scheduler,
            workers=args.workers,
            channel_axis=args.channel_axis,
            progress=not args.quiet,
            log=lambda message: print(message, file=sys.stderr),
        )
        report = run.run()
    except (ValueError, ImportError, ConnectionError) as exc:  # bad inputs/options, no distributed, no scheduler
        return fail(str(exc))
    print(report.table())
    return EXIT_INTERRUPTED if report.interrupted else report.exit_code
