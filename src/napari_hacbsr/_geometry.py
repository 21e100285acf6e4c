"""Where HACBSR outputs sit in napari's world coordinates, and which layers the engine accepts.

No Qt and no torch here: only numpy and napari's transform maths, so the rules are unit-testable.

napari maps data to world as ``world = affine(rotate·shear·diag(scale)·data + translate)`` with
pixel *centres* on integer data coordinates. A run's sampling convention (``HACBSRConfig.sampling``,
``core.sampling``) says where LR pixel ``i`` sits on the HR grid: HR position ``s·i + phase``, i.e.
HR pixel ``j`` holds the content of LR data position ``(j - phase)/s``. Overlaying the SR layer on
its source in world space therefore needs

    scale_out     = scale / s                                  (spatial axes)
    translate_out = phys(-phase/s) = translate - rotate·shear·diag(scale)·(phase/s)

which reduces to ``translate + scale·(s - 1)/(2s)`` for an axis-aligned layer under "stride"
(phase -(s-1)/2), ``translate`` under "bicubic" and ``translate - scale·(s - 1)/(2s)`` under "area"
(the HR pixels then tile each LR pixel's footprint exactly). Units, axis labels, rotate, shear and
the extra affine are copied.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core.sampling import kernel_size_for, lr_phase, lr_position_of_hr  # noqa: F401
from .outputs import kernel_name, sr_name

#: gap between the image and the kernel layers, in source (LR) pixels, as a fraction of the width
KERNEL_GAP_FRACTION = 0.03


# ---------------------------------------------------------------------------- sampling model
def hr_offset(scale: int, convention: str) -> float:
    """δ in HR pixels: LR pixel i is centred on HR position s·i - δ under ``convention`` (core.sampling)."""
    return -lr_phase(scale, convention)


# ---------------------------------------------------------------------------- layer structure
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
        return "Select an Image layer first (open an image, or load the sample: File → Open Sample → napari-hacbsr)."
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


# ---------------------------------------------------------------------------- transforms
def _physical(layer: Any):
    """The layer's data → physical transform (scale, translate, rotate, shear; no extra affine)."""
    from napari.utils.transforms import Affine

    return Affine(
        scale=np.asarray(layer.scale, dtype=float),
        translate=np.asarray(layer.translate, dtype=float),
        rotate=np.asarray(layer.rotate, dtype=float),
        shear=np.asarray(layer.shear, dtype=float),
    )


def _copied_frame(layer: Any) -> dict[str, Any]:
    """Rotate/shear/affine/units/axis labels to copy from the source (public attributes only)."""
    out: dict[str, Any] = {
        "rotate": np.array(layer.rotate, dtype=float),
        "shear": np.array(layer.shear, dtype=float),
        "affine": np.array(layer.affine.affine_matrix, dtype=float),
    }
    for attr in ("units", "axis_labels"):  # napari >= 0.6
        value = getattr(layer, attr, None)
        if value is not None:
            out[attr] = tuple(value)
    return out


def _check_2d(layer: Any) -> None:
    if int(layer.ndim) != 2:
        raise ValueError(f"expected a 2-D (grey or RGB) layer, got ndim={layer.ndim}")


def sr_layer_kwargs(layer: Any, scale: int, convention: str) -> dict[str, Any]:
    """Geometry keyword arguments for ``viewer.add_image`` of the ×``scale`` result of ``layer``,
    computed under the run's sampling ``convention``."""
    _check_2d(layer)
    s = int(scale)
    src_scale = np.asarray(layer.scale, dtype=float)
    shift = np.full(2, hr_offset(s, convention) / s)  # LR data position of HR pixel (0, 0)
    return {
        "scale": src_scale / s,
        "translate": np.asarray(_physical(layer)(shift), dtype=float),
        **_copied_frame(layer),
    }


def kernel_layer_kwargs(
    layer: Any, scale: int, kernel_shape: tuple[int, int] | None = None, slot: int = 0
) -> dict[str, Any]:
    """Geometry for a kernel layer shown beside (to the right of) ``layer``'s image, in HR pixels.

    Kernel pixels get the SR layer's pixel size (source scale / s), so the kernel can be compared
    with the SR image at true size. Its top-left corner sits a small gap right of the source's
    right edge, top-aligned; ``slot`` 1, 2, ... stacks further kernels below (e.g. the sample's
    ground-truth kernel under the estimated one).
    """
    _check_2d(layer)
    s = int(scale)
    size = kernel_size_for(s)
    k_rows, k_cols = kernel_shape if kernel_shape is not None else (size, size)
    rows, cols = spatial_shape(layer)
    gap = max(1.0, KERNEL_GAP_FRACTION * cols)
    half = 0.5 / s  # half an HR pixel, in LR pixels
    top = -0.5 + half + slot * (k_rows / s + gap)
    left = cols - 0.5 + gap + half
    src_scale = np.asarray(layer.scale, dtype=float)
    return {
        "scale": src_scale / s,
        "translate": np.asarray(_physical(layer)(np.array([top, left])), dtype=float),
        **_copied_frame(layer),
    }


def output_names(existing: set[str] | list[str], source: str, scale: int) -> tuple[str, str]:
    """(sr_name, kernel_name) for a new run: ``<source>_HACBSR_x<s>`` / ``<source>_HACBSR_kernel``.

    When either name is taken (an earlier run), both get the first free numbered suffix
    ``_2``, ``_3``, ... so earlier results are never overwritten.
    """
    taken = set(existing)
    base_sr, base_k = sr_name(source, scale), kernel_name(source)
    if base_sr not in taken and base_k not in taken:
        return base_sr, base_k
    n = 2
    while f"{base_sr}_{n}" in taken or f"{base_k}_{n}" in taken:
        n += 1
    return f"{base_sr}_{n}", f"{base_k}_{n}"
