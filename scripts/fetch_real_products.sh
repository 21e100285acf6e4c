#!/usr/bin/env bash
# Real mission products for tests/mission/test_real_product.py, from a package registry (no other downloads):
# the pds4-tools 1.4 source distribution ships a MAVEN IUVS L1a product (PDS4 label + FITS, 21x10x36).
# Usage: bash scripts/fetch_real_products.sh [DIR]   (default .cache/real-products; the test reads
# HACBSR_REAL_PRODUCTS or that default and skips when the files are absent).
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.cache/real-products}"
py="${PYTHON:-.venv/bin/python}"
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download "pds4-tools==1.4" --no-deps --no-binary :all: -d "$tmp" -q
tar xzf "$tmp"/pds4_tools-1.4.tar.gz -C "$tmp"
cp "$tmp"/pds4_tools-1.4/pds4_tools/tests/data/äf.xml "$tmp"/pds4_tools-1.4/pds4_tools/tests/data/äf.fits "$dest"/
echo "real products in $dest: $(ls "$dest" | tr '\n' ' ')"
