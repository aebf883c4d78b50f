#!/usr/bin/env bash
# The test command: set up .venv (if needed), lint, run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k calibration).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/ensure_venv.sh test
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
