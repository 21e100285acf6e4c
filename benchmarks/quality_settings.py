"""The quality benchmark's settings: its tiers (presets), command line, schedule and resume check.

`benchmarks.quality` runs what these settings describe and `benchmarks.quality_report` reads back what
it wrote; both import this module, neither imports the other.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from napari_hacbsr.core.config import ENCODERS, PRECISIONS

from . import _common as C
from .lr_cache import LRCache
from .methods import METHODS

# ---------------------------------------------------------------------------- presets
# cpu: small centre crops and a reduced schedule (fraction of the paper's N; MLMC keeps its 2/3
#      ratio to HACBSR, the SSIM phase shrinks with it) so the whole tier fits a 2-core CPU in about an hour
#      (an estimate from measured step costs; docs/benchmarks.md).
# paper: full images, the paper's schedule (HACBSR 300x5, MLMC 200x5), CUDA.
# CPU tier images (used when --hr-dir is the default folder and --images is not given): one per
# body, Ceres first (the paper's body), chosen for textured 96-px centre crops (no blank sky).
CPU_IMAGES = [
    "ceres_dawnfc_ceres1k_0001",
    "moon_lrocnac_M115143943RE_cal_echo_2_2",
    "europa_galileossi_11ESREGMAP01_y2336x0896",
    "mars_hrsc_nanedi_y0932x0000",
]
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {
        "crop": 96,
        "limit": None,
        "schedule_fraction": 0.2,
        "device": "cpu",
        "seeds": [0],
        "scales": [2, 3, 4],
        "images": CPU_IMAGES,
    },
    "paper": {
        "crop": 0,
        "limit": None,
        "schedule_fraction": 1.0,
        "device": "cuda",
        "seeds": [0],
        "scales": [2, 3, 4],
        "images": None,
    },
}
DEFAULT_METHODS = ["bicubic", "bicubic-phase", "mlmc", "hacbsr", "hacbsr-ck", "hacbsr-cl", "hacbsr-ck-cl"]
DEFAULT_NOISE_MAX = 10.0 / 255.0  # MLMC paper's lower noise level (3.92 %); sigma ~ U(0, noise_max)

CSV_FIELDS = [
    "image",
    "body",
    "scale",
    "method",
    "seed",
    "protocol",
    "crop",
    "hr_h",
    "hr_w",
    "psnr_y",
    "ssim_y",
    "psnr_gray",
    "ssim_gray",
    "kernel_psnr",
    "lpips",
    "wall_s",
    "peak_mem_mb",
    "mem_kind",
    "device",
    "encoder",
    "iterations",
    "inner_steps",
    "precision",
    "lr_consistency",
    "preset",
    "git_commit",
    "finished_at",
]
# Settings that change the numbers: resuming into a CSV made with different ones is refused.
ESSENTIAL = (
    "protocol",
    "noise_max",
    "kernel_noise",
    "quantize",
    "crop",
    "schedule_fraction",
    "iterations",
    "inner_steps",
    "kernel_warmup",
    "encoder",
    "precision",
)


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.quality",
        description="HACBSR quality benchmark (paper Table I/III protocol). Values left unset come from --preset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="cpu",
        help="cpu: 4 images, crop 96, 20%% schedule (HACBSR 60x5, MLMC 40x5), CPU; "
        "paper: all images, full size, 300x5 / 200x5, CUDA",
    )
    p.add_argument("--hr-dir", type=Path, default=C.DEFAULT_HR_DIR, help="folder of HR images")
    p.add_argument("--images", nargs="+", default=None, help="only these file names/stems")
    p.add_argument(
        "--select",
        choices=["spread", "sorted"],
        default="spread",
        help="image order: round-robin over bodies (Ceres first) or file-name order",
    )
    p.add_argument("--limit", type=int, default=None, help="first N images (0 = all; preset default)")
    p.add_argument("--crop", type=int, default=None, help="centre crop of the HR, px (0 = full image)")
    p.add_argument("--scales", type=int, nargs="+", default=None)
    p.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=list(METHODS))
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds: each seed gives its own LR set (kernel, noise) and engine seed",
    )
    p.add_argument(
        "--protocol",
        choices=["bicubic", "stride"],
        default="bicubic",
        help="bicubic: spec §1.3 Ceres-50 reconstruction; stride: spec §1.1 MLMC/FKP",
    )
    p.add_argument(
        "--noise-max",
        type=float,
        default=DEFAULT_NOISE_MAX,
        help="additive noise sigma ~ U(0, noise_max) per image, [0,1] units",
    )
    p.add_argument(
        "--kernel-noise",
        type=float,
        default=0.0,
        help="multiplicative kernel noise U[-n, n] per kernel pixel (FKP noise_ker)",
    )
    p.add_argument(
        "--no-quantize",
        dest="quantize",
        action="store_false",
        help="keep the LR in float instead of flooring it to 8 bits",
    )
    p.add_argument(
        "--schedule-fraction",
        type=float,
        default=None,
        help="outer iterations = round(fraction x paper N) (HACBSR 300, MLMC 200)",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="outer iterations for every engine method (overrides --schedule-fraction)",
    )
    p.add_argument("--inner-steps", type=int, default=5)
    p.add_argument("--kernel-warmup", type=int, default=None, help="kernel warm-up steps (default 200)")
    p.add_argument("--encoder", choices=ENCODERS, default="auto")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N | auto (preset default)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=None, help="default bench_out/quality/<preset>")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="LR cache (default bench_out/lr_cache); keyed by protocol/noise/crop/scale/seed",
    )
    p.add_argument(
        "--no-save-images",
        dest="save_images",
        action="store_false",
        help="do not keep SR PNGs / kernels (the visual grid needs them)",
    )
    p.add_argument("--report-only", action="store_true", help="only rebuild tables and figures")
    p.add_argument("--overwrite", action="store_true", help="discard an existing CSV made with different settings")
    p.add_argument(
        "--diagnostics",
        action="store_true",
        help="add the bias / shift diagnostics table to the report (reads the SR PNGs)",
    )
    p.add_argument("--grid-image", default=None, help="image (stem) for the visual grid")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def resolve_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    preset = PRESETS[args.preset]
    for key in ("crop", "limit", "schedule_fraction", "device", "seeds", "scales"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    if args.images is None and preset["images"] and Path(args.hr_dir).resolve() == C.DEFAULT_HR_DIR:
        args.images = list(preset["images"])
    if args.limit == 0:
        args.limit = None
    args.crop = int(args.crop or 0)
    if args.out is None:
        args.out = C.BENCH_OUT / "quality" / args.preset
    if args.cache_dir is None:
        args.cache_dir = C.BENCH_OUT / "lr_cache"
    args.out = Path(args.out)
    args.cache_dir = Path(args.cache_dir)
    # keep the method order canonical (tables, figures)
    args.methods = [m for m in METHODS if m in set(args.methods)]
    return args


def schedule(args: argparse.Namespace, mode: str) -> dict[str, int]:
    """Outer iterations and warm-up for an engine mode under this run's schedule.

    N is a fraction of the mode's GPU (paper) schedule, or --iterations; the 1-SSIM phase is the
    config's policy (the paper's proportion of N).
    """
    from napari_hacbsr.core.config import SCHEDULES

    paper = SCHEDULES["gpu"]["iterations"]
    if args.iterations is not None:
        n = int(args.iterations)
    else:
        n = max(1, int(round(paper[mode] * float(args.schedule_fraction))))
    out = {"iterations": n, "inner_steps": int(args.inner_steps)}
    if args.kernel_warmup is not None:
        out["kernel_warmup"] = int(args.kernel_warmup)
    return out


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "preset": args.preset,
        "protocol": args.protocol,
        "noise_max": args.noise_max,
        "kernel_noise": args.kernel_noise,
        "quantize": args.quantize,
        "crop": args.crop,
        "schedule_fraction": args.schedule_fraction,
        "iterations": args.iterations,
        "inner_steps": args.inner_steps,
        "kernel_warmup": args.kernel_warmup,
        "encoder": args.encoder,
        "precision": args.precision,
        "device": args.device,
        "hr_dir": str(args.hr_dir),
        "select": args.select,
        "limit": args.limit,
        "schedules": {m: schedule(args, m) for m in ("hacbsr", "mlmc")},
    }


def check_resume(args: argparse.Namespace) -> None:
    """Refuse to mix rows made with different essential settings into one CSV."""
    cfg_path = args.out / "run_config.json"
    csv_path = args.out / "results.csv"
    now = run_settings(args)
    if cfg_path.is_file() and csv_path.is_file():
        old = json.loads(cfg_path.read_text())
        diff = {k: (old.get(k), now[k]) for k in ESSENTIAL if old.get(k) != now[k]}
        if diff and not args.overwrite:
            raise SystemExit(
                f"{csv_path} was made with different settings {diff}; use another --out, or --overwrite to discard it"
            )
        if diff:
            csv_path.unlink()
    C.write_json(cfg_path, now)


def lr_cache(args: argparse.Namespace) -> LRCache:
    """The LR sets this run's degradation settings make (`benchmarks.lr_cache`)."""
    return LRCache.from_args(args)
