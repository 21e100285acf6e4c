"""Small text helpers for the dock widgets' status lines and messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..core.records import Result, Step

ZERO_WIDTH_SPACE = "\u200b"


def wrappable(text: str) -> str:
    """Let Qt break long code such as viewer.layers['x'].data[0] inside the dock's width."""
    for mark in (".", "(", "[", ","):
        text = text.replace(mark, mark + ZERO_WIDTH_SPACE)
    return text


def format_seconds(seconds: float | None) -> str:
    """0:42, 12:05, 1:02:03."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def step_text(step: Step, eta: float | None) -> str:
    """The progress line for one Step: stage, tile, iteration, loss, elapsed, ETA."""
    if step.stage == "warmup":
        return f"Kernel warm-up done · iteration 0/{step.total} · elapsed {format_seconds(step.elapsed)}"
    loss = step.losses.get("data", next(iter(step.losses.values()), None))
    loss_text = f"{loss:.3e}" if loss is not None else "–"
    return (
        (f"Tile {step.tile}/{step.tiles} · " if step.tiles > 1 else "")
        + f"Iteration {step.iteration}/{step.total} · loss {loss_text} · "
        f"elapsed {format_seconds(step.elapsed)} · ETA {format_seconds(eta)}"
    )


def result_text(result: Result, stop_reason: str, sr_name: str, kernel_name: str) -> str:
    """The closing line of a run: done, or stopped (why, how far, where the estimate is)."""
    total = format_seconds(result.timings.get("total"))
    if result.stopped_early:
        return (
            f"Stopped ({stop_reason or 'stopped'}) after {result.iterations_done}/"
            f"{result.plan.iterations} iterations in {total}; the current estimate is in '{sr_name}'."
        )
    schedule = result.plan.describe_loss_schedule()  # (which loss ran, and the noise level that chose it)
    if result.reconstruction == "fast":
        schedule = f"fast path: kernel from {result.tiles_done} textured tiles, then a non-blind solve"

    return f"Done: {result.iterations_done} iterations in {total} → '{sr_name}' and '{kernel_name}'; {schedule}."
