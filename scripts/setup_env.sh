#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install everything into it.
# Idempotent: a second run only re-installs when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
# torch and torchvision as a matched pair, installed first so that nothing pulls another torch:
# open_clip needs torchvision, and PyPI's torchvision does not import beside the CPU-only torch 2.13.0
# wheel. Both files lie on our machines' disk; elsewhere pip fetches them from PyPI.
if ! .venv/bin/python -c "import torch, torchvision" >/dev/null 2>&1; then
  $PIP install -q --upgrade pip
  $PIP install -q "torch==2.14.1" "torchvision==0.29.1"
fi
stamp=".venv/.napari-hacbsr-installed"
want=$(sha1sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c "import napari_hacbsr" >/dev/null 2>&1; then
  $PIP install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
