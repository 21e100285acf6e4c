"""What the engine yields (`Step`) and returns (`Result`). Plain data, CPU numpy only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import HACBSRConfig
from .image import Normalization
from .plan import RunPlan

STAGES = ("setup", "warmup", "iterate", "tile", "reconstruct")


def package_version() -> str:
    """The installed package's version (pyproject is its one source)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("napari-hacbsr")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


@dataclass
class Step:
    """One progress record, yielded once per outer iteration (and once after kernel warm-up).

    `sr` and `kernel` are CPU numpy copies present on the first and last iteration and every
    `config.yield_every` iterations; otherwise None. `sr` has the output layout of the final
    result (same axes as the input, spatial axes s times larger, input value range).
    """

    iteration: int  # outer iterations completed (0 for the warm-up record)
    total: int  # outer iterations planned
    # one of STAGES: "setup" (first; device + encoder), "warmup" (after kernel warm-up), "iterate",
    # "tile" (a tile of a tiled run finished: `sr` is the blended picture inside `tile_box`), "reconstruct"
    # (the fast path's non-blind solve: `iteration` of `total` solver iterations; `sr` on the last record)
    stage: str
    losses: dict[str, float]  # last values: "data", "kernel", "kl", "contrast", "meta", ...
    alpha: float | None  # last EMA momentum of the history model (None before the first update)
    elapsed: float  # seconds since the run started
    sr: np.ndarray | None = None
    kernel: np.ndarray | None = None
    # what the run actually uses: set on the "setup" Step only (the one place to read them from)
    device: str = ""  # e.g. "cuda:0"
    device_name: str = ""  # e.g. "cuda:0 — NVIDIA H100 80GB HBM3", "CPU — no GPU found"
    encoder: str = ""  # e.g. "clip:ViT-B-32/openai", "fallback:pixels-224", "none"
    encoder_note: str = ""  # why the fallback encoder is used, or ""
    # tiled runs (core.tiling): which tile the record belongs to (1-based) of how many, and that tile's
    # HR box (y0, x0, y1, x1) in the output's pixels; `sr`, when present, covers exactly that box.
    # An untiled run is tile 1 of 1 with tile_box None (`sr` covers the whole output).
    tile: int = 1
    tiles: int = 1
    tile_box: tuple[int, int, int, int] | None = None


@dataclass
class Result:
    """The final estimate and its provenance."""

    sr: np.ndarray  # float32 (float64 for float64 input), input value range, input axes
    kernel: np.ndarray  # K x K float32, sums to 1, cross-correlation convention (spec §1.1)
    plan: RunPlan  # what the run resolved its config to (core.plan)
    device: str  # e.g. "cpu", "cuda:0"
    device_name: str  # e.g. "CPU", "NVIDIA H100 80GB HBM3"
    encoder: str  # e.g. "clip:ViT-B-32/openai", "fallback:pixels-224", "none"
    encoder_note: str  # why the fallback was used, or ""
    iterations_done: int  # outer iterations run: the plan's N, fewer when stopped or converged
    stopped_early: bool  # stopped by the caller (should_stop)
    timings: dict[str, float]  # seconds per stage: setup, warmup, kl, cil, history, meta, total
    normalization: Normalization
    missing_pixels: int  # NaN/inf input pixels treated as missing data
    channel_axis: int | None
    losses: list[dict[str, float]] = field(default_factory=list)  # one record per outer iteration
    lr_consistency: float = float("nan")  # masked MSE of (sr ⊛ k)↓s vs the LR input, [0,1] units
    inner_steps_done: int = 0
    converged: bool = False  # ended before N by the convergence rule (core.convergence)
    # the tile grid (core.tiling): LR boxes (n_rows, n_cols, 4) as (y0, x0, y1, x1) and each tile's kernel
    # (n_rows, n_cols, K, K; NaN where a tile did not finish); an untiled run is a 1×1 grid
    tile_boxes: np.ndarray | None = None
    kernel_map: np.ndarray | None = None
    tiles_done: int = 1
    # what ran: "hacbsr" (the full algorithm), "fast" (core.fast_frame) or "stack" (core.stack, several frames)
    reconstruction: str = "hacbsr"
    # |A x − y| per LR pixel in the data's units (the fast path's; NaN where the LR is missing)
    consistency_map: np.ndarray | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)  # the fast path's stages and where its kernel came from
    # a stack's frames: one record each (shift, uncertainty, correlation, gain, offset, noise, weight, lr_rmse,
    # accepted, reason; core.registration) and their kernels (T, K, K; NaN for refused frames)
    frames: list[dict[str, Any]] = field(default_factory=list)
    frame_kernels: np.ndarray | None = None

    @property
    def config(self) -> HACBSRConfig:
        """The config as the user gave it (None fields: the plan's values); replaying it repeats the run."""
        return self.plan.config

    @property
    def final_losses(self) -> dict[str, float]:
        """The last iteration's losses ({} when none ran)."""
        return dict(self.losses[-1]) if self.losses else {}

    def provenance(self) -> dict[str, Any]:
        """JSON-serialisable summary for metadata, sidecar files and benchmark rows."""
        return {
            "version": package_version(),
            "config": self.config.to_dict(),
            "plan": self.plan.to_dict(),
            "seed": self.config.seed,
            "device": self.device,
            "device_name": self.device_name,
            "encoder": self.encoder,
            "encoder_note": self.encoder_note,
            "iterations_done": self.iterations_done,
            "stopped_early": self.stopped_early,
            "converged": self.converged,
            "timings": dict(self.timings),
            "normalization": self.normalization.to_dict(),
            "missing_pixels": self.missing_pixels,
            "channel_axis": self.channel_axis,
            "final_losses": self.final_losses,
            "lr_consistency": self.lr_consistency,
            "inner_steps_done": self.inner_steps_done,
            "tiles": None if self.tile_boxes is None else list(self.tile_boxes.shape[:2]),
            "tiles_done": self.tiles_done,
            "reconstruction": self.reconstruction,
            "stages": list(self.stages),
            **({"frames": list(self.frames)} if self.frames else {}),
        }
