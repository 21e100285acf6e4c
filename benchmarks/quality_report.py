"""Tables and figures of the quality benchmark (`benchmarks.quality` writes the rows; this reads them).

Markdown in the paper's Table I / III layout per scale, the PSNR-gain figure, the visual grid and the
bias/shift diagnostics, from `results.csv` and the cached LR sets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import _common as C
from .methods import METHODS, label, paper_cell
from .quality_settings import lr_cache, run_settings


def _mean(values: list[float]) -> float:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _f(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def summarise(rows: list[dict[str, str]], methods: list[str]) -> dict[int, dict[str, Any]]:
    """Per scale: the (image, seed) pairs done by every method, and per-method means over them."""
    out: dict[int, dict[str, Any]] = {}
    scales = sorted({int(r["scale"]) for r in rows})
    for s in scales:
        sub = [r for r in rows if int(r["scale"]) == s]
        present = [m for m in methods if any(r["method"] == m for r in sub)]
        by_m = {m: {(r["image"], int(r["seed"])): r for r in sub if r["method"] == m} for m in present}
        common = set.intersection(*(set(v) for v in by_m.values())) if by_m else set()
        common_sorted = sorted(common)
        stats: dict[str, dict[str, Any]] = {}
        for m in present:
            rs = [by_m[m][k] for k in common_sorted]
            st = {
                k: _mean([_f(r[k]) for r in rs])
                for k in ("psnr_y", "ssim_y", "psnr_gray", "ssim_gray", "kernel_psnr", "wall_s", "peak_mem_mb")
            }
            lp = [_f(r["lpips"]) for r in rs if r["lpips"] not in ("N/A", "")]
            st["lpips"] = _mean(lp) if lp else None
            seeds = sorted({k[1] for k in common_sorted})
            if len(seeds) > 1:
                per_seed = [_mean([_f(by_m[m][k]["psnr_y"]) for k in common_sorted if k[1] == sd]) for sd in seeds]
                st["psnr_y_sd_seeds"] = float(np.std(per_seed, ddof=1))
            if "bicubic" in by_m and m != "bicubic":
                gains = [_f(by_m[m][k]["psnr_y"]) - _f(by_m["bicubic"][k]["psnr_y"]) for k in common_sorted]
                st["gain"] = _mean(gains)
                st["wins"] = sum(g > 0 for g in gains)
            encs = sorted({r["encoder"] for r in rs if r.get("encoder")})
            st["encoder"] = ", ".join(encs)
            st["device"] = ", ".join(sorted({r["device"] for r in rs if r.get("device")}))
            st["rows"] = rs
            stats[m] = st
        out[s] = {
            "methods": present,
            "pairs": common_sorted,
            "stats": stats,
            "n_images": len({k[0] for k in common_sorted}),
            "n_seeds": len({k[1] for k in common_sorted}),
        }
    return out


def report_markdown(summary: dict[int, dict[str, Any]], settings: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", ""]
    lines.append(
        f"Protocol `{settings.get('protocol')}`, noise_max {settings.get('noise_max', 0):.4f}, kernel_noise "
        f"{settings.get('kernel_noise')}, quantize {settings.get('quantize')}, crop "
        f"{settings.get('crop') or 'full'}, schedules {settings.get('schedules')}. PSNR/SSIM: spec §4 "
        "(uint8-rounded SR, shave s); Y = BT.601 Y of the gray image replicated to RGB (paper-compatible, "
        "= gray + 1.32 dB); means over the (image, seed) pairs finished by every method at that scale."
    )
    lines.append("")
    scales = sorted(summary)
    # Table I layout
    if scales:
        methods = [m for m in METHODS if any(m in summary[s]["methods"] for s in scales)]
        header = ["Method"] + [f"×{s} ours PSNR/SSIM (Y)" for s in scales] + [f"×{s} paper (Ceres-50)" for s in scales]
        rows = []
        for m in methods:
            cells = [label(m)]
            for s in scales:
                st = summary[s]["stats"].get(m)
                cells.append(f"{C.fmt(st['psnr_y'])}/{C.fmt(st['ssim_y'], 3)}" if st else "–")
            cells += [paper_cell(m, s) for s in scales]
            rows.append(cells)
        lines += [
            "## Table I layout (our data vs the paper's Ceres-50 figures)",
            "",
            "Paper columns are the HACBSR paper's Table I/III values **on Ceres-50**, not on our "
            "images; they are for orientation only.",
            "",
            C.markdown_table(header, rows),
            "",
        ]
    for s in scales:
        sm = summary[s]
        lines += [f"## ×{s} — {sm['n_images']} images × {sm['n_seeds']} seed(s)", ""]
        header = [
            "Method",
            "PSNR-Y",
            "SSIM-Y",
            "PSNR gray",
            "SSIM gray",
            "Δ PSNR-Y vs bicubic",
            "wins vs bicubic",
            "LPIPS",
            "kernel PSNR",
            "time/img (s)",
            "peak mem (MiB)",
            "paper Ceres-50 PSNR/SSIM/LPIPS",
        ]
        rows = []
        n = len(sm["pairs"])
        for m in sm["methods"]:
            st = sm["stats"][m]
            psnr = C.fmt(st["psnr_y"])
            if "psnr_y_sd_seeds" in st:
                psnr += f" ± {st['psnr_y_sd_seeds']:.2f}"
            rows.append(
                [
                    label(m),
                    psnr,
                    C.fmt(st["ssim_y"], 3),
                    C.fmt(st["psnr_gray"]),
                    C.fmt(st["ssim_gray"], 3),
                    f"{st['gain']:+.2f}" if "gain" in st else "–",
                    f"{st['wins']}/{n}" if "wins" in st else "–",
                    C.fmt(st["lpips"], 3) if st["lpips"] is not None else "N/A",
                    C.fmt(st["kernel_psnr"]) if np.isfinite(st["kernel_psnr"]) else "–",
                    C.fmt(st["wall_s"], 1),
                    C.fmt(st["peak_mem_mb"], 0),
                    paper_cell(m, s, with_lpips=True),
                ]
            )
        lines += [C.markdown_table(header, rows), ""]
        encs = sorted({st["encoder"] for st in sm["stats"].values() if st["encoder"]})
        devs = sorted({st["device"] for st in sm["stats"].values() if st["device"]})
        lines += [f"Encoder(s): {', '.join(encs) or '–'}; device(s): {', '.join(devs) or '–'}.", ""]
        # per-image PSNR-Y
        header = ["image", "body"] + [label(m) for m in sm["methods"]]
        rows = []
        for key in sm["pairs"]:
            r0 = sm["stats"][sm["methods"][0]]["rows"][sm["pairs"].index(key)]
            image = key[0] if sm["n_seeds"] == 1 else f"{key[0]} (seed {key[1]})"
            rows.append(
                [image, r0["body"]]
                + [C.fmt(sm["stats"][m]["rows"][sm["pairs"].index(key)]["psnr_y"]) for m in sm["methods"]]
            )
        lines += [
            f"<details><summary>Per-image PSNR-Y at ×{s}</summary>",
            "",
            C.markdown_table(header, rows),
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def diagnostics_markdown(args: argparse.Namespace, summary: dict[int, dict[str, Any]]) -> str:
    """Diagnostics from the saved SR PNGs (not paper-comparable): mean intensity bias of SR − HR in
    grey levels, the PSNR-Y after removing that bias, and the best PSNR-Y over half-pixel shifts within
    ±(s−1) px (spec §4.5 alignment check)."""
    from napari_hacbsr.core.metrics import evaluate_sr, shift_compensated_psnr

    header = [
        "scale",
        "method",
        "n",
        "mean bias SR−HR (grey levels)",
        "PSNR-Y",
        "PSNR-Y, bias removed",
        "PSNR-Y, best ±(s−1) px shift",
        "typical best shift (px)",
    ]
    rows = []
    for s in sorted(summary):
        sm = summary[s]
        for m in sm["methods"]:
            biases, plain, unbiased, shifted, shifts = [], [], [], [], []
            for image, seed in sm["pairs"]:
                png = args.out / "images" / f"x{s}" / m / f"{image}_seed{seed}.png"
                npz = lr_cache(args).folder(s, seed) / f"{image}.npz"
                if not (png.is_file() and npz.is_file()):
                    continue
                sr = C.load_gray01(png)
                with np.load(npz) as d:
                    hr = d["hr"].astype(np.float64)
                inner = (slice(s, -s), slice(s, -s))
                bias = float((sr[inner] - hr[inner]).mean())
                biases.append(bias * 255)
                plain.append(evaluate_sr(sr, hr, s)["psnr_y"])
                unbiased.append(evaluate_sr(np.clip(sr - bias, 0, 1), hr, s)["psnr_y"])
                best, shift = shift_compensated_psnr(sr, hr, s, step=0.5)
                shifted.append(best + 20 * np.log10(255 / 219))  # gray -> Y of replicated gray
                shifts.append(shift)
            if not plain:
                continue
            common = max(set(shifts), key=shifts.count)
            rows.append(
                [
                    f"×{s}",
                    label(m),
                    str(len(plain)),
                    f"{np.mean(biases):+.2f}",
                    C.fmt(np.mean(plain)),
                    C.fmt(np.mean(unbiased)),
                    C.fmt(np.mean(shifted)),
                    f"({common[0]:+.1f}, {common[1]:+.1f})",
                ]
            )
    if not rows:
        return ""
    return "\n".join(
        [
            "## Diagnostics (not paper-comparable)",
            "",
            "From the saved SR PNGs: the mean intensity bias of SR − HR (shave s), the PSNR-Y with that constant "
            "removed, and the best PSNR-Y over half-pixel shifts within ±(s−1) HR px (cubic-spline shift, which "
            "itself blurs slightly; border shave s + ⌈s−1⌉; spec §4.5). Large gaps point at intensity bias or "
            "misalignment rather than missing detail.",
            "",
            C.markdown_table(header, rows),
            "",
        ]
    )


def plot_gain(summary: dict[int, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = [s for s in sorted(summary) if "bicubic" in summary[s]["methods"] and len(summary[s]["methods"]) > 1]
    if not scales:
        return
    fig, axes = plt.subplots(len(scales), 1, figsize=(9, 2.6 * len(scales)), squeeze=False)
    for ax, s in zip(axes[:, 0], scales, strict=True):
        sm = summary[s]
        methods = [m for m in sm["methods"] if m != "bicubic"]
        pairs = sm["pairs"]
        width = 0.8 / max(1, len(methods))
        x = np.arange(len(pairs))
        for j, m in enumerate(methods):
            gains = [
                _f(sm["stats"][m]["rows"][i]["psnr_y"]) - _f(sm["stats"]["bicubic"]["rows"][i]["psnr_y"])
                for i in range(len(pairs))
            ]
            ax.bar(
                x + (j - (len(methods) - 1) / 2) * width,
                gains,
                width,
                label=label(m),
                color=f"C{list(METHODS).index(m) - 1}",
            )
        ax.axhline(0, color="k", lw=0.8)
        bodies = [sm["stats"]["bicubic"]["rows"][i]["body"] for i in range(len(pairs))]
        names = [
            f"{b}\n{p[0][:20]}" + ("" if sm["n_seeds"] == 1 else f"/s{p[1]}")
            for b, p in zip(bodies, pairs, strict=True)
        ]
        ax.set_xticks(x, names, fontsize=7)
        ax.set_ylabel("Δ PSNR-Y (dB)")
        ax.set_title(f"×{s}: PSNR gain over bicubic per image", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[:, 0]:
        ax.legend(fontsize=7, ncol=3, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_grid(
    args: argparse.Namespace, summary: dict[int, dict[str, Any]], settings: dict[str, Any], path: Path
) -> None:
    """LR | bicubic | MLMC | HACBSR | GT for one image per scale, kernels underneath."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [m for m in ("bicubic", "mlmc", "hacbsr") if any(m in summary[s]["methods"] for s in summary)]
    scales = sorted(summary)
    if not scales:
        return
    stem = args.grid_image
    if stem is None:
        firsts = [summary[s]["pairs"][0][0] for s in scales if summary[s]["pairs"]]
        if not firsts:
            return
        stem = firsts[0]
    seed = args.seeds[0]
    ncol = len(cols) + 2
    fig, axes = plt.subplots(
        2 * len(scales),
        ncol,
        figsize=(1.9 * ncol, 2 * 1.9 * len(scales)),
        gridspec_kw={"height_ratios": [3, 1.2] * len(scales)},
        squeeze=False,
    )
    for ax in axes.ravel():
        ax.axis("off")
    for r, s in enumerate(scales):
        key = lr_cache(args).folder(s, seed)
        npz = key / f"{stem}.npz"
        if not npz.is_file():
            continue
        with np.load(npz) as d:
            lr, hr, k_gt = d["lr"], d["hr"], d["kernel"]
        rows = {
            m: next((x for x in summary[s]["stats"][m]["rows"] if x["image"] == stem), None)
            for m in cols
            if m in summary[s]["stats"]
        }
        panels: list[tuple[str, np.ndarray, np.ndarray | None]] = [
            (f"LR ×{s} (nearest)", np.kron(lr, np.ones((s, s))), None)
        ]
        for m in cols:
            img_dir = args.out / "images" / f"x{s}" / m
            png = img_dir / f"{stem}_seed{seed}.png"
            if not png.is_file():
                panels.append((label(m) + " (missing)", np.zeros_like(hr), None))
                continue
            sr = C.load_gray01(png)
            kfile = img_dir / f"{stem}_seed{seed}_kernel.npy"
            k = np.load(kfile) if kfile.is_file() else None
            row = rows.get(m)
            t = label(m) + (f"\n{float(row['psnr_y']):.2f} dB" if row else "")
            panels.append((t, sr, k))
        panels.append(("GT (HR)", hr, k_gt))
        kmax = max(float(p[2].max()) for p in panels if p[2] is not None)
        for c, (title, img, k) in enumerate(panels):
            ax = axes[2 * r, c]
            ax.imshow(img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=7)
            if k is not None:
                kax = axes[2 * r + 1, c]
                kax.imshow(k, cmap="magma", vmin=0, vmax=kmax, interpolation="nearest")
                kax.set_title("GT kernel" if c == ncol - 1 else "est. kernel", fontsize=6)
    fig.suptitle(f"{stem} (protocol {settings.get('protocol')}, seed {seed})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def build_report(args: argparse.Namespace) -> Path | None:
    csv_path = args.out / "results.csv"
    rows = C.read_csv_rows(csv_path)
    if not rows:
        print(f"[quality] no rows in {csv_path}; nothing to report")
        return None
    cfg_path = args.out / "run_config.json"
    settings = json.loads(cfg_path.read_text()) if cfg_path.is_file() else run_settings(args)
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    retired = sorted({r["method"] for r in rows} - set(METHODS))
    summary = summarise(rows, methods)
    title = f"HACBSR quality benchmark — preset `{settings.get('preset', args.preset)}`"
    md = report_markdown(summary, settings, title)
    commits = sorted({r.get("git_commit") or "?" for r in rows if r["method"] != "bicubic"})
    md += f"\nEngine rows come from commit(s) {', '.join(commits)}" + (
        " — **mixed commits: check that no change between them affects these methods**.\n"
        if len(commits) > 1
        else ".\n"
    )
    if retired:  # methods no longer in benchmarks/methods.py: their rows replay at the commit they record
        md += f"\nRows of retired methods left out: {', '.join(retired)}.\n"
    if args.diagnostics:
        try:
            md += "\n" + diagnostics_markdown(args, summary)
        except Exception as exc:  # noqa: BLE001 - diagnostics must not lose the tables
            print(f"[quality] diagnostics failed: {exc!r}", file=sys.stderr)
    md_path = args.out / "results.md"
    md_path.write_text(md + "\n")
    for s in summary:
        one = report_markdown({s: summary[s]}, settings, f"{title}, ×{s}")
        (args.out / f"results_x{s}.md").write_text(one + "\n")
    try:
        plot_gain(summary, args.out / "psnr_gain.png")
        plot_grid(args, summary, settings, args.out / "visual_grid.png")
    except Exception as exc:  # noqa: BLE001 - a figure failure must not lose the tables
        print(f"[quality] figure failed: {exc!r}", file=sys.stderr)
    print(md)
    print(f"[quality] wrote {md_path}, results_x*.md, psnr_gain.png, visual_grid.png in {args.out}")
    return md_path
