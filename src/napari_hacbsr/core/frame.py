"""The one generator behind every face: a frame run as its plan says, full HACBSR (in tiles) or the fast path."""

from __future__ import annotations

from collections.abc import Callable, Generator

from .fast_frame import iterate_fast
from .image import PreparedImage
from .plan import RunPlan
from .records import Result, Step
from .tiling import iterate_tiled


def iterate_frame(
    prepared: PreparedImage,
    plan: RunPlan,
    should_stop: Callable[[], bool] | None = None,
    *,
    tile: int | None = None,
    overlap: int | None = None,
) -> Generator[Step, None, Result]:
    """`plan.reconstruction` "fast": `core.fast_frame.iterate_fast`; "hacbsr": `core.tiling.iterate_tiled`
    with `tile` (an LR tile side, None: untiled) and `overlap`.
    """
    if plan.reconstruction == "fast":
        return (yield from iterate_fast(prepared, plan, should_stop))
    return (yield from iterate_tiled(prepared, plan, should_stop, tile=tile, overlap=overlap))
