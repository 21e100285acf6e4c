"""CUDA path checks; skipped where no GPU is present (CI has none)."""

import numpy as np
import pytest
import torch

from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.errors import OutOfMemoryError

from ..helpers import TINY

pytestmark = pytest.mark.gpu
GPU = {**TINY, "device": "cuda"}


def test_cuda_run_matches_shapes_and_reports_the_gpu(lr_image):
    result = super_resolve(lr_image, 2, **GPU)
    assert result.device.startswith("cuda") and "CPU" not in result.device_name
    assert result.sr.shape == (40, 40) and np.isfinite(result.sr).all()


def test_cuda_same_seed_is_close(lr_image):
    a = super_resolve(lr_image, 2, **GPU)
    b = super_resolve(lr_image, 2, **GPU)
    assert np.allclose(a.sr, b.sr, atol=1e-3)


def test_bf16_autocast_runs(lr_image):
    result = super_resolve(lr_image, 2, **{**GPU, "precision": "bf16"})
    assert result.sr.dtype == np.float32 and np.isfinite(result.sr).all()


def test_real_out_of_memory_then_recovery(lr_image):
    free, _ = torch.cuda.mem_get_info()
    side = int((free / 4 / 3 / 40) ** 0.5)  # activations of ~40 HR images of this size overflow the card
    huge = np.random.default_rng(0).random((side // 2, side // 2)).astype(np.float32)
    with pytest.raises(OutOfMemoryError, match="smaller crop"):
        super_resolve(huge, 2, **{**GPU, "iterations": 1})
    assert super_resolve(lr_image, 2, **{**GPU, "iterations": 1}).iterations_done == 1
