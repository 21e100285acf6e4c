"""Blocking entry point for scripts, the console and batch runs."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from .config import HACBSRConfig
from .device import resolve_device
from .errors import EncoderFallbackWarning
from .frame import iterate_frame
from .image import prepare_image
from .plan import resolve
from .records import Result, Step
from .resources import plan_run
from .stack import iterate_stack, prepare_stack
from .validation import check_tile_options


def super_resolve(
    image: np.ndarray,
    scale: int | None = None,
    *,
    config: HACBSRConfig | None = None,
    channel_axis: int | None = None,
    progress: bool = False,
    callback: Callable[[Step], Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
    tile: int | Literal["auto"] | None = "auto",
    tile_overlap: int | None = None,
    memory_budget: float | None = None,
    frame_axis: int | None = None,
    **overrides: Any,
) -> Result:
    """Super-resolve `image` by `scale` and return the `Result` (blocking).

    scale: the factor; None means the config's (a default config's is ×2). Config fields can be given as
    keywords (`iterations=50, seed=1, device="cpu"`) or as a whole `config`; keywords win. The run is
    resolved once (`core.plan.resolve`: defaults for the device, the noise estimate), as in the widget
    and the CLI. `progress=True` shows a tqdm bar;
    `callback(step)` is called for every yielded `Step`. When CLIP was wanted but its weights are
    missing, one EncoderFallbackWarning (a RuntimeWarning) says so (the fallback encoder is used).

    tile: "auto" (the default, as in the widget) runs untiled when the frame fits `memory_budget`
    (bytes; default 60 % of the free memory, `core.resources`), else in the largest LR tiles that fit,
    and refuses (InsufficientMemoryError) when none does; an int is an LR tile side; None never tiles.
    tile_overlap: LR pixels shared by neighbouring tiles (default `core.tiling.default_overlap`).
    reconstruction (a config field, so a keyword here too): "auto" (full HACBSR when its time estimate fits
    `choices.AUTO_TIME_BUDGET_S` on this device, else the fast path), "hacbsr" or "fast" (`core.fast_frame`).

    frame_axis: `image` is a stack of frames of one site along this axis (`core.stack`: a shift, gain and
    kernel per frame, one HR image on the first frame's grid; channel_axis then counts a frame's own axes).
    """
    check_tile_options(tile, tile_overlap, memory_budget)
    if scale is not None:
        overrides["scale"] = scale
    base = (config or HACBSRConfig()).replace(**overrides)
    if frame_axis is not None:
        frames = prepare_stack(image, base.scale, frame_axis, channel_axis, base.gray_channels)
        cfg = resolve(base, resolve_device(base.device), frames[0])
        gen = iterate_stack(frames, cfg, should_stop)
    else:
        prepared = prepare_image(image, base.scale, channel_axis, base.gray_channels)  # bad input fails here, first
        cfg = resolve(base, resolve_device(base.device), prepared)
        if tile == "auto":  # (the fast path: None, it tiles itself)
            tile = plan_run(prepared, cfg, tile, tile_overlap, memory_budget).tile
        gen = iterate_frame(prepared, cfg, should_stop, tile=tile, overlap=tile_overlap)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.outer_iterations, desc=f"HACBSR ×{cfg.scale}", unit="it")
    try:
        while True:
            try:
                step = next(gen)
            except StopIteration as done:
                return done.value
            if step.stage == "setup" and cfg.encoder == "auto" and step.encoder.startswith("fallback"):
                from .encoder import describe_encoder

                warnings.warn(describe_encoder(step.encoder, step.encoder_note), EncoderFallbackWarning, stacklevel=2)
            if bar is not None and step.stage == "reconstruct":  # the fast path's non-blind solve
                bar.set_description(f"non-blind solve ×{cfg.scale}", refresh=False)
                bar.total, bar.n = step.total, step.iteration
                bar.refresh()
            elif bar is not None:
                bar.total = cfg.outer_iterations * step.tiles
                bar.n = (step.tile - 1) * cfg.outer_iterations + step.iteration
                loss = step.losses.get("data")
                if loss is not None:
                    bar.set_postfix(loss=f"{loss:.2e}", refresh=False)
                bar.refresh()
            if callback is not None:
                callback(step)
    finally:
        if bar is not None:
            bar.close()
