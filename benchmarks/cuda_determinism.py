"""How far two same-seed CUDA runs drift apart, and which torch switches close the gap.

    CUBLAS_WORKSPACE_CONFIG=:4096:8 python -m benchmarks.cuda_determinism [--iterations 20] [--side 48]

Runs the same LR image twice per setting (seed 0) and prints max |SR_a - SR_b| and the kernel's:
"default" (torch's defaults), "cudnn" (cudnn.deterministic, no autotuning) and "all"
(torch.use_deterministic_algorithms(True); an op with no deterministic CUDA kernel is named). Every
switch is restored after its row. Then a real CUDA out-of-memory: the allocator is capped with
set_per_process_memory_fraction so a modest image overflows it, and a normal run follows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from napari_hacbsr.core.api import super_resolve
from napari_hacbsr.core.errors import OutOfMemoryError

DEV = "cuda" if torch.cuda.is_available() else "cpu"  # (cpu: a dry run of the script)


def lr_image(side: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:side, 0:side]
    img = 0.5 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 4.0) + 0.05 * rng.standard_normal((side, side))
    return np.clip(img, 0, 1).astype(np.float32)


def pair(img: np.ndarray, kw: dict) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    a = super_resolve(img, 2, **kw)
    b = super_resolve(img, 2, **kw)
    return float(np.abs(a.sr - b.sr).max()), float(np.abs(a.kernel - b.kernel).max()), time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cuda_determinism")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--side", type=int, default=48)
    args = p.parse_args()
    img = lr_image(args.side)
    kw = {"device": DEV, "iterations": args.iterations, "inner_steps": 5, "kernel_warmup": 20}
    where = torch.cuda.get_device_name(0) if DEV == "cuda" else DEV
    print(f"torch {torch.__version__}, {where}, LR {args.side}², x2, {args.iterations}x5")
    print("| setting | max abs SR diff | max abs kernel diff | two runs (s) |\n|---|---|---|---|")
    for name in ("default", "cudnn", "all"):
        saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
        try:
            if name in ("cudnn", "all"):
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
            if name == "all":
                torch.use_deterministic_algorithms(True)
            d_sr, d_k, secs = pair(img, kw)
            print(f"| {name} | {d_sr:.3g} | {d_k:.3g} | {secs:.1f} |")
        except RuntimeError as exc:
            print(f"| {name} | error: {str(exc).splitlines()[0][:160]} | | |")
        finally:
            torch.use_deterministic_algorithms(False)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved
    if DEV != "cuda":
        return
    torch.cuda.set_per_process_memory_fraction(0.01)  # ~1.4 GiB of an H200
    try:
        super_resolve(lr_image(1024), 2, device="cuda", iterations=1, inner_steps=1, kernel_warmup=1)
        print("out-of-memory: no error (the cap did not bite)")
    except OutOfMemoryError as exc:
        print(f"out-of-memory: OutOfMemoryError: {str(exc)[:200]}")
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    after = super_resolve(img, 2, device="cuda", iterations=1, inner_steps=1, kernel_warmup=1)
    print(f"after the error: a run finished {after.iterations_done} iteration(s)")


if __name__ == "__main__":
    main()
