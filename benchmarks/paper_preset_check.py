#!/usr/bin/env python
"""Check that `HACBSRConfig.preset("paper")` reproduces the engine as it was before issue 8, bit for bit.

    mkdir -p /tmp/old && git archive 6fd3ab2 src | tar -x -C /tmp/old
    python benchmarks/paper_preset_check.py /tmp/old/src /tmp/old_hacbsr.npy hacbsr
    python benchmarks/paper_preset_check.py src /tmp/new_hacbsr.npy hacbsr
    python -c "import numpy as n; print(n.array_equal(n.load('/tmp/old_hacbsr.npy'), n.load('/tmp/new_hacbsr.npy')))"

Runs a short schedule (3 × 5, warm-up 20, seed 0, CPU, one thread) on the anchor's Ceres ×4 LR with the
source tree given as argv[1] (its own defaults when it has no presets) and saves SR and kernel to argv[2].
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch


def main(src: str, out: str, mode: str) -> None:
    torch.set_num_threads(1)
    sys.path.insert(0, src)
    from PIL import Image

    from napari_hacbsr.core.api import super_resolve
    from napari_hacbsr.core.config import HACBSRConfig

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from anchor import DEFAULT_DIR

    with Image.open(DEFAULT_DIR / "stride_x4" / "lr" / "ceres_dawnfc_ceres1k_0001.png") as im:
        lr = np.asarray(im)[..., 0] / 255.0
    # ssim_phase explicit: engines before the house issue kept a fixed 81 whatever N, later ones the share of N
    kw = dict(
        mode=mode, scale=4, encoder="fallback", device="cpu", iterations=3, kernel_warmup=20, seed=0, ssim_phase=1
    )
    cfg = HACBSRConfig.preset("paper", **kw) if hasattr(HACBSRConfig, "preset") else HACBSRConfig(**kw)
    result = super_resolve(lr, 4, config=cfg, progress=False)
    np.save(out, np.concatenate([result.sr.ravel(), result.kernel.ravel()]))
    print(f"{src}: SR mean {result.sr.mean():.10f}, kernel max {result.kernel.max():.10f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
