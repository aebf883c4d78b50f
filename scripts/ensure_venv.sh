#!/usr/bin/env bash
# Create .venv/ at the repository root when missing and install what a job needs.
# Usage: scripts/ensure_venv.sh REQUIREMENTS_NAME   (e.g. test, demo; see requirements/)
# Re-running is cheap: a stamp of the requirement files skips pip when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="${1:?requirements name}"
REQ="$ROOT/requirements/$NAME.txt"
VENV="$ROOT/.venv"

pick_python() {
  for cand in "${PYTHON:-}" python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 && \
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
      echo "$cand"; return 0
    fi
  done
  echo "SkelSplat needs Python 3.11 (bpy and the pinned torch wheel are cp311-only)." >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(pick_python)"
  echo "[skelsplat] creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.skelsplat-$NAME.stamp"
HASH="$(cat "$ROOT"/requirements/*.txt "$ROOT/pyproject.toml" "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)-$ROOT"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  exit 0
fi
echo "[skelsplat] installing requirements/$NAME.txt into .venv (first run takes ~1-2 min)" >&2
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# torch first, pinned to the CPU wheel on disk: later packages then never pull a CUDA build.
"${PIP[@]}" install "torch==2.13.0" 2> >(grep -v "is ignored: it is neither" >&2)
"${PIP[@]}" install -r "$REQ" 2> >(grep -v "is ignored: it is neither" >&2)
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT" 2> >(grep -v "is ignored: it is neither" >&2)
echo "$HASH" > "$STAMP"
