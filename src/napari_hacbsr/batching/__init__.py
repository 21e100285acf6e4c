"""Batch runs over many images on Dask distributed (`hacbsr batch`, `napari_hacbsr.batch`).

The subpackage is named `batching` so that `napari_hacbsr.batch` stays the function.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .report import BatchReport


def batch(
    inputs: Iterable[str | Path] | str | Path,
    out: str | Path,
    scale: int = 2,
    scheduler: str | None = None,
    *,
    workers: int | None = None,
    channel_axis: int | None = None,
    progress: bool = True,
    config: Any = None,
    **overrides: Any,
) -> BatchReport:
    """Super-resolve every image in `inputs` (files, folders, globs) into `out`; returns the report.

    Each item gets the outputs of `hacbsr run` and one record in `out`/hacbsr_batch.jsonl; re-running
    skips what is done with the same input bytes and settings. `scheduler` is a Dask scheduler address
    (default: $DASK_SCHEDULER_ADDRESS, else a local cluster of `workers` processes, one per core or GPU).
    Config fields are keywords (`iterations=50, seed=1`) or a whole `config`, as in `super_resolve`.
    """
    from ..core.config import HACBSRConfig
    from .runner import run_batch

    cfg = (config or HACBSRConfig()).replace(scale=scale, **overrides)
    return run_batch(
        inputs, out, cfg, scheduler=scheduler, workers=workers, channel_axis=channel_axis, progress=progress, log=print
    )


__all__ = ["BatchReport", "batch"]
