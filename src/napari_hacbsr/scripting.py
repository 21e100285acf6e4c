"""Console and script helpers for napari (``viewer`` in scope).

>>> from napari_hacbsr import run_in_viewer
>>> worker = run_in_viewer(viewer, viewer.layers["img"], scale=2, iterations=50)
>>> worker.quit()          # stop early; the current estimate becomes the result

The blocking, napari-free call is ``napari_hacbsr.super_resolve(layer.data, scale=2)``.
"""

from __future__ import annotations

from typing import Any

from ._worker import HACBSRRun, HACBSRWorker, default_iterations, default_live_every, device_info

__all__ = ["run_in_viewer"]


def run_in_viewer(
    viewer: Any,
    layer: Any,
    scale: int | None = None,
    iterations: int | None = None,
    *,
    config: Any = None,
    progress: bool = True,
    **config_overrides: Any,
) -> HACBSRWorker:
    """Super-resolve ``layer`` in a background thread, with the widget's live layers.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer holding ``layer``; results are added to it.
    layer : napari.layers.Image or str
        The source layer (or its name). Its data is never modified.
    scale : int, optional
        Upscaling factor (default: ``config.scale``, i.e. 2).
    iterations : int, optional
        Outer iterations. Default: the paper's 300 (HACBSR) / 200 (MLMC) on a GPU, 30 on CPU.
        The live layers refresh every 10 iterations on a GPU and every iteration on CPU unless
        ``yield_every`` is given.
    config : HACBSRConfig, optional
        Start from this configuration; keyword overrides win.
    progress : bool
        Show a napari progress bar (activity dock).
    **config_overrides
        Any ``HACBSRConfig`` field: ``seed=1, device="cpu", encoder="fallback", yield_every=5`` …

    Returns
    -------
    HACBSRWorker
        The running worker. ``worker.quit()`` (or ``worker.stop()``) stops after the current inner
        step and keeps the estimate; ``worker.abort()`` stops without writing a result;
        ``worker.hacbsr_run`` holds the layers (``sr_layer``, ``kernel_layer``), the ``result``
        and any ``error``/``message``; ``worker.finished`` / ``worker.returned`` are Qt signals.

    Raises
    ------
    ValueError
        For a layer HACBSR cannot process (with the reason) or an invalid setting.
    """
    from .core.config import HACBSRConfig

    if isinstance(layer, str):
        names = [str(x.name) for x in viewer.layers]
        if layer not in names:
            raise ValueError(f"no layer named {layer!r} in this viewer; layers: {names}")
        layer = viewer.layers[layer]
    cfg = config if config is not None else HACBSRConfig()
    changes = dict(config_overrides)
    if scale is not None:
        changes["scale"] = int(scale)
    if iterations is not None:
        changes["iterations"] = int(iterations)
    cfg = cfg.replace(**changes) if changes else cfg.replace()
    device, _ = device_info(cfg.device)
    if cfg.iterations is None:
        cfg = cfg.replace(iterations=default_iterations(device, cfg.mode))
    if "yield_every" not in config_overrides and config is None:
        cfg = cfg.replace(yield_every=default_live_every(device))
    run = HACBSRRun(viewer, layer, cfg, progress=progress)
    return run.start()
