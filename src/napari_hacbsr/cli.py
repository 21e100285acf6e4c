"""Command line: `hacbsr run`, `hacbsr batch`, `hacbsr degrade`, `hacbsr demo`.

Exit codes: 0 success, 2 bad input (unreadable file, invalid option or image), 3 run-time
failure (e.g. out of memory), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .core.config import ENCODERS, MODES, NOISE_GATE, PRECISIONS, PROTOCOLS
from .core.image import display_range, preview_uint8
from .core.noise import describe_loss_schedule
from .files import ImageReadError, read_image, read_product, write_json, write_png, write_tiff
from .frames import add_frame_options, crop_roi, frame_run_options
from .outputs import write_result

# The demo's HR crop per kind of device (its schedule is the config's device policy): the whole
# 512² Moon on a GPU; a 96² crop on a CPU, so the run finishes in minutes on 2 cores.
DEMO_CROP = {"gpu": None, "cpu": 96}


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", "-s", type=int, default=2, help="upscaling factor (2, 3, 4, ... up to 8)")
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
        "--ssim-phase",
        type=int,
        default=None,
        help="leading outer iterations fitted with 1-SSIM (default: the paper's 81/300 of N, all of N for an image "
        "whose noise is below the gate (--lr-noise); 81/200 in MLMC mode)",
    )
    p.add_argument(
        "--lr-noise",
        type=float,
        default=None,
        help=f"the image's noise σ as a fraction of its value range, if known (default: estimated); below "
        f"{NOISE_GATE:g} HACBSR fits 1-SSIM for the whole run",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", choices=MODES, default="hacbsr")
    p.add_argument("--no-ck", action="store_true", help="ablation -CK: plain random kernel sampling")
    p.add_argument("--no-cl", action="store_true", help="ablation -CL: no history-augmented contrast")
    p.add_argument("--theta-h", type=float, default=None, help="history contrast weight (0.4)")
    p.add_argument(
        "--encoder",
        choices=ENCODERS,
        default="auto",
        help="feature encoder: auto = CLIP if its weights load, else the labelled fallback",
    )
    p.add_argument("--clip-checkpoint", default=None, help="local CLIP weights file (open_clip format)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "device": args.device,
        "seed": args.seed,
        "mode": args.mode,
        "encoder": args.encoder,
        "precision": args.precision,
        "use_cks": not args.no_ck,
        "use_history": not args.no_cl,
    }
    optional = {
        "iterations": args.iters,
        "inner_steps": args.inner_steps,
        "kernel_warmup": args.kernel_warmup,
        "ssim_phase": args.ssim_phase,
        "lr_noise": args.lr_noise,
        "theta_h": args.theta_h,
        "clip_checkpoint": args.clip_checkpoint,
    }
    overrides.update({k: v for k, v in optional.items() if v is not None})
    return overrides


def _fail(message: str, code: int = 2) -> int:
    print(f"hacbsr: error: {message}", file=sys.stderr)
    return code


def _run_engine(image: np.ndarray, args: argparse.Namespace, channel_axis: int | None, **extra: Any):
    """Run the engine, first saying what will run where (and the encoder in words, once)."""
    import warnings

    from .core.api import super_resolve
    from .core.encoder import describe_encoder
    from .core.errors import EncoderFallbackWarning

    def announce(step) -> None:
        if step.stage == "setup" and step.tile == 1:  # (a tiled run: once, for its first tile)
            lr = "×".join(str(n) for n in image.shape[:2]) if channel_axis in (None, -1) else str(image.shape)
            print(
                f"hacbsr: {lr} px at ×{args.scale} on {step.device_name}: {step.total} outer iterations; "
                f"{describe_encoder(step.encoder, step.encoder_note)}",
                file=sys.stderr,
            )

    overrides = {**_config_overrides(args), **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EncoderFallbackWarning)  # announce() says it, in words
        return super_resolve(
            image, args.scale, channel_axis=channel_axis, progress=not args.quiet, callback=announce, **overrides
        )


def _summary(result) -> str:
    t = result.timings
    return (
        f"device {result.device_name}; {result.iterations_done} iterations"
        f"{' (stopped early)' if result.stopped_early else ''} in {t['total']:.1f} s; "
        f"{result.tiles_done} of {1 if result.tile_boxes is None else result.tile_boxes[..., 0].size} tile(s); "
        f"LR-consistency MSE {result.lr_consistency:.3e}; {describe_loss_schedule(result.config)}"
    )


# ---------------------------------------------------------------------------- commands
def cmd_run(args: argparse.Namespace) -> int:
    from .core.errors import HACBSRError

    try:
        image, channel_axis, georef = read_product(args.image, args.channel_axis)
    except ImageReadError as exc:
        return _fail(str(exc))
    source = {"input": str(args.image), "input_shape": list(image.shape)}
    try:
        if args.roi is not None:
            image = crop_roi(image, args.roi, channel_axis)
            source["roi"] = list(args.roi)
            if georef is not None:  # the region's own georeference: (x, y) is its top-left pixel
                from .mission.georef import crop_georef

                georef = crop_georef(georef, row=args.roi[1], col=args.roi[0])
        tiling = frame_run_options(image, args, channel_axis, _config_overrides(args))
        result = _run_engine(image, args, channel_axis, **tiling)
    except ValueError as exc:
        return _fail(f"{args.image}: {exc}")
    except HACBSRError as exc:
        return _fail(str(exc), 3)
    out_dir = Path(args.output) if args.output else Path(args.image).parent
    paths = write_result(out_dir, Path(args.image).stem, result, source, georef)
    print(_summary(result))
    for name, path in paths.items():
        print(f"  {name:12s} {path}")
    return 0


def cmd_degrade(args: argparse.Namespace) -> int:
    from .core.degradation import simulate
    from .core.image import unit_range_by_dtype

    try:
        image, channel_axis = read_image(args.hr)
    except ImageReadError as exc:
        return _fail(str(exc))
    if channel_axis is not None and channel_axis != -1:
        return _fail("degrade expects a (H, W) or (H, W, C) image")
    try:
        arr = unit_range_by_dtype(image)
    except ValueError as exc:
        return _fail(f"{args.hr}: {exc}")
    try:
        degraded = simulate(
            arr,
            args.scale,
            protocol=args.protocol,
            noise_max=args.noise,
            kernel_noise=args.kernel_noise,
            seed=args.seed,
            quantize=args.quantize,
        )
    except ValueError as exc:
        return _fail(str(exc))
    out_dir = Path(args.output) if args.output else Path(args.hr).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(args.hr).stem}_LR_x{args.scale}"
    write_png(out_dir / f"{stem}.png", preview_uint8(degraded.lr, 0.0, 1.0))
    write_tiff(out_dir / f"{stem}.tif", degraded.lr)
    write_tiff(out_dir / f"{stem}_kernel.tif", degraded.kernel)
    write_png(out_dir / f"{stem}_kernel.png", preview_uint8(degraded.kernel, 0.0, float(degraded.kernel.max())))
    write_json(out_dir / f"{stem}.json", {"source": str(args.hr), **degraded.params})
    print(f"wrote {out_dir / (stem + '.png')} (+ .tif, _kernel.tif/.png, .json); LR {degraded.lr.shape}")
    return 0


def side_by_side(
    lr: np.ndarray, bicubic: np.ndarray, sr: np.ndarray, kernel: np.ndarray, kernel_gt: np.ndarray | None = None
) -> np.ndarray:
    """LR (nearest ×s) | bicubic | HACBSR | kernel(s), labelled, as an 8-bit gray image."""
    from PIL import Image, ImageDraw

    h, w = sr.shape
    s = h // lr.shape[0]
    panels = [np.kron(lr, np.ones((s, s)))[:h, :w], bicubic[:h, :w], sr]
    titles = ["LR (nearest)", "bicubic", "HACBSR"]
    kernels = [kernel] + ([kernel_gt] if kernel_gt is not None else [])
    ktitles = ["kernel (est.)"] + (["kernel (true)"] if kernel_gt is not None else [])
    tile = h // len(kernels)
    for k, title in zip(kernels, ktitles, strict=True):
        rep = max(1, tile // k.shape[0])
        big = np.kron(k / k.max(), np.ones((rep, rep)))
        canvas = np.zeros((h, max(big.shape[1], 64)))
        canvas[: big.shape[0], : big.shape[1]] = big[:h]
        panels.append(canvas)
        titles.append(title)
    gap = 4
    strip = [np.clip(p, 0, 1) for p in panels]
    width = sum(p.shape[1] for p in strip) + gap * (len(strip) - 1)
    band = 16
    out = np.ones((h + band, width))
    x = 0
    for p in strip:
        out[band:, x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    img = Image.fromarray(np.round(out * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    x = 0
    for p, title in zip(strip, titles, strict=True):
        draw.text((x + 2, 2), title, fill=0)
        x += p.shape[1] + gap
    return np.asarray(img)


def cmd_demo(args: argparse.Namespace) -> int:
    from .core.config import schedule_kind
    from .core.degradation import bicubic_upscale
    from .core.device import resolve_device
    from .core.errors import HACBSRError
    from .core.metrics import evaluate_sr, kernel_psnr
    from .core.sample import moon_sample

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        return _fail(str(exc))
    crop = args.crop if args.crop is not None else DEMO_CROP[schedule_kind(device)]
    sample = moon_sample(args.scale, crop=crop)
    print(
        f"demo: scikit-image Moon {'full 512²' if crop is None else f'{crop}² crop'}, degraded ×{args.scale} "
        f"(seeded anisotropic Gaussian, stride protocol) -> LR {sample.lr.shape}"
    )
    t0 = time.perf_counter()
    try:
        result = _run_engine(sample.lr, args, None, sampling=sample.params["sampling"])  # the stride protocol
    except (ValueError, HACBSRError) as exc:
        return _fail(str(exc), 2 if isinstance(exc, ValueError) else 3)
    out_dir = Path(args.output)
    paths = write_result(out_dir, "moon_sample", result, {"input": "moon_sample", **sample.params})
    bicubic = np.clip(bicubic_upscale(sample.lr, args.scale), 0, 1)
    write_png(out_dir / "moon_sample_LR.png", preview_uint8(sample.lr, *display_range(result.normalization)))
    write_png(
        out_dir / "moon_sample_side_by_side.png",
        side_by_side(sample.lr, bicubic, np.clip(result.sr, 0, 1), result.kernel, sample.kernel),
    )
    ours, base = evaluate_sr(result.sr, sample.hr, args.scale), evaluate_sr(bicubic, sample.hr, args.scale)
    print(_summary(result))
    print(
        f"PSNR gray (shave {args.scale}): bicubic {base['psnr_gray']:.2f} dB, HACBSR {ours['psnr_gray']:.2f} dB; "
        f"SSIM {base['ssim_gray']:.3f} -> {ours['ssim_gray']:.3f}; kernel PSNR "
        f"{kernel_psnr(result.kernel, sample.kernel):.2f} dB; wall {time.perf_counter() - t0:.0f} s"
    )
    print(f"  side_by_side {out_dir / 'moon_sample_side_by_side.png'}")
    for name, path in paths.items():
        print(f"  {name:12s} {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hacbsr", description="HACBSR blind super-resolution for planetary images")
    parser.add_argument("--version", action="version", version=f"napari-hacbsr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="super-resolve an image file")
    run.add_argument("image", help="input image (PNG, TIFF, ...) or mission product (.LBL, .xml, .cub, .fits, GeoTIFF)")
    run.add_argument("-o", "--output", help="output folder (default: beside the input)")
    run.add_argument(
        "--channel-axis",
        type=int,
        default=None,
        help="channel axis of a 3-D image (colour images are detected automatically)",
    )
    _add_engine_options(run)
    add_frame_options(run)
    run.set_defaults(func=cmd_run)

    from .batching.cli import add_batch_parser

    add_batch_parser(sub)

    degrade = sub.add_parser("degrade", help="make a synthetic LR image with a known kernel")
    degrade.add_argument("hr", help="HR image (8/16-bit PNG/TIFF, or float TIFF in [0, 1])")
    degrade.add_argument("--scale", "-s", type=int, default=2)
    degrade.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="stride",
        help="stride: MLMC/FKP test data (spec §1.1); bicubic: Ceres-50 reconstruction (§1.3)",
    )
    degrade.add_argument("--noise", type=float, default=0.0, help="max additive noise σ (drawn U(0, max)), [0,1] units")
    degrade.add_argument("--kernel-noise", type=float, default=0.0, help="multiplicative kernel noise level")
    degrade.add_argument("--seed", type=int, default=0)
    degrade.add_argument("--quantize", action="store_true", help="floor the LR to 8 bits as the reference code")
    degrade.add_argument("-o", "--output", help="output folder (default: beside the input)")
    degrade.set_defaults(func=cmd_degrade)

    demo = sub.add_parser("demo", help="super-resolve the bundled sample (degraded Moon) and write a comparison")
    demo.add_argument("-o", "--output", default="out/demo", help="output folder (default out/demo)")
    demo.add_argument("--crop", type=int, default=None, help="HR crop side (default: 96 on CPU, full on GPU)")
    _add_engine_options(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("hacbsr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
