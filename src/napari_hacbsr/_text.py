"""Small text helpers for the dock widgets' status lines and messages."""

from __future__ import annotations

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
