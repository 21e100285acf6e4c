"""Check that the "paper" preset reproduces the first engine (commit 6fd3ab2) bit for bit.

    python -m benchmarks.paper_preset_check                      # 6fd3ab2 against this checkout, HACBSR mode
    python -m benchmarks.paper_preset_check --mode mlmc --commit 6fd3ab2

Exports the old commit's src/ with `git archive` into a temporary folder, then runs one short schedule
(3 × 5, warm-up 20, seed 0, CPU, one thread) on the anchor's Ceres ×4 LR twice, each time in a fresh
process whose PYTHONPATH puts one source tree first (the process checks that `napari_hacbsr` came from that
tree), and compares SR and kernel to the last bit. Exit status 0: identical; 1: they differ.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .paths import ANCHOR_DIR, REPO_ROOT  # (paths imports no engine module: the child may run an old tree)

FIRST_ENGINE = "6fd3ab2"
LR_FILE = ANCHOR_DIR / "stride_x4" / "lr" / "ceres_dawnfc_ceres1k_0001.png"


def paper_config(**kw):
    """The paper preset in whichever API the imported tree has; the first engine is its own paper model."""
    from napari_hacbsr.core.config import HACBSRConfig

    try:
        from napari_hacbsr.core.presets import preset
    except ImportError:  # (trees before the RunPlan change: the classmethod; the first engine: no presets)
        if not hasattr(HACBSRConfig, "preset"):
            # the first engine fitted 1-SSIM for a fixed 81 iterations whatever N; 1 of 3 is the paper's share
            return HACBSRConfig(**kw, ssim_phase=1)
        preset = HACBSRConfig.preset
    return preset("paper", **kw)  # (its 1-SSIM share 81/300 of N = 3 is 1 iteration)


def child(tree: str, out: str, mode: str) -> None:
    """Runs in a fresh process with `tree` first on PYTHONPATH; saves SR and kernel, flattened, to `out`."""
    import torch

    import napari_hacbsr
    from napari_hacbsr.core.api import super_resolve

    if not Path(napari_hacbsr.__file__).resolve().is_relative_to(Path(tree).resolve()):
        raise SystemExit(f"napari_hacbsr came from {napari_hacbsr.__file__}, not from {tree}")
    from PIL import Image

    torch.set_num_threads(1)
    with Image.open(LR_FILE) as im:
        lr = np.asarray(im)[..., 0] / 255.0
    kw = {
        "mode": mode,
        "scale": 4,
        "encoder": "fallback",
        "device": "cpu",
        "iterations": 3,
        "kernel_warmup": 20,
        "seed": 0,
    }
    result = super_resolve(lr, 4, config=paper_config(**kw), progress=False)
    np.save(out, np.concatenate([result.sr.ravel(), result.kernel.ravel()]))
    print(f"{tree}: SR mean {result.sr.mean():.10f}, kernel max {result.kernel.max():.10f}", flush=True)


def run_tree(tree: Path, out: Path, mode: str) -> np.ndarray:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO_ROOT}", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "benchmarks.paper_preset_check", "--child", str(tree), str(out), mode]
    subprocess.run(cmd, check=True, env=env, cwd=REPO_ROOT)
    return np.load(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.paper_preset_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--commit", default=FIRST_ENGINE, help="the engine the preset must reproduce")
    p.add_argument("--mode", choices=["hacbsr", "mlmc"], default="hacbsr")
    p.add_argument("--child", nargs=3, metavar=("TREE", "OUT", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if not LR_FILE.is_file():
        print(f"anchor LR not found: {LR_FILE} (set HACBSR_ANCHOR_DIR)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hacbsr-paper-check-") as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", args.commit, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        first = run_tree(old / "src", Path(tmp) / "old.npy", args.mode)
        now = run_tree(REPO_ROOT / "src", Path(tmp) / "now.npy", args.mode)
    same = first.shape == now.shape and np.array_equal(first, now)
    diff = float(np.abs(first - now).max()) if first.shape == now.shape else float("nan")
    print(f"paper preset ({args.mode}) vs {args.commit}: bit for bit {same} (max |difference| {diff:.3g})")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
