"""Multi-frame stacks (core.registration, core.stack_solve, core.stack): shifts, photometry, refusals, the
per-frame data term, and the API face."""

import numpy as np
import pytest
from scipy import ndimage

from napari_hacbsr.core import stack
from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.metrics import evaluate_sr
from napari_hacbsr.core.nonblind import reconstruct
from napari_hacbsr.core.registration import register_frames
from napari_hacbsr.core.stack_sim import simulate_stack
from napari_hacbsr.core.stack_solve import place, shifted_kernel, solve_stack

from ..helpers import TINY


def scene(side, seed=0, sigma=1.2):
    field = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((side, side)), sigma)
    return 0.15 + 0.7 * (field - field.min()) / (field.max() - field.min())


def test_shifts_gains_and_offsets_are_recovered():
    st = simulate_stack(scene(200), 2, 5, seed=3, noise_sigma=0.01, photometry=0.15)
    found = register_frames(list(st.frames.astype(np.float64)))
    shifts = np.array([a.shift for a in found])
    assert np.sqrt(np.mean(np.sum((shifts - st.shifts) ** 2, axis=1))) < 0.05  # the target, LR px
    assert all(a.accepted for a in found)
    assert [a.gain for a in found] == pytest.approx(list(st.gains), rel=0.05)
    assert all(0 < a.uncertainty < 0.05 for a in found[1:])  # a standard error, not zero, not huge


def test_another_site_and_reversed_shading_are_refused_with_their_reason():
    st = simulate_stack(scene(160), 2, 2, seed=1, noise_sigma=0.005)
    other = simulate_stack(scene(160, seed=9), 2, 1, seed=2, noise_sigma=0.005).frames[0]
    planes = [*st.frames.astype(np.float64), other, 1.0 - st.frames[0]]
    found = register_frames(planes)
    assert [a.accepted for a in found] == [True, True, False, False]
    assert "another site, or a different illumination" in found[2].reason
    assert "r = -1.00" in found[3].reason


def test_place_moves_a_frame_onto_the_reference_grid_by_whole_pixels():
    y = np.arange(20.0).reshape(1, 4, 5)
    out, obs = place(y, np.ones((4, 5), bool), (1, -2))
    assert out[0, 1, 0] == y[0, 0, 2] and obs[1, 0] and not obs[0].any() and not obs[:, 3:].any()


def test_a_shifted_kernel_keeps_its_mass_and_moves_its_centre():
    k = np.zeros((7, 7), np.float32)
    k[3, 3] = 1.0
    moved = shifted_kernel(ndimage.gaussian_filter(k, 1.0), (0.5, -1.0))
    rows, cols = np.indices(moved.shape)
    centre = moved.shape[0] // 2
    assert moved.sum() == pytest.approx(1.0, abs=1e-6)
    assert (moved * rows).sum() - centre == pytest.approx(0.5, abs=0.05)
    assert (moved * cols).sum() - centre == pytest.approx(-1.0, abs=0.05)


def _solve(st, kernels, iterations=40):
    found = register_frames(list(st.frames.astype(np.float64)))
    frames = [f[None].astype(np.float32) for f in st.frames]
    observed = [np.ones(f.shape, bool) for f in st.frames]
    return solve_stack(frames, observed, kernels, found, 2, sampling="stride", iterations=iterations)


def test_several_frames_beat_one_and_each_frame_needs_its_own_kernel():
    st = simulate_stack(scene(150, seed=4), 2, 4, seed=5, noise_sigma=0.01, photometry=0.1)
    hr, info = _solve(st, list(st.kernels))
    single, _ = reconstruct(st.frames[0], st.kernels[0], 2, sampling="stride", iterations=40)
    assert evaluate_sr(hr[0], st.hr, 2)["psnr_y"] > evaluate_sr(single, st.hr, 2)["psnr_y"] + 0.3
    # each frame's residual sits near the noise it was given: its gain, offset and kernel entered the data term
    assert max(info.lr_rmse) < 0.02 and not info.stopped
    # the reference's kernel for every frame fits the others worse than their own kernels do
    _, shared = _solve(st, [st.kernels[0]] * 4)
    assert np.mean(shared.lr_rmse[1:]) > np.mean(info.lr_rmse[1:])


@pytest.fixture
def short_stack(monkeypatch):
    monkeypatch.setattr(stack, "ITERATIONS", 6)


def test_the_api_super_resolves_a_stack_on_its_first_frame_and_names_a_refused_frame(short_stack):
    st = simulate_stack(scene(140, seed=6), 2, 3, seed=7, noise_sigma=0.01)
    frames = np.concatenate([st.frames, 1.0 - st.frames[:1]])  # frame 3: reversed shading
    frames = np.moveaxis(frames, 0, 2)  # (h, w, T): frame_axis need not be first
    result = super_resolve(frames, 2, frame_axis=2, **TINY)
    assert result.reconstruction == "stack" and result.sr.shape == (st.hr.shape[0], st.hr.shape[1])
    assert [f["accepted"] for f in result.frames] == [True, True, True, False]
    assert "illumination" in result.frames[3]["reason"] and result.frames[3]["weight"] is None
    assert result.frame_kernels.shape[0] == 4 and np.isnan(result.frame_kernels[3]).all()
    assert np.allclose(result.frame_kernels[:3].sum(axis=(1, 2)), 1.0, atol=1e-5)
    assert result.provenance()["frames"][1]["shift"] == pytest.approx(list(st.shifts[1]), abs=0.1)
    assert result.stages[0] == {"stage": "register", "frames": 4, "refused": [3]}


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((40, 40)), {"frame_axis": 0}, "frame_axis 0 is not an axis of this 2-D array"),
        (np.random.default_rng(0).random((1, 40, 40)), {"frame_axis": 0}, "at least two frames"),
        (np.random.default_rng(0).random((2, 40, 40)), {"frame_axis": 0, "reconstruction": "hacbsr"}, "not built"),
        (np.stack([np.zeros((40, 40)), np.random.default_rng(0).random((40, 40))]), {"frame_axis": 0}, "frame 0"),
    ],
)
def test_bad_stacks_are_refused_with_what_to_do(image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        super_resolve(image, 2, **{**TINY, **kwargs})
