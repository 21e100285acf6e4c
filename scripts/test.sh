#!/usr/bin/env bash
# The test suite on a fresh machine: environment, virtual display for napari, manifest check, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
if ! command -v Xvfb >/dev/null 2>&1; then
  # napari's canvas needs an OpenGL display; pytest-xvfb starts Xvfb for the tests.
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq xvfb >/dev/null
fi
export NAPARI_HACBSR_NOPERSIST=1
.venv/bin/npe2 validate napari-hacbsr --imports
exec .venv/bin/python -m pytest -m "not slow and not gpu" "$@"
