"""What a batch did: one outcome per input, the totals, the exit status and the summary table."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Exit statuses of `hacbsr batch` (2, bad arguments, is decided before a report exists).
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


@dataclass
class BatchReport:
    """Outcome records (dicts with key, input, status, seconds, lr_consistency, worker, error, outputs).

    status is "done" (run now), "skipped" (done before with the same input and settings), "failed" or
    "cancelled" (stopped before it finished; the next run does it).
    """

    out_dir: Path
    manifest: Path
    items: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0
    dashboard: str | None = None
    interrupted: bool = False
    error: str | None = None  # why the batch ended early (the scheduler was lost); None when it did not

    def _status(self, status: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["status"] == status]

    @property
    def done(self) -> list[dict[str, Any]]:
        """The items that finished in this run."""
        return self._status("done")

    @property
    def skipped(self) -> list[dict[str, Any]]:
        """The items skipped: done before with the same input and settings."""
        return self._status("skipped")

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The items whose run raised an error."""
        return self._status("failed")

    @property
    def cancelled(self) -> list[dict[str, Any]]:
        """The items stopped before they finished."""
        return self._status("cancelled")

    @property
    def ok(self) -> bool:
        """Whether nothing failed, was cancelled or was interrupted."""
        return not (self.failed or self.cancelled or self.interrupted or self.error)

    @property
    def exit_code(self) -> int:
        """The CLI's exit status for this batch (interrupted, ok or failed)."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_OK if self.ok else EXIT_FAILED

    def summary(self) -> str:
        """One line: the counts, the wall time, the median time per item and the manifest's path."""
        seconds = [item["seconds"] for item in self.done if item.get("seconds") is not None]
        per_item = f"; {statistics.median(seconds):.1f} s per item (median, on a worker)" if seconds else ""
        cancelled = f", cancelled {len(self.cancelled)}" if self.cancelled else ""
        return (
            f"done {len(self.done)}, skipped {len(self.skipped)}, failed {len(self.failed)}{cancelled} "
            f"in {self.wall_seconds:.1f} s{per_item}; manifest {self.manifest}"
            f"{'' if self.error is None else '; ' + self.error}"
        )

    def table(self) -> str:
        """One row per input (status, seconds, LR-consistency MSE, worker, reason), then the totals."""
        rows = [("input", "status", "seconds", "LR-consistency", "worker / reason")]
        for item in self.items:
            lrc = item.get("lr_consistency")
            secs = item.get("seconds")
            rows.append(
                (
                    Path(item.get("input", item["key"])).name,
                    item["status"],
                    "" if secs is None else f"{secs:.1f}",
                    "" if lrc is None or (isinstance(lrc, float) and math.isnan(lrc)) else f"{lrc:.3e}",
                    " ".join(str(item.get("error") or item.get("worker") or "").split()),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4] for row in rows
        ]
        return "\n".join([*lines, self.summary()])
