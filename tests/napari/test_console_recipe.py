"""The documented console recipe in a real napari process (issue 28 item 1).

Before the fix, ``super_resolve`` as the first HACBSR call after ``napari.Viewer()`` segfaulted under
software OpenGL (Xvfb): the first torch optimizer imported ``torch._dynamo`` -> ``triton``, whose LLVM
clashed with Mesa's. A subprocess, because the failure is the process dying.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

RECIPE = """
import sys
import numpy as np
import napari

viewer = napari.Viewer(show=False)
layer = viewer.add_image(np.random.default_rng(0).random((20, 20)).astype("float32"), name="frame")
from napari_hacbsr import super_resolve

result = super_resolve(layer.data, 2, iterations=1, inner_steps=1, kernel_warmup=1, encoder="fallback")
assert result.sr.shape == (40, 40), result.sr.shape
print("RECIPE-OK", flush=True)
"""


def test_super_resolve_first_in_a_napari_process_does_not_crash():
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display (pytest-xvfb provides one)")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    env.pop("QT_QPA_PLATFORM", None)  # a real (Xvfb) OpenGL context, as in a scientist's session
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", RECIPE],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"rc {done.returncode}\n{done.stderr[-3000:]}"
    assert "RECIPE-OK" in done.stdout


def test_every_run_loads_the_compiler_stack_through_the_safe_loader(monkeypatch):
    """The fast path's L-BFGS never calls make_adam: resolve_device (every run resolves one) must load it."""
    from napari_hacbsr.core import device

    calls = []
    monkeypatch.setattr(device, "load_compiler_stack_safely", lambda: calls.append("loaded"))
    device.resolve_device("cpu")
    assert calls == ["loaded"]
