"""Which napari layers HACBSR accepts, and how their data maps to the engine's input.

No Qt and no torch at import: numpy and napari's layer classes only, so the rules are unit-testable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from napari.layers import Image


def unwrap(obj: Any) -> Any:
    """The object behind napari's PublicOnlyProxy (plugin widgets receive proxies)."""
    return getattr(obj, "__wrapped__", obj)


def spatial_shape(layer: Any) -> tuple[int, int]:
    """(rows, columns) of a 2-D grey or RGB(A) Image layer."""
    shape = tuple(np.shape(layer.data))
    return tuple(shape[-3:-1]) if getattr(layer, "rgb", False) else tuple(shape[-2:])  # type: ignore[return-value]


def channel_axis_for(layer: Any) -> int | None:
    """The engine's ``channel_axis`` for this layer: -1 for RGB(A), None for grey."""
    return -1 if getattr(layer, "rgb", False) else None


def layer_problem(layer: Any) -> str | None:
    """Why HACBSR cannot run on ``layer`` (a sentence for the user), or None when it can.

    Covers the structural cases (no layer, non-Image layers, pyramids, stacks, RGB(A) layouts);
    size, NaN and constant-image checks are the engine's ``validate_image``.
    """
    if layer is None:
        return "Select an Image layer first (open an image, or load the sample: File → Open Sample → HACBSR)."
    from napari.layers import Image

    name = getattr(layer, "name", "?")
    kind = layer.__class__.__name__  # (napari's PublicOnlyProxy forwards __class__)
    if not isinstance(layer, Image):
        return f"'{name}' is a {kind} layer; HACBSR super-resolves Image layers only (a 2-D grey or RGB image)."
    if getattr(layer, "multiscale", False):
        return (
            f"'{name}' is a multiscale image (a pyramid); HACBSR needs one single-resolution 2-D "
            f"image. Crop a region of the finest level and add it as a normal layer, e.g. "
            f"viewer.add_image(viewer.layers['{name}'].data[0][:512, :512])."
        )
    shape = tuple(np.shape(layer.data))
    dtype = getattr(layer.data, "dtype", None)
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(layer.data).dtype
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        return f"'{name}' has data type {dtype}; HACBSR needs numeric pixel values."
    if getattr(layer, "rgb", False):
        if len(shape) != 3:
            return (
                f"'{name}' is an RGB stack of shape {shape}; HACBSR handles one 2-D RGB image "
                f"(rows, columns, 3 or 4). Add a single frame as its own layer."
            )
        if shape[-1] not in (3, 4):  # napari only marks 3/4 channels as rgb; be explicit anyway
            return f"'{name}' has {shape[-1]} colour channels; RGB layers need 3 (RGB) or 4 (RGBA)."
        return None
    if len(shape) < 2:
        return f"'{name}' is {len(shape)}-D; HACBSR needs a 2-D image."
    if len(shape) == 3 and shape[-1] in (3, 4):
        return (
            f"'{name}' has shape {shape} but napari does not display it as RGB, so its last axis "
            f"is not treated as colour channels. If it is a colour image, add it again with "
            f"viewer.add_image(data, rgb=True); otherwise pick a single 2-D plane."
        )
    if len(shape) > 2:
        return (
            f"'{name}' is a {len(shape)}-D stack of shape {shape} with no channel axis; HACBSR "
            f"super-resolves one 2-D image (grey or RGB). Add one plane as its own layer, e.g. "
            f"viewer.add_image(viewer.layers['{name}'].data[0])."
        )
    return None


def image_problem(layer: Image, scale: int) -> str | None:
    """Everything that stops a run on ``layer`` at ×``scale``, checked when the layer is selected.

    The structural checks above, then the engine's own input rules (size, dtype, constant, all
    missing) on the layer's data, without copying it.
    """
    problem = layer_problem(layer)
    if problem:
        return problem
    from ..core.image import inspect_image

    try:
        inspect_image(layer.data, scale, channel_axis_for(layer))
    except ValueError as exc:
        return f"'{layer.name}': {exc}"
    return None


def declared_sampling(layer: Image) -> str | None:
    """The sampling convention a layer says its data were made with (the bundled samples do), or None."""
    from ..core.sampling import SAMPLING_CONVENTIONS

    metadata = getattr(layer, "metadata", None) or {}
    declared = (metadata.get("hacbsr_sample") or {}).get("sampling")
    return declared if declared in SAMPLING_CONVENTIONS else None
