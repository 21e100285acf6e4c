"""The bundled sample: degraded Moon + true kernel (+ hidden ground truth), offline and seeded."""

from __future__ import annotations

import numpy as np

from napari_hacbsr.core.config import kernel_size_for
from napari_hacbsr.core.sampling import hr_position_of_lr
from napari_hacbsr.napari.sample_data import make_sample_data


def test_sample_layers_are_deterministic_and_named():
    first = make_sample_data(2)
    lr, kernel, hr = first
    assert lr[0].shape == (128, 128) and lr[0].dtype == np.float32
    assert lr[1]["name"] == "moon_x2_degraded_sample"
    assert kernel[1]["name"] == "moon_x2_true_kernel"
    assert kernel[0].shape == (kernel_size_for(2),) * 2
    np.testing.assert_allclose(kernel[0].sum(), 1.0, rtol=1e-5)
    assert hr[0].shape == (256, 256) and hr[1]["visible"] is False
    assert lr[1]["metadata"]["hacbsr_sample"]["seed"] == 0
    again = make_sample_data(2)
    np.testing.assert_array_equal(again[0][0], lr[0])
    np.testing.assert_array_equal(again[1][0], kernel[0])


def test_sample_opens_in_viewer(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    viewer.open_sample("napari-hacbsr", "moon_x2")
    names = [layer.name for layer in viewer.layers]
    assert names == ["moon_x2_degraded_sample", "moon_x2_true_kernel", "moon_x2_ground_truth"]
    lr, kernel, hr = (viewer.layers[n] for n in names)
    assert kernel.colormap.name == "inferno"
    # ground truth sits exactly where a ×2 result of the LR layer will be (the sample is the stride protocol)
    assert lr.metadata["hacbsr_sample"]["sampling"] == "stride"
    for i in [(0, 0), (40, 77)]:
        i = np.asarray(i, dtype=float)
        np.testing.assert_allclose(hr.data_to_world(hr_position_of_lr(i, 2)), lr.data_to_world(i))
    # the true kernel sits right of the image (not on top of it)
    assert kernel.data_to_world((0, 0))[1] > lr.data_to_world((0, 127.5))[1]
