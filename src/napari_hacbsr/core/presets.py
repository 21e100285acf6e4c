"""Named configurations: field overrides of `HACBSRConfig`'s defaults, one function to build them."""

from __future__ import annotations

from typing import Any

from .config import HACBSRConfig

# "default" is the engine's own (every None resolved per mode, scale and device: core.plan). "noise-free":
# 1-SSIM for the whole run whatever the noise estimate says, better on noise-free data (the MLMC anchor files)
# and harmful on noisy data. "paper": the engine as first implemented, bit for bit: MLMC's stride sampling,
# the first engine's kernel model (core.kernel_model, "paper"), 1-SSIM for the first 81 of 300, the history
# term in the MSE phase too, no noise gate, all N iterations.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "noise-free": {"ssim_share": 1.0, "noise_gate": False},
    "paper": {
        "sampling": "stride",
        "kernel_model": "paper",
        "ssim_share": 81 / 300,
        "noise_gate": False,
        "history_in_mse": True,
        "convergence_tol": 0.0,
    },
}
PRESET_NAMES = tuple(PRESETS)


def preset(name: str, **changes: Any) -> HACBSRConfig:
    """The named configuration plus `changes` (config fields); a clear ValueError for an unknown name."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {list(PRESET_NAMES)}, got {name!r}")
    return HACBSRConfig.from_dict({**PRESETS[name], **changes})
