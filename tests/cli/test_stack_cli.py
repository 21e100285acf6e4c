"""`hacbsr run A B C --stack`: one HR image of several frames, the per-frame outputs, and what is refused."""

import csv
import json

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from napari_hacbsr.cli import main
from napari_hacbsr.core import stack
from napari_hacbsr.core.stack_sim import simulate_stack

from .test_cli import TINY_ARGS


@pytest.fixture
def frame_files(tmp_path, monkeypatch):
    monkeypatch.setattr(stack, "ITERATIONS", 4)
    field = ndimage.gaussian_filter(np.random.default_rng(2).standard_normal((140, 140)), 1.2)
    hr = 0.15 + 0.7 * (field - field.min()) / (field.max() - field.min())
    st = simulate_stack(hr, 2, 3, seed=4, noise_sigma=0.01)
    paths = []
    for index, frame in enumerate(st.frames):
        paths.append(tmp_path / f"site_{index}.tif")
        tifffile.imwrite(paths[-1], (frame * 65535).astype(np.uint16))
    return paths, st


def test_a_stack_run_writes_the_first_frames_outputs_and_one_record_per_frame(frame_files, tmp_path, capsys):
    paths, st = frame_files
    out = tmp_path / "out"
    assert main(["run", *map(str, paths), "--stack", "-o", str(out), *TINY_ARGS, "--inner-steps", "1"]) == 0
    sr = tifffile.imread(out / "site_0_HACBSR_x2.tif")
    assert sr.shape == st.hr.shape
    kernels = tifffile.imread(out / "site_0_HACBSR_frame_kernels.tif")
    assert kernels.shape[0] == 3 and np.allclose(kernels.sum(axis=(1, 2)), 1.0, atol=1e-4)
    with open(out / "site_0_HACBSR_frames.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["index"] for r in rows] == ["0", "1", "2"] and all(r["accepted"] == "True" for r in rows)
    assert float(rows[1]["dy"]) == pytest.approx(st.shifts[1][0], abs=0.1)
    record = json.loads((out / "site_0_HACBSR.json").read_text())
    assert record["reconstruction"] == "stack" and len(record["frames"]) == 3
    assert record["source"]["input"] == [str(p) for p in paths]
    printed = capsys.readouterr().out
    assert "frame 2: shift" in printed and "3 of 3 frames used, a kernel from each" in printed
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no private folder left


def test_several_images_without_stack_and_frames_of_two_shapes_are_refused(frame_files, tmp_path, capsys):
    paths, _ = frame_files
    assert main(["run", str(paths[0]), str(paths[1]), "-o", str(tmp_path / "a"), *TINY_ARGS]) == 2
    assert "add --stack" in capsys.readouterr().err
    odd = tmp_path / "odd.tif"
    tifffile.imwrite(odd, np.random.default_rng(0).random((50, 60)).astype(np.float32))
    assert main(["run", str(paths[0]), str(odd), "--stack", "-o", str(tmp_path / "b"), *TINY_ARGS]) == 2
    assert "must have one shape" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
