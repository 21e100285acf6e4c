"""The degraded LR sets on disk: each HR image degraded once per (protocol, crop, noise, scale, seed).

Every method and every run (quality's tiers, noise_level's estimates, the report's figures) reads the same
file, so methods are compared on the identical LR image. A set is `<cache_dir>/<protocol>_<crop>_<noise>_<q>/
x<scale>_seed<seed>/<stem>.npz` (LR, HR, true kernel) with `<stem>.json` (the degradation's parameters) and
`<stem>_lr.png` for a look; the folder names are those of earlier versions, so their caches stay valid.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _common as C


@dataclass(frozen=True)
class LRCache:
    """The settings that make an LR set, and the folder its files live in."""

    cache_dir: Path
    protocol: str = "bicubic"
    crop: int = 0  # centre crop of the HR, px (0: the full image)
    noise_max: float = 0.0  # additive noise sigma ~ U(0, noise_max), [0, 1] units
    kernel_noise: float = 0.0
    quantize: bool = True  # floor the LR to 8 bits

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LRCache:
        return cls(
            Path(args.cache_dir),
            args.protocol,
            int(args.crop or 0),
            float(args.noise_max),
            float(args.kernel_noise),
            bool(args.quantize),
        )

    def folder(self, scale: int, seed: int) -> Path:
        noise = f"nmax{self.noise_max:.5f}_knoise{self.kernel_noise:.3f}"
        crop = f"crop{self.crop}" if self.crop else "full"
        q = "q8" if self.quantize else "float"
        return self.cache_dir / f"{self.protocol}_{crop}_{noise}_{q}" / f"x{scale}_seed{seed}"

    def pair(self, path: Path, scale: int, seed: int) -> dict[str, Any]:
        """The degraded pair of HR image `path` ("lr", "hr", "kernel", "params"), built on first use."""
        key = self.folder(scale, seed)
        npz, meta = key / f"{path.stem}.npz", key / f"{path.stem}.json"
        if npz.is_file() and meta.is_file():
            with np.load(npz) as data:
                arrays = {k: data[k] for k in ("lr", "hr", "kernel")}
            return {**arrays, "params": json.loads(meta.read_text())}

        from napari_hacbsr.core.degradation import centre_crop, simulate

        hr_full = C.load_gray01(path)
        hr = centre_crop(hr_full, self.crop)
        dseed = C.derived_seed(path.stem, scale, seed)
        deg = simulate(
            hr,
            scale,
            protocol=self.protocol,
            noise_max=self.noise_max,
            kernel_noise=self.kernel_noise,
            seed=dseed,
            quantize=self.quantize,
        )
        params = {
            **deg.params,
            "source": path.name,
            "source_shape": list(hr_full.shape),
            "crop": self.crop,
            "bench_seed": seed,
            "derived_seed": dseed,
            "derived_seed_rule": "crc32('<stem>|x<scale>|<seed>') & 0x7fffffff",
        }
        key.mkdir(parents=True, exist_ok=True)
        tmp = npz.with_suffix(".tmp.npz")  # (written whole, then renamed: a crash leaves no half file)
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, lr=deg.lr, hr=deg.hr, kernel=deg.kernel)
        os.replace(tmp, npz)
        C.save_png01(key / f"{path.stem}_lr.png", deg.lr)
        C.write_json(meta, params)
        return {"lr": deg.lr, "hr": deg.hr, "kernel": deg.kernel, "params": params}
