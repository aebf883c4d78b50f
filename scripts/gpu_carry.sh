#!/usr/bin/env bash
# Prepare .gpu_carry/ (git-ignored) for a GPU machine that cannot reach a package index:
# the wheels scripts/gpu_check.sh installs when they are missing there (gsplat is pure
# Python; its kernels are compiled on the GPU machine) and a copy of the benchmark data
# it reads (CMU clips, Shelf). Usage: bash scripts/gpu_carry.sh [PYTHON_VERSION (3.12)]
# Research data (Shelf) stay out of git: .gpu_carry/ is ignored and only travels to the
# GPU machine for the run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYV="${1:-3.12}"
DEST="$ROOT/.gpu_carry"
mkdir -p "$DEST/wheels" "$DEST/data"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  -d "$DEST/wheels" gsplat==1.5.3
for d in cmu_mocap_amc shelf_4dassoc; do
  if [ -d "$ROOT/../shared/data/$d" ]; then
    rm -rf "${DEST:?}/data/$d"
    cp -r "$ROOT/../shared/data/$d" "$DEST/data/$d"
  fi
done
du -sh "$DEST"
