"""Ctrl-C in a terminal running `hacbsr batch` on its local cluster (a real process group, real SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from napari_hacbsr.batching.manifest import Manifest
from napari_hacbsr.outputs import output_paths

from ._data import write_images


@pytest.mark.slow
def test_ctrl_c_stops_in_words_and_the_manifest_says_what_out_holds(tmp_path):
    pytest.importorskip("distributed")
    write_images(tmp_path / "in", 3, side=32)
    out = tmp_path / "out"
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    flags = "--workers 1 --iters 30 --inner-steps 2 --kernel-warmup 5 --encoder fallback --device cpu --quiet"
    cmd = [sys.executable, "-m", "napari_hacbsr.cli", "batch", str(tmp_path / "in"), "-o", str(out), *flags.split()]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    start = time.monotonic()
    while not (out / ".hacbsr_tmp").is_dir() and time.monotonic() - start < 180:  # an item is running
        time.sleep(0.2)
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: the batch and its workers
    try:
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "CancelledError" not in stderr
    assert "interrupted; waiting for the running items to stop" in stderr
    records = Manifest.load(out).records
    assert sorted(records) == ["frame0", "frame1", "frame2"]
    for key, record in records.items():  # done <=> published; a stopped item left nothing in OUT
        assert record["status"] in ("done", "cancelled")
        assert output_paths(out, key, 2)["json"].is_file() == (record["status"] == "done"), (key, stdout)
    assert "cancelled" in stdout
