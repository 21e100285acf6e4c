"""The engine options `hacbsr run`, `batch` and `demo` share, and the one HACBSRConfig they make.

A run's config is built in layers: the defaults, then `--preset NAME` or `--config run.json`, then the
options given on the command line. An option left out never overrides the file or the preset, so the
options default to None here and the config's own defaults apply.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.choices import RECONSTRUCTIONS
from ..core.config import ENCODERS, MODES, NOISE_GATE, PRECISIONS, HACBSRConfig
from ..core.presets import PRESET_NAMES, preset

EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    """Print `message` as a hacbsr error on stderr and return the exit status `code`."""
    print(f"hacbsr: error: {message}", file=sys.stderr)
    return code


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """Add the engine's options (scale, iterations, mode, device, ...) to `p`."""
    p.add_argument("--scale", "-s", type=int, default=None, help="upscaling factor (2, 3, 4, ... up to 8; default 2)")
    p.add_argument(
        "--iterations",
        "--iters",
        dest="iters",
        type=int,
        default=None,
        help="outer iterations N (default: the device's schedule: the paper's 300 on a GPU, MLMC mode 200; "
        "100 on a CPU)",
    )
    p.add_argument("--inner-steps", type=int, default=None, help="inner image steps P per outer iteration (5)")
    p.add_argument("--kernel-warmup", type=int, default=None, help="kernel warm-up steps (200)")
    p.add_argument(
        "--ssim-share",
        type=float,
        default=None,
        help="share (0 to 1) of the N outer iterations fitted with 1-SSIM (default: the paper's 81/300, all of N "
        "for an image whose noise is below the gate (--lr-noise); 81/200 in MLMC mode)",
    )
    p.add_argument(
        "--lr-noise",
        type=float,
        default=None,
        help=f"the image's noise σ as a fraction of its value range, if known (default: estimated); below "
        f"{NOISE_GATE:g} HACBSR fits 1-SSIM for the whole run",
    )
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N | mps (default auto)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--mode", choices=MODES, default=None, help="hacbsr (default) or its MLMC baseline")
    p.add_argument("--no-ck", action="store_true", help="ablation -CK: plain random kernel sampling")
    p.add_argument("--no-cl", action="store_true", help="ablation -CL: no history-augmented contrast")
    p.add_argument("--theta-h", type=float, default=None, help="history contrast weight (0.4)")
    p.add_argument(
        "--encoder",
        choices=ENCODERS,
        default=None,
        help="feature encoder: auto (default) = CLIP if its weights load, else the labelled fallback",
    )
    p.add_argument("--clip-checkpoint", default=None, help="local CLIP weights file (open_clip format)")
    p.add_argument("--precision", choices=PRECISIONS, default=None, help="fp32 (default) or bf16 (CUDA)")
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--preset", choices=PRESET_NAMES, default=None, help="start from this named configuration (default: default)"
    )
    start.add_argument(
        "--config",
        dest="config_file",
        metavar="RUN.JSON",
        default=None,
        help='start from this config: the JSON a `hacbsr run` wrote beside its result (its "config") or a bare '
        "config object; the options given here override it",
    )
    p.add_argument(
        "--reconstruction",
        choices=RECONSTRUCTIONS,
        default=None,
        help="auto (default): full HACBSR when its time estimate fits 10 min on this device, else fast; hacbsr: "
        "the full algorithm; fast: HACBSR estimates the kernel on textured tiles, a non-blind solve does the frame",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields set on the command line (and only those)."""
    given = {
        "scale": args.scale,
        "device": args.device,
        "seed": args.seed,
        "mode": args.mode,
        "encoder": args.encoder,
        "precision": args.precision,
        "iterations": args.iters,
        "inner_steps": args.inner_steps,
        "kernel_warmup": args.kernel_warmup,
        "ssim_share": args.ssim_share,
        "lr_noise": args.lr_noise,
        "theta_h": args.theta_h,
        "clip_checkpoint": args.clip_checkpoint,
        "reconstruction": args.reconstruction,
    }
    overrides = {name: value for name, value in given.items() if value is not None}
    if args.no_ck:
        overrides["use_cks"] = False
    if args.no_cl:
        overrides["use_history"] = False
    return overrides


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The config fields in `path`: a provenance JSON's "config" object, or the file's own object.

    ValueError (naming the file and what is wrong) for a missing or unreadable file, bad JSON, or JSON
    that is not an object.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--config {path}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--config {path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict):  # the JSON `hacbsr run` writes
        data = data["config"]
    if not isinstance(data, dict):
        raise ValueError(
            f"--config {path}: expected a JSON object (a config, or the JSON `hacbsr run` writes with its "
            f'"config"), got {type(data).__name__}'
        )
    return data


def engine_config(args: argparse.Namespace) -> HACBSRConfig:
    """The run's HACBSRConfig: defaults < `--preset` or `--config` < the options given.

    ValueError (a message for the user) for a bad config file or an invalid value.
    """
    if args.config_file is not None:
        try:
            base = HACBSRConfig.from_dict(read_config_file(args.config_file))
        except (ValueError, TypeError) as exc:  # (TypeError: a field of the wrong shape, e.g. a number for a pair)
            text = str(exc)
            raise ValueError(text if text.startswith("--config") else f"--config {args.config_file}: {text}") from None
    elif args.preset is not None:
        base = preset(args.preset)
    else:
        base = HACBSRConfig()
    return base.replace(**config_overrides(args))
