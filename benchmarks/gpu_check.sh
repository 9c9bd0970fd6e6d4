#!/usr/bin/env bash
# One prepared check for any CUDA machine with torch and nvcc (no TensorRT needed), in under
# 5 minutes:
#   1. kernels/ci_compile.sh: every .cu for sm_87, sm_90 and the GPU found here; the host build
#   2. the kernel tests (tests/kernels: host build vs NumPy, and the `gpu` ones on the GPU)
#   3. benchmarks/gpu_check.py: fused preprocessing vs the torch op chain, side by side
# and writes benchmarks/results/gpu_check_<gpu>.md (+ .json, + the logs of each step).
#
# Usage: benchmarks/gpu_check.sh [--dry-run] [--out-dir DIR]
#   PYTHON=... picks the interpreter (default: .venv/bin/python if present, else python3); it
#   needs torch (a CUDA build on the GPU machine), numpy, pytest and this checkout importable.
#   --dry-run: no GPU here: compile, run the host tests (the gpu ones skip) and the benchmark's
#   CPU path, to check the script itself; the report says in its title that it is not a GPU run.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
dry=0
out="benchmarks/results"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) dry=1 ;;
        --out-dir) out="$2"; shift ;;
        *) echo "gpu_check: unknown argument $1 (use --dry-run, --out-dir DIR)" >&2; exit 2 ;;
    esac
    shift
done
py="${PYTHON:-}"
if [[ -z "$py" ]]; then
    if [[ -x .venv/bin/python ]]; then py=.venv/bin/python; else py="$(command -v python3 || true)"; fi
fi
if [[ -z "$py" ]] || ! "$py" -c "import torch, numpy, pytest" 2>/dev/null; then
    echo "gpu_check: need a Python with torch, numpy and pytest (set PYTHON=...)" >&2
    exit 2
fi
if ! command -v nvcc >/dev/null && [[ -z "${NVCC:-}" ]]; then
    echo "gpu_check: nvcc not found on PATH (set NVCC=... or install the CUDA toolkit)" >&2
    exit 2
fi
cap="$("$py" -c 'import torch; c = torch.cuda.get_device_capability() if torch.cuda.is_available() else None; print(f"{c[0]}{c[1]}" if c else "")' 2>/dev/null)"
if [[ -z "$cap" && $dry -eq 0 ]]; then
    echo "gpu_check: torch sees no CUDA GPU here; use --dry-run to check the script without one" >&2
    exit 2
fi
archs="87 90"
[[ -n "$cap" && " $archs " != *" $cap "* ]] && archs="$archs $cap"

mkdir -p "$out"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
steps=()
status=0
started=$SECONDS

step() {  # step NAME TIMEOUT_S COMMAND... : run, log, record ok/FAILED with its duration
    local name="$1" limit="$2"
    shift 2
    local t0=$SECONDS rc
    echo "== $name"
    timeout "$limit" "$@" >"$logs/$name.log" 2>&1
    rc=$?
    tail -n 5 "$logs/$name.log"
    local summary
    summary="$(grep -E '(passed|failed|skipped|error)' "$logs/$name.log" | tail -n 1 | tr -d '=|' | sed 's/^ *//')"
    if [[ $rc -eq 0 ]]; then
        steps+=("--step" "$name=ok in $((SECONDS - t0)) s${summary:+: $summary}")
    else
        [[ $rc -eq 124 ]] && summary="timed out after $limit s"
        steps+=("--step" "$name=FAILED (exit $rc) in $((SECONDS - t0)) s${summary:+: $summary}")
        status=1
    fi
    [[ $rc -ne 0 ]] && cp "$logs/$name.log" "$out/gpu_check_${name}.log"  # kept when it failed
}

CUDA_ARCHS="$archs" step compile 150 kernels/ci_compile.sh "$logs/build"
export VLA_EDGE_CACHE="$logs/cache"  # the tests build the kernels afresh for this machine
step kernel-tests 120 "$py" -m pytest -q -p no:cacheprovider tests/kernels -m "not slow" -rs
bench_args=(--out-dir "$out")
[[ $dry -eq 1 ]] && bench_args+=(--dry-run)
step bench 120 "$py" benchmarks/gpu_check.py "${bench_args[@]}" "${steps[@]}" \
    --step "archs=$archs" --step "total=$((SECONDS - started)) s before the benchmark"
echo "gpu_check: done in $((SECONDS - started)) s, exit $status (report under $out/)"
exit $status
