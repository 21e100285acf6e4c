"""The one table of the methods the benchmarks compare, and the one function that builds their configs.

A method is a named preset of `napari_hacbsr.core.presets` plus field changes, or a baseline that is no
engine run (bicubic); the two known-kernel bounds ("oracle-", `benchmarks.oracle`) are given the true kernel.
Every benchmark builds its configurations through `method_config`, so a name means the same run in quality,
anchor, speed and trajectory. "-ck" / "-cl" mean *without* CKS / the history term
(the paper's ablation names). Settings that lost their experiments are not here: their rows in
benchmarks/results/ stay reproducible at the commit each row records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.core.presets import preset


@dataclass(frozen=True)
class Method:
    """A benchmark method: its table label, and the preset and field changes of its engine run."""

    label: str
    preset: str | None = "default"  # None: a baseline, not an engine run
    changes: Mapping[str, Any] = field(default_factory=dict)
    oracle: str | None = None  # "nonblind" / "dip": given the true kernel (benchmarks.oracle); None: estimates it

    @property
    def engine(self) -> bool:
        return self.preset is not None

    @property
    def mode(self) -> str:
        return str(self.changes.get("mode", "hacbsr"))


# The order is the tables' and figures' order (and picks the figures' colours).
METHODS: dict[str, Method] = {
    "bicubic": Method("Bicubic", None),
    # cubic sampled where the protocol's convention puts the LR pixels (the registered baseline)
    "bicubic-phase": Method("Bicubic (phase-correct)", None),
    "mlmc": Method("MLMC (mode)", changes={"mode": "mlmc"}),
    "hacbsr": Method("HACBSR"),
    "hacbsr-paper": Method("HACBSR (paper preset)", "paper"),
    "hacbsr-noise-free": Method("HACBSR (noise-free preset)", "noise-free"),
    "hacbsr-ck": Method("HACBSR (−CK)", changes={"use_cks": False}),
    "hacbsr-cl": Method("HACBSR (−CL)", changes={"use_history": False}),
    "hacbsr-ck-cl": Method("HACBSR (−CK)(−CL)", changes={"use_cks": False, "use_history": False}),
    # one kernel model at every scale (the default picks MLMC's at ×2, HACBSR's own above)
    "hacbsr-mlmc-kernel": Method("HACBSR (MLMC kernel model)", changes={"kernel_model": "mlmc"}),
    "hacbsr-own-kernel": Method("HACBSR (own kernel model)", changes={"kernel_model": "hacbsr"}),
    # the fast path for whole frames (core.fast_frame): HACBSR's kernel from textured tiles, a non-blind solve
    "hacbsr-fast": Method("HACBSR fast (kernel + non-blind solve)", changes={"reconstruction": "fast"}),
    # the known-kernel bounds: the true kernel in a non-blind solve (no seed), or frozen in the default's run
    "oracle-nonblind": Method("True kernel, non-blind solve", None, oracle="nonblind"),
    "oracle-dip": Method("True kernel, HACBSR image prior", oracle="dip"),
}
# the methods a config alone runs (the oracles need the true kernel: benchmarks.oracle)
ENGINE_METHODS = [name for name, method in METHODS.items() if method.engine and method.oracle is None]


def label(name: str) -> str:
    """The method's table label; a name no longer in the table (an old CSV row) labels itself."""
    method = METHODS.get(name)
    return method.label if method else name


def method_config(name: str, **overrides: Any) -> HACBSRConfig:
    """The configuration of engine method `name`: its preset with its changes, then `overrides`
    (scale, seed, sampling, schedule, device, ...) on top."""
    method = METHODS.get(name)
    if method is None:
        raise ValueError(f"unknown benchmark method {name!r}; known: {', '.join(METHODS)}")
    if not method.engine:
        raise ValueError(f"{name!r} is a baseline, not an engine method")
    # every other method runs the full algorithm whatever size "auto" would weigh (a benchmark names its method)
    return preset(method.preset, **{"reconstruction": "hacbsr", **method.changes, **overrides})


# The paper's Ceres-50 numbers (HACBSR paper Table I and Table III; spec §6.1). These are the
# paper's figures on *its* data set, printed next to ours for reference only.
# (method, scale) -> (PSNR, SSIM, LPIPS or None). Table I gives PSNR/SSIM; Table III adds LPIPS.
PAPER_CERES50: dict[tuple[str, int], tuple[float, float, float | None]] = {
    ("bicubic", 2): (27.80, 0.695, None),
    ("bicubic", 3): (24.32, 0.476, None),
    ("bicubic", 4): (23.76, 0.445, None),
    ("fkp-dip", 2): (29.87, 0.731, None),
    ("fkp-dip", 3): (28.97, 0.675, None),
    ("fkp-dip", 4): (27.90, 0.650, None),
    ("mlmc", 2): (32.07, 0.801, None),
    ("mlmc", 3): (30.60, 0.740, None),
    ("mlmc", 4): (29.40, 0.686, None),
    ("hacbsr", 2): (32.21, 0.816, 0.364),
    ("hacbsr", 3): (30.96, 0.763, 0.442),
    ("hacbsr", 4): (29.87, 0.720, 0.497),  # Table III prints 0.721 SSIM at x4 (spec A28)
    ("hacbsr-ck", 2): (31.99, 0.815, 0.372),
    ("hacbsr-ck", 3): (30.91, 0.762, 0.443),
    ("hacbsr-ck", 4): (29.81, 0.720, 0.500),
    ("hacbsr-cl", 2): (32.21, 0.814, 0.365),
    ("hacbsr-cl", 3): (30.92, 0.762, 0.448),
    ("hacbsr-cl", 4): (29.75, 0.720, 0.526),
    ("hacbsr-ck-cl", 2): (31.99, 0.815, 0.370),
    ("hacbsr-ck-cl", 3): (30.89, 0.762, 0.444),
    ("hacbsr-ck-cl", 4): (29.77, 0.720, 0.499),
}


def paper_cell(method: str, scale: int, with_lpips: bool = False) -> str:
    """The paper's Ceres-50 figure for a table cell ("–" where the paper has none)."""
    vals = PAPER_CERES50.get((method, scale))
    if vals is None:
        return "–"
    psnr, ssim, lp = vals
    cell = f"{psnr:.2f}/{ssim:.3f}"
    if with_lpips and lp is not None:
        cell += f"/{lp:.3f}"
    return cell
