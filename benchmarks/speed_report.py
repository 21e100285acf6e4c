"""The speed benchmark's tables (`benchmarks.speed` measures; this writes speed.md from its results)."""

from __future__ import annotations

import argparse
from typing import Any

from . import _common as C

# variant -> (benchmark method, config changes). "hacbsr" uses the encoder the run would use here (CLIP
# when its weights load, else the labelled fallback); "hacbsr-clip-arch" forces the real ViT-B/32
# architecture with random weights, which costs what CLIP costs (timing only, never for quality).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "hacbsr": ("hacbsr", {}),
    "hacbsr-clip-arch": ("hacbsr", {"encoder": "clip", "clip_pretrained": "none"}),
    "mlmc": ("mlmc", {}),
}
STAGES = ("bare_dip_step", "image_step", "fc_term", "kl_stage", "meta_update", "history_update", "outer_iteration")


def ms(v: Any) -> str:
    try:
        return f"{1000 * float(v):.1f}"
    except (TypeError, ValueError):
        return "–"


def report(results: list[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace) -> str:
    ok = [r for r in results if "error" not in r]
    lines = [
        "# HACBSR speed and memory benchmark",
        "",
        f"Machine: {info['host_cpu']} ({info['cpu_count']} logical CPUs, torch threads "
        f"{info['torch_threads']}), GPU: {info['gpu'] or 'none'}; torch {info['torch']}, python "
        f"{info['python']}; commit {info['git_commit']}; {info['date']}.",
        f"Scale ×{args.scale}; stages: median of {args.repeats} timed calls after {args.warmup} warm-up "
        f"calls; bare step and outer iteration: median of {args.rounds} interleaved rounds; "
        "times in ms; memory in MiB (CPU: whole-process peak RSS and the part above the RSS before the "
        "solver was built; CUDA: max allocated).",
        "",
    ]
    header = [
        "variant",
        "precision",
        "HR",
        "encoder",
        "bare DIP step",
        "image step",
        "f_c term",
        "KL/MCMC stage",
        "meta update",
        "history update",
        "inner step (amortised)",
        "ratio vs bare",
        "peak mem",
        "mem above start",
    ]
    rows = []
    for r in sorted(ok, key=lambda r: (list(VARIANTS).index(r["variant"]), r["precision"], r["hr_side"])):
        rows.append(
            [
                r["variant"],
                r["precision"],
                f"{r['hr_side']}²",
                r["encoder"],
                ms(r["bare_dip_step"]),
                ms(r["image_step"]),
                ms(r["fc_term"]),
                ms(r["kl_stage"]),
                ms(r["meta_update"]),
                ms(r["history_update"]),
                ms(r["inner_step_amortised"]),
                f"{r['ratio_vs_bare']:.2f}",
                C.fmt(r["peak_mem_mb"], 0),
                C.fmt(r["mem_above_start_mb"], 0),
            ]
        )
    lines += ["## Per stage and per size", "", C.markdown_table(header, rows), ""]
    # breakdown of one amortised inner step at the largest size, per variant (fp32)
    for variant in VARIANTS:
        cand = [r for r in ok if r["variant"] == variant and r["precision"] == "fp32"]
        if not cand:
            continue
        r = max(cand, key=lambda r: r["hr_side"])
        p = r["inner_steps"]
        calls = r["calls_per_outer"]
        parts = [
            ("bare DIP step (floor)", r["bare_dip_step"] * calls["image_step"]),
            (
                "image-step extras (HL, f_c term, kernel-side loss)",
                (r["image_step"] - r.get("bare_dip_step_single", r["bare_dip_step"])) * calls["image_step"],
            ),
            ("KL (HACBSR) / MCMC (MLMC) stage", r["kl_stage"] * calls["kl_stage"]),
            ("meta update", r["meta_update"] * calls["meta_update"]),
            ("history update", r["history_update"] * calls["history_update"]),
        ]
        accounted = sum(v for _, v in parts)
        parts.append(("other (loop overhead, re-reading k; timing noise)", r["outer_iteration"] - accounted))
        total = r["outer_iteration"]
        rows = [[name, ms(v / p), f"{100 * v / total:.0f}%"] for name, v in parts]
        rows.append(["**inner step (amortised)**", f"**{ms(total / p)}**", "100%"])
        rows.append(["ratio vs bare DIP step", f"**{r['ratio_vs_bare']:.2f}**", "target ≤ 1.3"])
        lines += [
            f"## Breakdown of one amortised inner step — {variant}, HR {r['hr_side']}², fp32, encoder {r['encoder']}",
            "",
            f"Per outer iteration: {calls['image_step']} image steps, {calls['kl_stage']} KL/MCMC "
            "stage, "
            f"{calls['meta_update']:.2g} meta updates, {calls['history_update']:.2g} history updates; "
            f"the f_c term (alone: {ms(r['fc_term'])} ms) is inside each image step.",
            "",
            C.markdown_table(["part", "ms per inner step", "share"], rows),
            "",
        ]
    # precision comparison
    pairs = []
    for r in ok:
        if r["precision"] != "bf16":
            continue
        base = next(
            (
                b
                for b in ok
                if b["variant"] == r["variant"] and b["hr_side"] == r["hr_side"] and b["precision"] == "fp32"
            ),
            None,
        )
        if base:
            speedup = base["inner_step_amortised"] / r["inner_step_amortised"]
            pairs.append(
                [
                    r["variant"],
                    f"{r['hr_side']}²",
                    ms(base["inner_step_amortised"]),
                    ms(r["inner_step_amortised"]),
                    f"{speedup:.2f}×",
                    C.fmt(base["peak_mem_mb"], 0),
                    C.fmt(r["peak_mem_mb"], 0),
                ]
            )
    if pairs:
        lines += [
            "## fp32 vs bf16 (autocast of the generator forward)",
            "",
            C.markdown_table(
                [
                    "variant",
                    "HR",
                    "fp32 inner step (ms)",
                    "bf16 inner step (ms)",
                    "bf16 speed-up",
                    "fp32 peak mem",
                    "bf16 peak mem",
                ],
                pairs,
            ),
            "",
        ]
    errors = [r for r in results if "error" in r]
    if errors:
        lines += (
            ["## Not measured", ""]
            + [f"- {r['variant']} {r['precision']} HR {r['size']}²: {r['error']}" for r in errors]
            + [""]
        )
    return "\n".join(lines)
