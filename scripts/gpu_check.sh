#!/usr/bin/env bash
# The GPU checks in one command, on a CUDA machine (fresh or not):
#
#   bash scripts/gpu_check.sh OUTDIR [--quick | --cpu-smoke]
#
# --quick: tiny sizes (minutes less). --cpu-smoke: no GPU needed: the same steps on the CPU
# (no gsplat build; gpu tests skip; benchmarks with --device cpu --quick), to check the script.
#
# 1. picks a Python whose torch sees a CUDA GPU (PYTHON, python3, .venv/bin/python); with
#    none and TORCH_INDEX_URL set, installs the pinned torch from that CUDA wheel index into
#    .venv-gpu/;
# 2. installs what the GPU path needs (requirements/gpu.txt: gsplat and its JIT-build needs)
#    when missing: from the wheels in $WHEELS (default .gpu_carry/wheels, for machines with no
#    network; scripts/gpu_carry.sh fills it) or else from the package index;
# 3. compiles gsplat's CUDA kernels once (for this GPU's architecture only, all cores);
# 4. runs the `gpu`-marked tests, then core/bench/gpu_check.py (gsplat vs PyTorch renderer,
#    fast mode CPU vs CUDA, throughput 4 and 8 views x 25 joints over 3000 frames, the
#    authors' schedule on 100 frames of a synthetic take and of Shelf).
# Writes into OUTDIR: gpu_check.log (everything printed), nvidia-smi.txt, gpu_tests.xml
# (JUnit), gpu_results.json, gpu_section.md (the docs/benchmarks.md GPU section) and
# summary.json (install/compile seconds, test counts, exit codes).
# GPU_CHECK_BUDGET_S: seconds for the whole script (the reference schedule is cut to fit).
# Data: SKELSPLAT_DATA (default: .gpu_carry/data when present, else ../shared/data).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:?usage: scripts/gpu_check.sh OUTDIR [--quick | --cpu-smoke]}"
MODE="${2:-}"
case "$MODE" in
  ""|--quick|--cpu-smoke) ;;
  *) echo "gpu_check.sh: unknown option $MODE (expected --quick or --cpu-smoke)"; exit 2 ;;
esac
BENCH_ARGS=()
[ "$MODE" = --quick ] && BENCH_ARGS=(--quick)
[ "$MODE" = --cpu-smoke ] && BENCH_ARGS=(--quick --device cpu)
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
exec > >(tee -a "$OUTDIR/gpu_check.log") 2>&1
cd "$ROOT"
T0=$(date +%s)
say() { echo "[gpu_check $(($(date +%s) - T0)) s] $*"; }

has_cuda_torch() {
  if [ "$MODE" = --cpu-smoke ]; then "$1" -c 'import torch' 2>/dev/null; return; fi
  "$1" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null
}

PY=""
for cand in "${PYTHON:-}" python3 "$ROOT/.venv/bin/python" "$ROOT/.venv-gpu/bin/python"; do
  [ -n "$cand" ] && command -v "$cand" >/dev/null 2>&1 || continue
  if has_cuda_torch "$cand"; then PY="$cand"; break; fi
done
if [ -z "$PY" ]; then
  if [ -z "${TORCH_INDEX_URL:-}" ]; then
    say "no Python here has a torch that sees a CUDA GPU; set PYTHON to one, or set" \
        "TORCH_INDEX_URL to the CUDA wheel index matching your driver (nvidia-smi shows its" \
        "CUDA version) to install torch==2.13.0 into .venv-gpu/"
    exit 2
  fi
  say "installing torch==2.13.0 from $TORCH_INDEX_URL into .venv-gpu/"
  python3 -m venv "$ROOT/.venv-gpu" && \
    "$ROOT/.venv-gpu/bin/python" -m pip install -q torch==2.13.0 --index-url "$TORCH_INDEX_URL" \
    && "$ROOT/.venv-gpu/bin/python" -m pip install -q -r requirements/base.txt pytest \
       pytest-timeout hypothesis || exit 2
  PY="$ROOT/.venv-gpu/bin/python"
  has_cuda_torch "$PY" || { say "the installed torch sees no CUDA GPU"; exit 2; }
fi
say "python: $PY"
nvidia-smi > "$OUTDIR/nvidia-smi.txt" 2>&1 || true
"$PY" - <<'EOF'
import torch
if not torch.cuda.is_available():
    raise SystemExit(f"torch {torch.__version__}: no CUDA GPU (CPU smoke run)")
p = torch.cuda.get_device_properties(0)
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {p.name}, "
      f"{p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}")
EOF

# --- what the GPU path needs ---------------------------------------------------------------
T_INSTALL=$(date +%s)
SITE="${SKELSPLAT_GPU_SITE:-/tmp/skelsplat-gpu-site}"
WHEELS="${WHEELS:-$ROOT/.gpu_carry/wheels}"
missing=$("$PY" - <<'EOF'
import importlib.util
need = ["gsplat", "jaxtyping", "rich", "ninja", "scipy", "tqdm", "pytest", "pytest_timeout",
        "hypothesis"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
EOF
)
if [ -n "$missing" ]; then
  say "missing: $missing"
  mkdir -p "$SITE"
  if [ -d "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$WHEELS"/*.whl
  else
    "$PY" -m pip install -q --target "$SITE" -r requirements/gpu.txt pytest pytest-timeout \
      hypothesis "scipy>=1.11" "tqdm>=4.66"
  fi
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
# The repository root is the package `skelsplat`: make it importable without installing.
if ! "$PY" -c 'import skelsplat.core' 2>/dev/null; then
  SHIM="$(mktemp -d)"
  ln -s "$ROOT" "$SHIM/skelsplat"
  export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}"
fi
INSTALL_S=$(($(date +%s) - T_INSTALL))
say "dependencies ready in ${INSTALL_S} s"

# --- gsplat's kernels: compiled once, for this GPU only -------------------------------------
T_BUILD=$(date +%s)
if [ "$MODE" = --cpu-smoke ]; then
  say "CPU smoke run: gsplat's CUDA kernels are not built"
  BUILD_RC=0
else
  CC_ARCH=$("$PY" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"{p.major}.{p.minor}")')
  export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-$CC_ARCH}"
  export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
  say "compiling gsplat for sm ${TORCH_CUDA_ARCH_LIST} with ${MAX_JOBS} jobs"
  "$PY" -c 'from gsplat.cuda._backend import _C; assert _C is not None, "gsplat CUDA build failed"'
  BUILD_RC=$?
fi
BUILD_S=$(($(date +%s) - T_BUILD))
say "gsplat build: exit ${BUILD_RC} in ${BUILD_S} s"

# --- gpu-marked tests ----------------------------------------------------------------------
mapfile -t GPU_TESTS < <(grep -l "pytest.mark.gpu" tests/test_*.py)
say "gpu tests in: ${GPU_TESTS[*]}"
"$PY" -m pytest -m gpu "${GPU_TESTS[@]}" -v -p no:cacheprovider \
  --junitxml "$OUTDIR/gpu_tests.xml"
TESTS_RC=$?
[ "$TESTS_RC" = 5 ] && [ "$MODE" = --cpu-smoke ] && TESTS_RC=0  # all skipped: no GPU

# --- benchmarks ----------------------------------------------------------------------------
DATA="${SKELSPLAT_DATA:-}"
if [ -z "$DATA" ]; then
  if [ -d "$ROOT/.gpu_carry/data" ]; then DATA="$ROOT/.gpu_carry/data"; else DATA="$ROOT/../shared/data"; fi
fi
say "benchmarks (data: $DATA)"
# GPU_CHECK_BUDGET_S (seconds, whole script): the reference section gets what is left of it,
# less a minute, and reports the frames it finished.
if [ -n "${GPU_CHECK_BUDGET_S:-}" ]; then
  LEFT=$((GPU_CHECK_BUDGET_S - ($(date +%s) - T0) - 60))
  [ "$LEFT" -lt 30 ] && LEFT=30
  BENCH_ARGS+=(--budget-s "$LEFT")
  say "benchmark budget: ${LEFT} s"
fi
PYTHONUNBUFFERED=1 "$PY" -m skelsplat.core.bench.gpu_check --data "$DATA" \
  --out "$OUTDIR/gpu_results.json" --markdown "$OUTDIR/gpu_section.md" "${BENCH_ARGS[@]}"
BENCH_RC=$?

"$PY" - "$OUTDIR" "$INSTALL_S" "$BUILD_S" "$BUILD_RC" "$TESTS_RC" "$BENCH_RC" "$T0" <<'EOF'
import json, sys, time, xml.etree.ElementTree as ET
from pathlib import Path
out, install_s, build_s, build_rc, tests_rc, bench_rc, t0 = sys.argv[1:]
tests = {}
xml = Path(out) / "gpu_tests.xml"
if xml.exists():
    suite = ET.parse(xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    n, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    tests = {"tests": n, "passed": n - f - e - s, "failed": f + e, "skipped": s}
json.dump({"install_s": int(install_s), "gsplat_build_s": int(build_s),
           "gsplat_build_rc": int(build_rc), "tests": tests, "tests_rc": int(tests_rc),
           "bench_rc": int(bench_rc), "total_s": int(time.time()) - int(t0)},
          open(Path(out) / "summary.json", "w"), indent=2)
EOF
say "done: build ${BUILD_RC}, tests ${TESTS_RC}, benchmarks ${BENCH_RC}; results in $OUTDIR"
[ "$BUILD_RC" = 0 ] && [ "$TESTS_RC" = 0 ] && [ "$BENCH_RC" = 0 ]
