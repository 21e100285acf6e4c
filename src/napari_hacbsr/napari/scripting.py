"""Console and script helpers for napari (``viewer`` in scope).

>>> from napari_hacbsr import run_in_viewer
>>> worker = run_in_viewer(viewer, viewer.layers["img"], scale=2, iterations=50)
>>> worker.quit()          # stop early; the current estimate becomes the result

Blocking, without the widget's live layers:

>>> from napari_hacbsr import super_resolve, add_result
>>> result = super_resolve(viewer.layers["img"].data, scale=2)
>>> add_result(viewer, viewer.layers["img"], result)   # placed exactly over its source
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .run import HACBSRRun
from .worker import HACBSRWorker

if TYPE_CHECKING:  # pragma: no cover
    from napari.layers import Image

    import napari

    from ..core.config import HACBSRConfig
    from ..core.records import Result

__all__ = ["add_result", "run_in_viewer"]


def _layer(viewer: napari.Viewer, layer: Image | str) -> Image:
    if isinstance(layer, str):
        names = [str(x.name) for x in viewer.layers]
        if layer not in names:
            raise ValueError(f"no layer named {layer!r} in this viewer; layers: {names}")
        return viewer.layers[layer]
    return layer


def run_in_viewer(
    viewer: napari.Viewer,
    layer: Image | str,
    scale: int | None = None,
    iterations: int | None = None,
    *,
    config: HACBSRConfig | None = None,
    progress: bool = True,
    tile: int | str | None = "auto",
    tile_overlap: int | None = None,
    region: tuple[int, int, int, int] | None = None,
    **config_overrides: Any,
) -> HACBSRWorker:
    """Super-resolve ``layer`` in a background thread, with the widget's live layers.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer holding ``layer``; results are added to it.
    layer : napari.layers.Image or str
        The source layer (or its name). Its data is never modified. One run per layer at a time.
    scale : int, optional
        Upscaling factor (default: ``config.scale``, i.e. 2).
    iterations : int, optional
        Outer iterations. Default: the device's schedule, as in the widget (``HACBSRConfig.for_device``:
        the paper's 300 on a GPU, a short run on a CPU); the live layers refresh every 10 iterations on
        a GPU and every iteration on a CPU unless ``yield_every`` is given.
    config : HACBSRConfig, optional
        Start from this configuration; keyword overrides win.
    progress : bool
        Show a napari progress bar (activity dock).
    tile, tile_overlap : as in ``super_resolve``
        ``"auto"`` tiles only when the frame does not fit the free memory (refused when nothing fits).
    region : (y0, x0, y1, x1), optional
        Run on this LR box of ``layer`` only; the result is placed over exactly that region.
    **config_overrides
        Any ``HACBSRConfig`` field: ``seed=1, device="cpu", encoder="fallback", yield_every=5`` …

    Returns
    -------
    HACBSRWorker
        The running worker. ``worker.quit()`` (or ``worker.stop()``) stops after the current inner
        step and keeps the estimate (``metadata["hacbsr"]["stop_reason"]`` says "stopped by the user");
        ``worker.abort()`` stops without writing a result; ``worker.hacbsr_run`` holds the layers
        (``sr_layer``, ``kernel_layer``), the ``result`` and any ``error``/``message``.

    Raises
    ------
    ValueError
        For a layer HACBSR cannot process (with the reason), an invalid setting, or a layer that
        already has a run going.
    """
    from ..core.config import HACBSRConfig

    source = _layer(viewer, layer)
    changes = dict(config_overrides)
    if scale is not None:
        changes["scale"] = int(scale)
    if iterations is not None:
        changes["iterations"] = int(iterations)
    cfg = (config if config is not None else HACBSRConfig()).replace(**changes)
    return HACBSRRun(
        viewer, source, cfg, progress=progress, tile=tile, tile_overlap=tile_overlap, region=region
    ).start()


def add_result(
    viewer: napari.Viewer,
    source_layer: Image | str,
    result: Result,
    name: str | None = None,
    *,
    region: tuple[int, int, int, int] | None = None,
) -> Image:
    """Add a blocking run's SR image over its source: the widget's placement, contrast and provenance.

    A product's georeference (the source's ``metadata["mission"]``) is carried over for the ×s result, so
    File → Save with the HACBSR writer writes the CRS and the right transform. Pass ``region=(y0, x0, y1,
    x1)`` when the run was on ``layer.data[y0:y1, x0:x1]``: the result is then placed (and georeferenced)
    over that region.
    """
    from ..mission.georef import sr_layer_metadata
    from ..outputs import free_output_names
    from .placement import region_source_metadata, sr_layer_kwargs

    source = _layer(viewer, source_layer)
    scale = int(result.config.scale)
    sampling = result.config.sampling
    origin = (0, 0) if region is None else (int(region[0]), int(region[1]))
    default_name, _ = free_output_names({str(x.name) for x in viewer.layers}, str(source.name), scale)
    style: dict[str, Any] = {"contrast_limits": list(source.contrast_limits), "gamma": float(source.gamma)}
    if not source.rgb:
        style["colormap"] = source.colormap
    georef = sr_layer_metadata(region_source_metadata(source.metadata, origin), scale, sampling)
    return viewer.add_image(
        result.sr,
        name=name or default_name,
        rgb=bool(source.rgb),
        metadata={"hacbsr": {**result.provenance(), "source_layer": str(source.name)}, **georef},
        **style,
        **sr_layer_kwargs(source, scale, sampling, origin),
    )
