"""Shared test constants (imported by tests; conftest.py only holds fixtures and hooks)."""


def drain(gen):
    """All the Steps a generator yields, and the value it returns."""
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as done:
            return steps, done.value


# A tiny, fast schedule for end-to-end tests on 2 CPU cores.
TINY = {
    "iterations": 3,
    "kernel_warmup": 5,
    "encoder": "fallback",
    "device": "cpu",
    "ssim_share": 1 / 3,
    "noise_gate": False,
}


def made_result(sr, config, kernel=None, **fields):
    """A Result built by hand (no engine run), for tests of what is done with one."""
    import numpy as np

    from napari_hacbsr.core.image import Normalization
    from napari_hacbsr.core.plan import RunPlan, resolve
    from napari_hacbsr.core.records import Result

    values = {
        "kernel": np.full((11, 11), 1 / 121, np.float32) if kernel is None else kernel,
        "device": "cpu",
        "device_name": "CPU — no GPU found",
        "encoder": "fallback:pixels-224",
        "encoder_note": "",
        "iterations_done": 1,
        "stopped_early": False,
        "timings": {"total": 0.02},
        "normalization": Normalization(0.0, 1.0, "float32", "float32"),
        "missing_pixels": 0,
        "channel_axis": None,
        **fields,
    }
    plan = config if isinstance(config, RunPlan) else resolve(config, "cpu")
    return Result(sr=sr, plan=plan, **values)
