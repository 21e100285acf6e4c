#!/usr/bin/env bash
# The test suite on a fresh machine: environment, virtual display for napari, manifest check, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# napari's canvas needs an OpenGL display (pytest-xvfb starts Xvfb for the tests), and Qt's xcb
# platform plugin needs a few X libraries that a bare machine lacks.
system_packages="xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libgl1 libegl1"
missing=""
for pkg in $system_packages; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi
.venv/bin/npe2 validate napari-hacbsr --imports
# a real PDS4 product from a package registry for tests/mission/test_real_product.py (skipped if unavailable)
[ -n "$(ls .cache/real-products 2>/dev/null)" ] \
  || bash scripts/fetch_real_products.sh >/dev/null 2>&1 || echo "real PDS4 product unavailable: its test will skip"
exec .venv/bin/python -m pytest -m "not slow and not gpu" "$@"
