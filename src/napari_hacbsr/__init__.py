"""napari-hacbsr: History-Augmented Contrastive Blind Super-Resolution for planetary images.

Importing this package is cheap: torch, open_clip and Qt load only when an attribute that
needs them is first used (napari imports plugin packages at start-up).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "HACBSRConfig": "napari_hacbsr.core.config",
    "Step": "napari_hacbsr.core.records",
    "Result": "napari_hacbsr.core.records",
    "iterate": "napari_hacbsr.core.engine",
    "validate_image": "napari_hacbsr.core.image",
    "super_resolve": "napari_hacbsr.core.api",
    "estimate_resources": "napari_hacbsr.core.resources",
    "resolve_device": "napari_hacbsr.core.device",
    "simulate": "napari_hacbsr.core.degradation",
    "run_in_viewer": "napari_hacbsr.napari.scripting",
    "add_result": "napari_hacbsr.napari.scripting",
    "batch": "napari_hacbsr.batching",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from .core.records import package_version

        return package_version()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'napari_hacbsr' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
