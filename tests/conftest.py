import os

import numpy as np
import pytest

from .helpers import TINY

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for model hubs from the tests


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture
def tiny_config():
    from napari_hacbsr.core.config import HACBSRConfig

    return HACBSRConfig(scale=2, **TINY)


@pytest.fixture
def lr_image():
    """A 20×20 LR image (HR 40×40 at ×2) with some structure, float32 in [0, 1]."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:20, 0:20]
    img = 0.5 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 4.0) + 0.05 * rng.standard_normal((20, 20))
    return np.clip(img, 0, 1).astype(np.float32)
