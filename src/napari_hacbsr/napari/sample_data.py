"""Sample data: scikit-image's Moon photograph, degraded with the engine's own simulator (offline).

File → Open Sample → HACBSR gives three layers:

* ``moon_x<s>_degraded_sample``: the low-resolution input (blurred with a seeded random anisotropic
  Gaussian and subsampled ``[0::s]``, exactly the engine's forward model); run HACBSR on this;
* ``moon_x<s>_true_kernel``: the kernel that made it, in HR pixels, beside the image under the
  slot where the estimated kernel will appear, so the two can be compared;
* ``moon_x<s>_ground_truth`` (hidden): the HR image, placed where the ×s result will be, for
  checking the reconstruction.

Deterministic (fixed seed); 128×128 low-resolution pixels, so a CPU run stays short.
"""

from __future__ import annotations

from typing import Any

#: HR crop side per scale: 256 at ×2 and 512 (the whole image) at ×4, both giving 128×128 LR pixels
SAMPLE_CROP = {2: 256, 4: 512}


LayerData = list[tuple[Any, dict, str]]


def make_sample_data(scale: int = 2, crop: int | None = None, seed: int | None = None) -> LayerData:
    """LayerDataTuples for the degraded Moon at ×``scale`` (see the module docstring)."""
    from napari.layers import Image

    from ..core.sample import SAMPLE_SEED, moon_sample
    from .placement import kernel_layer_kwargs, sr_layer_kwargs

    seed = SAMPLE_SEED if seed is None else seed

    crop = SAMPLE_CROP.get(scale, 256) if crop is None else crop
    degraded = moon_sample(scale=scale, crop=crop, seed=seed)
    params = {key: (list(value) if isinstance(value, tuple) else value) for key, value in degraded.params.items()}
    name = f"moon_x{scale}"

    probe = Image(degraded.lr)  # the LR layer's default geometry, to place the other two relative to it
    lr_meta = {"hacbsr_sample": {**params, "role": "degraded low-resolution input"}}
    kernel_meta = {"hacbsr_sample": {**params, "role": "ground-truth blur kernel (HR pixels)"}}
    hr_meta = {"hacbsr_sample": {**params, "role": "ground-truth high-resolution image"}}
    return [
        (degraded.lr, {"name": f"{name}_degraded_sample", "colormap": "gray", "metadata": lr_meta}, "image"),
        (
            degraded.kernel,
            {
                "name": f"{name}_true_kernel",
                "colormap": "inferno",
                "metadata": kernel_meta,
                **kernel_layer_kwargs(probe, scale, degraded.kernel.shape, slot=1),
            },
            "image",
        ),
        (
            degraded.hr,
            {
                "name": f"{name}_ground_truth",
                "colormap": "gray",
                "visible": False,
                "metadata": hr_meta,
                **sr_layer_kwargs(probe, scale, degraded.params["sampling"]),
            },
            "image",
        ),
    ]


def moon_x2() -> LayerData:
    """The Moon degraded ×2 (128×128 LR from a centred 256×256 crop)."""
    return make_sample_data(2)


def moon_x4() -> LayerData:
    """The whole Moon degraded ×4 (128×128 LR)."""
    return make_sample_data(4)
