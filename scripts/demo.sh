#!/usr/bin/env bash
# The main job: set up .venv (if needed) and run `skelsplat run` on the bundled demo take.
# Extra arguments go to `skelsplat run` (default output: ./skelsplat_out/demo).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/ensure_venv.sh demo
exec .venv/bin/skelsplat run "$@"
