"""Where the benchmarks read data and write results. Imports nothing of the engine, so that
`paper_preset_check` can run an older source tree that lacks today's modules."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# the shared data lies next to the checkout (../shared/data/); HACBSR_ANCHOR_DIR moves the anchor set
DEFAULT_HR_DIR = (REPO_ROOT.parent / "shared" / "data" / "planetary" / "hr").resolve()
ANCHOR_DIR = Path(os.environ.get("HACBSR_ANCHOR_DIR", DEFAULT_HR_DIR.parents[1] / "mlmc-anchor"))
BENCH_OUT = REPO_ROOT / "bench_out"
