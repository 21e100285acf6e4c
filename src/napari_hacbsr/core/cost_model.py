"""What a run costs, as measured: peak memory and time per HR pixel on each kind of device.

One run's peak memory and time grow with its HR pixel count (the generator's activations and their
gradients dominate); the coefficients below are measured, never guessed:

    peak  = base + bytes_per_hr_px · (H·W of one tile)  [+ frame buffers of a tiled run]
    time  = tiles · (run_fixed_s + N·P · (step_base_s + step_s_per_hr_px · H·W of one tile))

`core.resources` plans tiles and budgets with it; `core.plan` reads the time to choose the reconstruction.
"""

from __future__ import annotations

from typing import Any

from .choices import is_accelerator

#: CPU coefficients, from `OMP_NUM_THREADS=2 python benchmarks/memory.py --sizes 64 128 192 --scale 2`
#: (commit 71daa51 plus the step-timing fix of that script, encoder "fallback", 2 torch threads on the
#: shared 2-core machine). Its least-squares intercepts for time came out slightly negative (−0.75 s per
#: step, −0.59 s fixed) and are clamped to 0: a step cannot take negative time. Cross-check: the 2000²
#: widget run's first 1076² HR tile (1 inner step) took 87 s; this model says 90 s.
CPU_MODEL = {
    "base_bytes": 1.034e9,
    "bytes_per_hr_px": 1.046e4,
    "step_base_s": 0.0,
    "step_s_per_hr_px": 7.794e-05,
    "run_fixed_s": 0.0,
}
#: GPU: memory not calibrated on a GPU (activations are the same fp32 tensors, so the CPU's bytes per pixel
#: are used). Time from the GPU tier on one H200 (38c6b6d, docs/benchmarks.md "GPU tier"): a step is
#: launch-bound at 23 ms up to 512² HR and 60 ms at 1024²; the 1024² ×4 300×5 run took 107 s in all.
GPU_MODEL = {
    "base_bytes": 0.5e9,
    "bytes_per_hr_px": CPU_MODEL["bytes_per_hr_px"],
    "step_base_s": 0.023,
    "step_s_per_hr_px": 3.5e-08,
    "run_fixed_s": 17.0,
}
#: weights of the CLIP ViT-B-32 encoder (151 M fp32 parameters) when the run may load it
CLIP_BYTES = 0.61e9
#: float64 weighted sum + float32/64 fill and result per output channel, plus weights and their total
FRAME_BYTES_PER_HR_PX = 56
#: the fast path's non-blind solve (core.nonblind): seconds per HR pixel and L-BFGS iteration (issue 24's
#: measurement: ~1 s for 300 iterations of a 96² HR anchor crop on one CPU thread), and its bytes per HR pixel
#: of one solve tile (about 40 float32 HR buffers: the iterate, its gradient, 2 × 10 L-BFGS pairs, the
#: line search's and the forward model's temporaries)
NONBLIND_S_PER_HR_PX_ITER = {"cpu": 3.6e-07, "gpu": 1.0e-09}
NONBLIND_BYTES_PER_HR_PX = 160
#: share of the free memory a run may plan to use (the rest: napari, other programs, estimate error)
DEFAULT_BUDGET_FRACTION = 0.6


def _model(device: str) -> dict[str, float]:
    return GPU_MODEL if is_accelerator(device) else CPU_MODEL


def run_peak_bytes(hr_px: int, config: Any, device: str) -> float:
    """Peak memory of one untiled run with `hr_px` HR pixels."""
    model = _model(device)
    peak = model["base_bytes"] + model["bytes_per_hr_px"] * hr_px
    return peak + (CLIP_BYTES if config.encoder in ("auto", "clip") else 0.0)


def run_seconds(hr_px: int, config: Any, device: str) -> float | None:
    """Seconds of one run with `hr_px` HR pixels (None where the device is not calibrated)."""
    model = _model(device)
    if "step_s_per_hr_px" not in model:
        return None
    steps = config.outer_iterations * config.inner_steps
    return model["run_fixed_s"] + steps * (model["step_base_s"] + model["step_s_per_hr_px"] * hr_px)


def nonblind_seconds(hr_px: int, iterations: int, device: str) -> float:
    """Seconds of the fast path's non-blind solve of `hr_px` HR pixels."""
    return NONBLIND_S_PER_HR_PX_ITER["gpu" if is_accelerator(device) else "cpu"] * hr_px * iterations
