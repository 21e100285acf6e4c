#!/usr/bin/env bash
# The main job on the bundled sample: super-resolve scikit-image's Moon, degraded by our simulator,
# and write the SR image, the kernel and a side-by-side PNG to out/demo/.
# GPU: the paper's schedule on the full image; CPU: a reduced schedule (see docs/user-guide.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/hacbsr demo -o out/demo "$@"
