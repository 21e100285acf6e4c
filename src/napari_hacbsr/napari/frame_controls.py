"""Whole frames in the widget: which region to run on, and the resource estimate shown before Run.

Regions: the whole image (tiled when it does not fit the free memory), the part of it in the current
canvas view, or the last rectangle of the topmost Shapes layer. A region is an LR box
(y0, x0, y1, x1) of the source's data, clipped to the image; the run's layers sit over exactly it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, LineEdit

from ..core.choices import RECONSTRUCTIONS
from .layer_rules import spatial_shape

REGIONS = ("Whole image", "Current view", "Shapes rectangle")


def frame_estimate(
    prepared: Any,
    config: Any,
    tile: int | str | None = "auto",
    overlap: int | None = None,
    budget_bytes: float | None = None,
) -> Any:
    """The run's resource estimate (tiles chosen for the memory budget, None: 60 % of the free memory);
    ValueError when nothing fits.
    """
    from ..core.resources import InsufficientMemoryError, plan_run

    try:
        return plan_run(prepared, config, tile, overlap, budget_bytes)
    except InsufficientMemoryError as exc:  # the run controller's contract: ValueError before any thread
        raise ValueError(str(exc)) from None


def _box_from_world(layer: Any, corners_world: np.ndarray) -> tuple[int, int, int, int]:
    """LR box of `layer` covering world points (n, 2), clipped to the image; ValueError if empty."""
    data = np.array([layer.world_to_data(p)[-2:] for p in corners_world])
    rows, cols = spatial_shape(layer)
    y0, x0 = np.clip(np.floor(data.min(axis=0) + 0.5), 0, [rows, cols]).astype(int)
    y1, x1 = np.clip(np.ceil(data.max(axis=0) + 0.5), 0, [rows, cols]).astype(int)
    if y1 <= y0 or x1 <= x0:
        raise ValueError(f"the chosen region does not overlap '{layer.name}'; move the view or the rectangle onto it")
    return int(y0), int(x0), int(y1), int(x1)


def view_box(viewer: Any, layer: Any) -> tuple[int, int, int, int]:
    """The part of `layer` visible in the canvas."""
    canvas = getattr(viewer, "canvas", None)
    if canvas is None:
        raise ValueError("this napari version does not say what the canvas shows; choose Whole image or a rectangle")
    centre = np.asarray(viewer.camera.center[-2:], dtype=float)
    half = np.asarray(canvas.size[-2:], dtype=float) / float(viewer.camera.zoom) / 2.0
    return _box_from_world(layer, np.array([centre - half, centre + half]))


def shapes_box(viewer: Any, layer: Any) -> tuple[int, int, int, int]:
    """The bounding box of the last shape of the topmost Shapes layer."""
    from napari.layers import Shapes

    shapes = [x for x in viewer.layers if isinstance(x, Shapes) and len(x.data)]
    if not shapes:
        raise ValueError("there is no Shapes layer with a rectangle; draw one (New shapes layer → rectangle)")
    top = shapes[-1]
    corners = np.asarray(top.data[-1], dtype=float)[:, -2:]
    world = np.array([top.data_to_world(p) for p in corners])[:, -2:]
    return _box_from_world(layer, world)


class FrameControls(Container):
    """Region choice and the estimate line; the widget asks `region_box` at Run."""

    def __init__(self) -> None:
        super().__init__(labels=True)
        self.region = ComboBox(
            label="Region",
            choices=list(REGIONS),
            value=REGIONS[0],
            tooltip="Whole image (tiled when it does not fit in memory), the current view, or a Shapes rectangle",
        )
        self.reconstruction = ComboBox(
            label="Reconstruction",
            choices=list(RECONSTRUCTIONS),
            value="auto",
            tooltip="auto: full HACBSR when its estimate fits 10 min on this device, else fast; hacbsr: the full "
            "algorithm (a network per HR pixel); fast: HACBSR estimates the kernel on a few textured tiles and a "
            "non-blind solve reconstructs the frame (minutes for a whole frame)",
        )
        self.tiles = LineEdit(
            label="Tiles",
            value="auto",
            tooltip="auto: tiles only when the frame does not fit the memory limit; none: one piece; or an LR tile "
            "side in pixels, e.g. 256 (as hacbsr run --tile)",
        )
        self.memory_limit = FloatSpinBox(
            label="Memory limit (GB)",
            value=0.0,
            min=0.0,
            max=4096.0,
            step=0.5,
            tooltip="GB the run may use; 0: 60 % of the memory free now (as hacbsr run --memory-limit)",
        )
        self.estimate = Label(value="")
        self.estimate.native.setWordWrap(True)
        self.extend([self.region, self.reconstruction, self.tiles, self.memory_limit, self.estimate])

    def tile_choice(self) -> int | str | None:
        """The Tiles field as the run takes it: "auto", None (none) or an LR tile side (ValueError if unreadable)."""
        text = str(self.tiles.value).strip().lower()
        if text in ("", "auto"):
            return "auto"
        if text in ("none", "no", "off"):
            return None
        try:
            side = int(text)
        except ValueError:
            raise ValueError(f"Tiles must be auto, none or an LR tile side in pixels, not {text!r}") from None
        if side <= 0:
            raise ValueError(f"Tiles must be a positive tile side in pixels, not {side}")
        return side

    def budget_bytes(self) -> float | None:
        """The memory limit in bytes; None (0 in the field): 60 % of the free memory."""
        limit = float(self.memory_limit.value)
        return limit * 1e9 if limit > 0 else None

    def region_box(self, viewer: Any, layer: Any) -> tuple[int, int, int, int] | None:
        """None for the whole image, else the LR box (ValueError with advice when it cannot be had)."""
        if layer is None or self.region.value == REGIONS[0]:
            return None
        return view_box(viewer, layer) if self.region.value == REGIONS[1] else shapes_box(viewer, layer)

    def update_estimate(self, viewer: Any, layer: Any, config: Any) -> None:
        """Show peak memory, time and tiles for this layer, region, scale and device (or why not)."""
        if layer is None:
            self.estimate.value = ""
            return
        try:
            from ..core.image import min_lr_side
            from ..core.resources import duration_text, estimate_resources

            box = self.region_box(viewer, layer)
            rows, cols = spatial_shape(layer) if box is None else (box[2] - box[0], box[3] - box[1])
            if min(rows, cols) < min_lr_side(config.scale):
                raise ValueError(f"the region is {rows}×{cols} px, too small at ×{config.scale}")
            channels = 3 if getattr(layer, "rgb", False) else 1
            frame = {"tile": self.tile_choice(), "budget_bytes": self.budget_bytes(), "channels": channels}
            chosen = estimate_resources((rows, cols), config.scale, config, config.device, **frame)
            times = []  # both reconstructions' times, so the choice is the user's to see
            for kind, name in (("hacbsr", "full HACBSR"), ("fast", "fast")):
                est = estimate_resources(
                    (rows, cols), config.scale, config.replace(reconstruction=kind), config.device, **frame
                )
                times.append(f"{name} ≈{duration_text(est.seconds)}" if est.seconds is not None else f"{name} ?")
            both = f" ({', '.join(times)}" + (
                f"; auto runs {chosen.reconstruction})" if config.reconstruction == "auto" else ")"
            )
            text = f"Estimate: {chosen.summary()}{both}" if chosen.fits else f"Will not start: {chosen.message}"
        except ValueError as exc:
            text = f"Estimate unavailable: {exc}"
        self.estimate.value = text
